"""Fixtures shared by the core runner tests (issue 2). See tests/helpers/ for the parts they drive.

Nothing here configures structlog or logging globally: each test that reads log
events gets a logger of its own from ``helpers.logs.capturing_logger``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

from helpers.logs import Captured, capturing_logger
from helpers.paths import AUTHRULES, DEFAULT_RULES, shared_case_candidates, shared_cases_dir
from helpers.wire import CaptureServer

from authrules import Runner

pytest_plugins = ["_secret_guard"]  # issue 3: no secret in any test's output or log files


@pytest.fixture(scope="session")
def shared_cases() -> Path:
    """The shared request cases; missing is a loud failure, never a skip."""
    found = shared_cases_dir()
    if found is None:
        pytest.fail("the shared request cases are missing: looked for expected.json in "
                    + ", ".join(str(c) for c in shared_case_candidates())
                    + " (CI lays shared/ beside the clone; set AUTHRULES_SHARED_CASES to point elsewhere)")
    return found


@pytest.fixture(scope="session")
def expected(shared_cases: Path) -> dict[str, dict[str, Any]]:
    return json.loads((shared_cases / "expected.json").read_text())


@pytest.fixture(scope="session")
def authrules_exe() -> Path:
    if not AUTHRULES.exists():
        pytest.fail(f"{AUTHRULES} is missing: run the tests with .venv/bin/python after `make install`")
    return AUTHRULES


@pytest.fixture
def default_runner() -> tuple[Runner, Captured]:
    """The repo's rules.toml with its installed plugins, logging into a list of its own."""
    logger, events = capturing_logger()
    return Runner.from_toml(DEFAULT_RULES, logger=logger), events


@pytest.fixture
def runner_from(tmp_path: Path) -> Callable[..., tuple[Runner, Captured]]:
    """Build a runner from TOML text written to a temporary rules.toml."""
    def build(toml: str, **options: Any) -> tuple[Runner, Captured]:
        path = tmp_path / "rules.toml"
        path.write_text(toml)
        logger, events = capturing_logger()
        return Runner.from_toml(path, logger=logger, **options), events
    return build


@pytest.fixture
def capture_server():
    with CaptureServer() as server:
        yield server
