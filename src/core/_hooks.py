"""The hooks a plugin implements. Every hook is named ``authrules_*``.

Plugins implement them with ``@authrules.hookimpl``. authrules calls each
plugin's implementation on its own (never one call that merges results), so
every contribution is known with the plugin that made it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

import pluggy

if TYPE_CHECKING:
    from ._types import RuleType

__all__ = ["PROJECT", "hookimpl", "hookspec", "HookSpecs"]

PROJECT = "authrules"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class HookSpecs:
    """Hook specifications; see docs/plugins.md for each hook with an example."""

    @hookspec
    def authrules_rule_types(self) -> Iterable["RuleType"]:
        """Return the rule types this plugin offers, each a ``RuleType``.

        Called once when a runner loads. Rule type names are global: two
        plugins offering the same name is an error that names both.
        """
        raise NotImplementedError
