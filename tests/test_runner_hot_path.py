"""The per-request path of ``Runner.evaluate`` after its speed work (issue 5): same answers, same events.

``evaluate`` builds decisions with ``tuple.__new__`` rather than
``Decision(...)``, walks ``Pipeline.plan`` instead of ``Pipeline.steps`` and
skips the decision event when the host filters INFO out; these tests pin that
each gives exactly what the plain code gave. No timing here: speed lives in
benchmarks/ (``make bench``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
import structlog

import authrules._runner as runner_module
from authrules import Decision, Deny, Limits, Request, RuleType, Runner, hookimpl
from helpers.logs import capturing_logger

ALLOWED = (b"GET /authorize?client_id=c1&scope=openid+email&audience=https%3A%2F%2Fapi.example.com"
           b" HTTP/1.1\r\nHost: as.example.com\r\n\r\n")
DENIED = ALLOWED.replace(b"client_id=c1", b"client_id=blocked")
VALUES = ("deny", "id-1", "r", "t", 401, "unauthorized", "no", "c1", ("https://a",), ("openid",),
          ("openid", "email"), "token", "client_credentials")


def test_the_fast_builder_makes_the_same_immutable_decision():
    built = runner_module._new(Decision, VALUES)
    plain = Decision(*VALUES)
    assert type(built) is Decision
    assert built == plain and hash(built) == hash(plain) and tuple(built) == VALUES
    assert built._asdict()["grant_type"] == "client_credentials" and built.allowed is False
    with pytest.raises(AttributeError):
        built.outcome = "allow"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        built.extra = 1  # type: ignore[attr-defined]
    assert built._replace(outcome="allow").allowed and built.outcome == "deny"


def test_decision_keyword_construction_and_defaults():
    decision = Decision(outcome="allow", decision_id="x-1", client_id="c")
    assert (decision.rule, decision.status, decision.scopes, decision.grant_type) == (None, 200, (), None)
    assert list(decision.to_dict()) == ["outcome", "rule", "rule_type", "status", "error", "error_description",
                                        "client_id", "audiences", "scopes", "decision_id"]


def _never(request, settings):
    return None


@dataclass(frozen=True)
class _Clients:
    clients: frozenset[str] = frozenset({"blocked"})


def _block(request, settings):
    return Deny("unauthorized", "blocked client", 401) if request.client_id in settings.clients else None


class _Plugin:
    @hookimpl
    def authrules_rule_types(self):
        return [RuleType("never", _never), RuleType("block", _block, _Clients)]


def _runner(logger, **kw):
    rules = [{"name": "first", "type": "never"}, {"name": "blocker", "type": "block"},
             {"name": "last", "type": "never"}]
    return Runner.from_dict({"rules": rules, **kw}, plugins=[_Plugin()], autoload=False, logger=logger)


def test_plan_mirrors_steps_in_order():
    runner = _runner(capturing_logger()[0])
    plan = runner._pipeline.plan
    assert [entry[-1] for entry in plan] == list(runner.steps)
    assert all(type(entry) is tuple and entry[:7] == tuple(step)[:7] for entry, step in zip(plan, runner.steps))


def test_decisions_and_events_are_what_the_rules_say():
    log, events = capturing_logger()
    runner = _runner(log)
    allowed = runner.evaluate(Request.from_http(ALLOWED))
    denied = runner.evaluate(Request.from_http(DENIED))
    assert allowed == Decision("allow", allowed.decision_id, None, None, 200, None, None, "c1",
                               ("https://api.example.com",), ("openid", "email"), ("openid", "email"),
                               "authorize", None)
    assert denied == Decision("deny", denied.decision_id, "blocker", "block", 401, "unauthorized",
                              "blocked client", "blocked", ("https://api.example.com",), ("openid", "email"),
                              ("openid", "email"), "authorize", None)
    assert events.rule_order() == ["first", "blocker", "last", "first", "blocker"]
    decided = events.named("authrules.decision")
    assert [list(e) for e in decided] == [
        ["decision_id", "outcome", "rule", "rule_type", "status", "error", "error_description", "client_id",
         "audiences", "scopes_requested", "scopes_granted", "endpoint", "grant_type", "duration_us", "event",
         "level"]] * 2
    assert decided[0]["scopes_granted"] == ("openid", "email") and decided[1]["scopes_granted"] == ()
    assert [e["decision_id"] for e in decided] == [allowed.decision_id, denied.decision_id]


def test_malformed_and_foreign_limit_requests_still_get_invalid_request():
    log, events = capturing_logger()
    runner = _runner(log, limits={"max_params": 2})
    malformed = runner.evaluate(Request.from_http(b"GET /authorize?scope=%ZZ HTTP/1.1\r\nHost: a\r\n\r\n"))
    assert (malformed.outcome, malformed.error, malformed.rule) == ("deny", "invalid_request", None)
    # Parsed under the default (looser) limits: re-checked against this runner's, before any rule runs.
    loose = runner.evaluate(Request.from_http(ALLOWED, limits=Limits()))
    assert (loose.outcome, loose.error, loose.status) == ("deny", "invalid_request", 400)
    assert events.rule_order() == []
    # The same request under the runner's own limits object is not re-checked, and the rules run.
    assert runner.evaluate(runner.parse(ALLOWED.replace(b"&audience=https%3A%2F%2Fapi.example.com", b""))).allowed


class _Raises:
    @hookimpl
    def authrules_rule_types(self):
        def broken(request, settings):
            raise RuntimeError("boom")
        return [RuleType("broken", broken)]


@pytest.mark.parametrize("level,wanted", [(10, ["authrules.rule"] * 3 + ["authrules.decision"]),
                                          (20, ["authrules.decision"]), (30, []), (40, [])])
def test_events_below_the_hosts_level_are_not_made_and_the_rest_still_are(level, wanted):
    """evaluate asks the logger which levels it wants; a failing rule's ERROR event is logged at any of these."""
    log, events = capturing_logger(level)
    runner = _runner(log)
    for evaluate in (runner.evaluate, lambda r: asyncio.run(runner.evaluate_async(r))):
        events.clear()
        assert evaluate(Request.from_http(ALLOWED)).allowed
        assert [e["event"] for e in events] == wanted
    broken = Runner.from_dict({"rules": [{"name": "b", "type": "broken"}]}, plugins=[_Raises()], autoload=False,
                              logger=log)
    events.clear()
    decision = broken.evaluate(Request.from_http(ALLOWED))
    assert (decision.outcome, decision.error) == ("deny", "server_error")
    assert [(e["event"], e["level"]) for e in events] == [("authrules.rule", "error")] + (
        [("authrules.decision", "info")] if level <= 20 else [])


def test_a_logger_without_is_enabled_for_gets_every_event():
    events = []

    class Plain:  # e.g. a logger a host passes with no level introspection
        def debug(self, event, **kw):
            events.append(("debug", event))

        def info(self, event, **kw):
            events.append(("info", event))

    runner = _runner(Plain())
    runner.evaluate(Request.from_http(ALLOWED))
    assert events == [("debug", "authrules.rule")] * 3 + [("info", "authrules.decision")]


def _configure(level: int, cache: bool, seen: list[str]) -> None:
    def keep(_logger, method, event):
        seen.append(event["event"])
        raise structlog.DropEvent

    structlog.configure(processors=[keep], wrapper_class=structlog.make_filtering_bound_logger(level),
                        cache_logger_on_first_use=cache)


def test_a_host_that_reconfigures_structlog_is_honoured_on_the_next_request():
    """Without cache_logger_on_first_use, each request asks the host's current configuration."""
    seen: list[str] = []
    try:
        _configure(30, False, seen)
        runner = _runner(None)  # structlog.get_logger("authrules"): the host's configuration
        runner.evaluate(Request.from_http(ALLOWED))
        assert seen == []
        _configure(20, False, seen)
        runner.evaluate(Request.from_http(ALLOWED))
        assert seen == ["authrules.decision"]
        _configure(10, False, seen)
        runner.evaluate(Request.from_http(ALLOWED))
        assert seen == ["authrules.decision"] + ["authrules.rule"] * 3 + ["authrules.decision"]
    finally:
        structlog.reset_defaults()


def test_a_logger_structlog_has_cached_is_asked_once():
    """With cache_logger_on_first_use the logger, and its class's level, can no longer change: kept."""
    seen: list[str] = []
    try:
        _configure(20, True, seen)
        runner = _runner(None)
        runner.evaluate(Request.from_http(ALLOWED))
        cached = runner._log_cache
        assert cached is not None and cached[1] is cached[0] and cached[2] is False
        _configure(10, True, seen)  # too late for a cached logger, as structlog documents
        runner.evaluate(Request.from_http(ALLOWED))
        assert seen == ["authrules.decision"] * 2 and runner._log_cache is cached
    finally:
        structlog.reset_defaults()


def test_a_stdlib_backed_logger_is_asked_every_time():
    import logging

    std = logging.getLogger("authrules-hot-path-test")
    std.addHandler(logging.NullHandler())
    std.propagate = False
    log = structlog.wrap_logger(std, wrapper_class=structlog.stdlib.BoundLogger,
                                processors=[structlog.processors.JSONRenderer()])
    runner = _runner(log)
    runner.evaluate(Request.from_http(ALLOWED))
    assert runner._log_cache is None  # its level lives in the stdlib logger, which may change
