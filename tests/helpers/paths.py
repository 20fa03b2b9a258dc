"""Where things are: the repo, the venv the tests run in, and the shared cases."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_RULES = REPO / "rules.toml"
EXAMPLE_REQUESTS = REPO / "examples" / "requests"
EXAMPLE_PLUGINS = REPO / "examples" / "plugins"

#: pytest runs under .venv/bin/python, so the ``authrules`` script sits beside it.
VENV_BIN = Path(sys.executable).parent
AUTHRULES = VENV_BIN / "authrules"

#: Set to a folder to read the shared cases from somewhere else.
ENV_SHARED_CASES = "AUTHRULES_SHARED_CASES"


def shared_case_candidates() -> list[Path]:
    """``<clone>/../shared/cases/requests`` first (how CI lays it out), then the workplace path."""
    found = []
    if os.environ.get(ENV_SHARED_CASES):
        found.append(Path(os.environ[ENV_SHARED_CASES]))
    found.append(REPO.parent / "shared" / "cases" / "requests")
    found.append(Path("/work/shared/cases/requests"))
    return found


def shared_cases_dir() -> Path | None:
    for candidate in shared_case_candidates():
        if (candidate / "expected.json").is_file():
            return candidate.resolve()
    return None
