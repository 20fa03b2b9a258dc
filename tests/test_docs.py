"""Every hook is documented in docs/plugins.md and exercised by a test (datasette's rule)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from authrules._hooks import HookSpecs

ROOT = Path(__file__).resolve().parent.parent
HOOKS = sorted(name for name, _ in inspect.getmembers(HookSpecs, inspect.isfunction)
               if name.startswith("authrules_"))


def test_hooks_are_found():
    assert HOOKS, "no authrules_* hookspecs found"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented(hook):
    docs = (ROOT / "docs" / "plugins.md").read_text()
    assert re.search(rf"^### `{hook}`$", docs, re.M), f"docs/plugins.md has no '### `{hook}`' section"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test(hook):
    users = [p.name for p in (ROOT / "tests").rglob("test_*.py")
             if p.name != "test_docs.py" and hook in p.read_text()]
    assert users, f"no test in tests/ implements or calls {hook}"


def test_readme_shows_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
