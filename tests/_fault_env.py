"""Helpers for the fault, trust and log tests: the misbehaving plugins, installed for real.

``fault_env(tmp_path_factory)`` builds, once per test session, a throwaway venv
(``python -m venv --without-pip``) whose ``.pth`` file adds the project's
``.venv`` site-packages (so authrules and the first-party plugins import), then
pip-installs every distribution under ``tests/fault_plugins/`` into it the way a
user installs a plugin: ``pip --python <venv>/bin/python install <folder>``.
Tests then run ``<venv>/bin/python -m authrules ...`` or a short driver script
with that interpreter.

``fault_module(name)`` imports the same plugin source in-process, for the fast
matrix that registers plugins with ``Runner(plugins=[...])``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
FAULT_PLUGINS = TESTS / "fault_plugins"
DISTRIBUTIONS = ("raise", "garbage", "slow", "mutate", "marker", "impostor")

_lock = threading.Lock()
_env: "FaultEnv | None" = None
_modules: dict[str, ModuleType] = {}


def shared_cases() -> Path:
    """``shared/cases/requests``: beside the repo (``<repo>/../shared``), else ``/work/shared``."""
    for base in (REPO.parent / "shared", Path("/work/shared")):
        cases = base / "cases" / "requests"
        if (cases / "expected.json").is_file():
            return cases
    raise FileNotFoundError("shared/cases/requests/expected.json not found beside the repo or in /work/shared")


def expected_cases() -> dict[str, dict[str, Any]]:
    return json.loads((shared_cases() / "expected.json").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class FaultEnv:
    python: Path
    site: Path

    def run(self, *args: str, env: dict[str, str] | None = None, input: bytes | None = None,
            timeout: float = 60, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
        """Run ``<venv>/bin/python *args`` with a clean authrules environment."""
        full = {k: v for k, v in os.environ.items() if not k.startswith("AUTHRULES_")}
        full.pop("PYTHONPATH", None)
        if os.environ.get("FAULT_ENV_PYTHONPATH"):  # to check that a test fails against a broken copy of the core
            full["PYTHONPATH"] = os.environ["FAULT_ENV_PYTHONPATH"]
        full.update(env or {})
        return subprocess.run([str(self.python), *args], capture_output=True, input=input, env=full,
                              timeout=timeout, cwd=cwd)

    def authrules(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        return self.run("-m", "authrules", *args, **kwargs)


def _build(base: Path) -> FaultEnv:
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    project_site = sysconfig.get_paths()["purelib"]  # the project's .venv, running these tests
    # addsitedir (not a bare path line) so .venv's own .pth files, the editable installs, are processed too.
    (site / "_authrules_project_venv.pth").write_text(f"import site; site.addsitedir({project_site!r})\n")
    sources = base / "src"
    for name in DISTRIBUTIONS:  # build from a copy: the source tree stays clean, parallel runs don't collide
        shutil.copytree(FAULT_PLUGINS / name, sources / name, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", *(str(sources / n) for n in DISTRIBUTIONS)],
                   check=True, capture_output=True, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    return FaultEnv(python, site)


def fault_env(tmp_path_factory: Any) -> FaultEnv:
    """The session's venv with every fault plugin installed (built on first use)."""
    global _env
    with _lock:
        if _env is None:
            _env = _build(tmp_path_factory.mktemp("fault-env"))
        return _env


def fault_module(name: str) -> ModuleType:
    """Import ``tests/fault_plugins/<name>/authrules_fault_<name>.py`` in-process (once)."""
    with _lock:
        if name not in _modules:
            path = FAULT_PLUGINS / name / f"authrules_fault_{name}.py"
            spec = importlib.util.spec_from_file_location(f"authrules_fault_{name}", path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
            _modules[name] = module
        return _modules[name]
