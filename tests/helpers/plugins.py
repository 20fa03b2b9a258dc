"""Plugins for tests: in-process plugin objects, and real distributions written to disk.

``site_dist`` writes a module and its ``*.dist-info`` (METADATA and
entry_points.txt) into a folder: a process with that folder on its path finds
the plugin through ``importlib.metadata`` exactly as it finds a pip-installed
one, with no install step. ``project`` writes a folder with its own
pyproject.toml for a real ``pip install``.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from authrules import Deny, RemoveScopes, RuleType, hookimpl


def site_dist(site: Path, dist: str, module: str, source: str, *, entry_point: str | None = None,
              version: str = "1.0.0", value: str | None = None) -> Path:
    """Write ``module.py`` and ``<dist>-<version>.dist-info`` declaring it under the ``authrules`` group."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[authrules]\n{entry_point or dist} = {value or module}\n")
    return site


def project(folder: Path, dist: str, module: str, source: str, *, entry_point: str, version: str = "1.0.0",
            description: str = "") -> Path:
    """A plugin project in its own folder: pyproject.toml (setuptools) and one module."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = ["setuptools>=70.1"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{dist}"
        version = "{version}"
        description = "{description}"
        requires-python = ">=3.11"
        dependencies = ["authrules>=0.1,<0.2"]

        [project.entry-points.authrules]
        {entry_point} = "{module}"

        [tool.setuptools]
        py-modules = ["{module}"]
        """))
    (folder / f"{module}.py").write_text(textwrap.dedent(source))
    return folder


#: A plugin module whose import writes a marker file: proof of whether it was imported at all.
MARKER_PLUGIN = """\
    import os
    from pathlib import Path

    from authrules import RuleType, hookimpl

    Path(os.environ["AUTHRULES_TEST_MARKER"]).write_text("imported")


    def marker_rule(request, settings):
        return None


    @hookimpl
    def authrules_rule_types():
        return [RuleType("marker-pass", marker_rule)]
    """

#: A plugin module that cannot be imported: it needs a module that does not exist.
BROKEN_PLUGIN = """\
    import authrules_no_such_dependency  # noqa: F401

    from authrules import RuleType, hookimpl


    @hookimpl
    def authrules_rule_types():
        return [RuleType("broken-type", lambda request, settings: None)]
    """


def clash_plugin(rule_type: str) -> str:
    """Source of a plugin module offering a rule type named ``rule_type`` (to clash with another)."""
    return f"""\
    from authrules import RuleType, hookimpl


    @hookimpl
    def authrules_rule_types():
        return [RuleType({rule_type!r}, lambda request, settings: None)]
    """


# -- in-process plugins ------------------------------------------------------------------


@dataclass(frozen=True)
class ScopeSettings:
    scope: str


def deny_scope(request, settings: ScopeSettings):
    """Deny when the client asks for ``settings.scope``."""
    return Deny("invalid_scope", "scope not allowed", 400) if settings.scope in request.scopes else None


@dataclass(frozen=True)
class RemoveSettings:
    remove: frozenset[str]


def remove_scopes(request, settings: RemoveSettings):
    extra = settings.remove.intersection(request.scopes)
    return RemoveScopes(extra) if extra else None


def passing(request, settings):
    return None


class TypesPlugin:
    """An in-process plugin offering the given rule types."""

    def __init__(self, *types: RuleType) -> None:
        self.types = list(types)

    @hookimpl
    def authrules_rule_types(self):
        return self.types


def types_plugin(*named: tuple[str, Callable[..., object], type | None]) -> TypesPlugin:
    return TypesPlugin(*(RuleType(name, rule, settings) for name, rule, settings in named))
