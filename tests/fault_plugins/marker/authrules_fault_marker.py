"""A plugin whose import leaves a trace: the trust tests prove it was never imported.

On import it appends its module name to the file named by
``AUTHRULES_FAULT_IMPORT_LOG`` (when set). 
"""

from __future__ import annotations

import os

from authrules import Request, RuleType, hookimpl

_LOG = os.environ.get("AUTHRULES_FAULT_IMPORT_LOG")
if _LOG:
    with open(_LOG, "a", encoding="utf-8") as handle:
        handle.write(__name__ + "\n")


def passes(request: Request, settings: None) -> None:
    return None


@hookimpl
def authrules_rule_types() -> list[RuleType]:
    return [RuleType("fault-marker", passes, None, description="passes; importing it leaves a trace")]
