"""Every shared request case gets the decision its expected.json gives, by CLI and by Python API.

The cases live in ``<clone>/../shared/cases/requests`` (read-only, used as is).
Each is checked through ``authrules eval`` (a subprocess of .venv's command:
stdout keys, exit codes, and no secret anywhere in stdout or stderr with debug
logging in JSON and console formats) and through ``Runner.from_toml``,
``Request.from_http`` and ``runner.evaluate``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from helpers import cli
from helpers.logs import capturing_logger
from helpers.paths import DEFAULT_RULES, EXAMPLE_REQUESTS, shared_cases_dir
from helpers.wire import to_bare_lf

from authrules import Request, Runner

_DIR = shared_cases_dir()
CASES = sorted(p.stem for p in _DIR.glob("*.http")) if _DIR else []
case_param = pytest.mark.parametrize("case", CASES or [pytest.param(None, id="shared-cases-missing")])


def _need(case: str | None, shared_cases: Path) -> Path:
    assert case is not None  # unreachable: the shared_cases fixture fails first when the folder is missing
    return shared_cases / f"{case}.http"


def check_decision(got: dict[str, Any], want: dict[str, Any], label: str) -> None:
    assert got["outcome"] == want["outcome"], label
    if want["outcome"] == "allow":
        assert (got["rule"], got["rule_type"], got["status"], got["error"], got["error_description"]) == \
            (None, None, 200, None, None), label
    else:
        assert got["error"] and 400 <= got["status"] <= 599, label
    if "rule_type" in want:
        assert got["rule_type"] == want["rule_type"], label
        assert got["rule"], label  # a rule type decided, so a named rule did
    if "client_id" in want:
        assert got["client_id"] == want["client_id"], label
    if "scopes" in want:
        assert list(got["scopes"]) == list(want["scopes"]), label
    assert isinstance(got["decision_id"], str) and got["decision_id"], label


def assert_no_secrets(text: str, secrets: list[str], label: str) -> None:
    for value in secrets:
        assert value not in text, f"{label}: secret {value!r} leaked"


# -- the set of cases itself ---------------------------------------------------------------


def test_every_case_has_an_expectation_and_every_expectation_a_case(shared_cases, expected):
    files = {p.stem for p in shared_cases.glob("*.http")}
    assert files, f"no .http files in {shared_cases}"
    assert files == set(expected), (sorted(files - set(expected)), sorted(set(expected) - files))


def test_examples_shipped_in_the_repo_are_the_shared_cases(shared_cases):
    """`make demo` evaluates examples/requests/; they must be the cases the tests check."""
    shipped = {p.name: p.read_bytes() for p in EXAMPLE_REQUESTS.glob("*.http")}
    shared = {p.name: p.read_bytes() for p in shared_cases.glob("*.http")}
    assert shipped == shared


# -- Python API ----------------------------------------------------------------------------


@case_param
def test_python_api_decides_each_case(case, shared_cases, expected):
    path = _need(case, shared_cases)
    want = expected[case]
    logger, events = capturing_logger()
    runner = Runner.from_toml(DEFAULT_RULES, logger=logger)
    request = Request.from_http(path.read_bytes())
    decision = runner.evaluate(request)
    got = decision.to_dict()
    check_decision(got, want, case)
    assert decision.outcome in ("allow", "deny") and decision.allowed == (decision.outcome == "allow")
    assert (decision.rule, decision.rule_type, decision.status, decision.client_id, decision.decision_id) == \
        (got["rule"], got["rule_type"], got["status"], got["client_id"], got["decision_id"])
    assert list(decision.audiences) == got["audiences"] and list(decision.scopes) == got["scopes"]

    # one decision event, with the fields the issue lists, for this decision id
    (event,) = events.named("authrules.decision")
    assert event["decision_id"] == decision.decision_id
    assert event["outcome"] == decision.outcome and event["rule"] == decision.rule
    assert event["rule_type"] == decision.rule_type and event["client_id"] == decision.client_id
    for key in ("error", "audiences", "scopes_requested", "scopes_granted", "endpoint", "grant_type",
                "duration_us"):
        assert key in event, key
    # one event per rule evaluated, up to the deciding one, all with the same decision id
    rules = events.named("authrules.rule")
    assert all(e["decision_id"] == decision.decision_id for e in rules)
    if decision.error == "invalid_request":
        assert rules == []  # malformed: no rule ran
    else:
        order = [s.name for s in runner.steps]
        ran = order if decision.rule is None else order[:order.index(decision.rule) + 1]
        assert events.rule_order() == ran
        assert {e["rule_type"] for e in rules} <= {s.type for s in runner.steps}
        assert all({"result", "duration_us"} <= set(e) for e in rules)

    secrets = want.get("secrets", [])
    assert_no_secrets(events.rendered(), secrets, f"{case} log events")
    assert_no_secrets(json.dumps(got) + repr(decision) + repr(request), secrets, f"{case} decision/request repr")


@case_param
def test_bare_lf_copy_of_each_case_gets_the_same_decision(case, shared_cases, default_runner):
    """RFC 9112 2.2 lets a recipient read a bare LF as a line end: the decision must not change."""
    raw = _need(case, shared_cases).read_bytes()
    runner, _ = default_runner
    crlf = runner.evaluate(Request.from_http(raw)).to_dict()
    lf = runner.evaluate(Request.from_http(to_bare_lf(raw))).to_dict()
    crlf.pop("decision_id"), lf.pop("decision_id")
    assert lf == crlf


# -- authrules eval --------------------------------------------------------------------------


@pytest.mark.parametrize("log_format", ["json", "console"])
def test_eval_all_cases_in_one_run(log_format, shared_cases, expected, authrules_exe):
    files = sorted(shared_cases.glob("*.http"))
    result = cli.run(["eval", "--config", DEFAULT_RULES, "--log-format", log_format, "--log-level", "debug",
                      *files])
    assert result.returncode == (0 if all(expected[f.stem]["outcome"] == "allow" for f in files) else 1), \
        result.describe()
    assert [d["request"] for d in result.decisions] == [str(f) for f in files]
    assert len(result.stdout.splitlines()) == len(files)  # nothing but one JSON object per request
    for decision in result.decisions:
        assert tuple(decision) == cli.DECISION_KEYS
        check_decision(decision, expected[Path(decision["request"]).stem], decision["request"])
    assert len({d["decision_id"] for d in result.decisions}) == len(files)
    every_secret = [s for want in expected.values() for s in want.get("secrets", [])]
    assert_no_secrets(result.output, every_secret, f"eval --log-format {log_format}")
    if log_format == "json":
        events = result.log_events()  # every stderr line is one JSON object
        assert [e["decision_id"] for e in events if e["event"] == "authrules.decision"] == \
            [d["decision_id"] for d in result.decisions]
        assert any(e["event"] == "authrules.rule" for e in events)  # debug: one event per rule
    else:
        lines = result.stderr.splitlines()
        assert sum("authrules.decision" in line for line in lines) == len(files)
        assert all(not line.lstrip().startswith("{") for line in lines)


@case_param
def test_eval_each_case_from_stdin_sets_the_exit_code(case, shared_cases, expected, authrules_exe):
    path = _need(case, shared_cases)
    want = expected[case]
    result = cli.run(["eval", "--config", DEFAULT_RULES, "--log-level", "debug", "-"], stdin=path.read_bytes())
    assert result.returncode == (0 if want["outcome"] == "allow" else 1), result.describe()
    (decision,) = result.decisions
    assert tuple(decision) == cli.DECISION_KEYS and decision["request"] == "-"
    check_decision(decision, want, case)
    assert_no_secrets(result.output, want.get("secrets", []), case)
