"""The engines compared, each deciding the same ``Request`` objects the same way.

Every engine is built by ``build(name)`` *after* structlog is configured, and
offers:

* ``decide(request)``: one decision, with its log event, as a host would call it;
* ``round(mix)``: every request of the mix once (the timed unit);
* ``explain(request)``: ``(outcome, rule)`` for the equality check, where
  ``rule`` is the rules.toml rule that denied (or None on allow).

Engines other than authrules log the same ``authrules.decision`` event with the
same keys (``common.log_decision``), and number decisions the same way, so each
column compares like with like. Translating a ``Request`` into the peer's input
(casbin's strings, Cedar's request dict) is per-request host work and is timed.
"""

from __future__ import annotations

import itertools
import os
from time import perf_counter_ns
from typing import Any, Callable

import structlog

from authrules import Request, Runner, audience_key

from .common import RULES, log_decision

POLICIES = os.path.join(os.path.dirname(__file__), "policies")
NAMES = ("inline", "authrules", "pycasbin", "pycasbin-cached", "cedarpy", "cedarpy-batch")
PEERS = ("pycasbin", "pycasbin-cached", "cedarpy", "cedarpy-batch")
DEBUG = 10

# The default rules.toml, written out by hand for the inline engine.
AUDIENCE_RULE = ("deny-todo-api", "audience-deny")
CLIENT_RULE = ("deny-client", "client-deny")
DENIED_AUDIENCE_KEYS = frozenset({audience_key("http://todoapi2.api")})
DENIED_CLIENTS = frozenset({"CLIENT_ID"})
DENY = (401, "unauthorized", "end_users_not_allowed")


class Engine:
    name: str
    decide: Callable[[Request], Any]
    library: str = ""
    tuning: str = ""

    def round(self, mix: list[Request]) -> None:
        decide = self.decide
        for request in mix:
            decide(request)

    def explain(self, request: Request) -> tuple[str, str | None]:
        raise NotImplementedError


def _ids() -> Callable[[], str]:
    prefix = os.urandom(6).hex()
    counter = itertools.count(1)
    return lambda: f"{prefix}-{next(counter):x}"


# -- 1. inline: the practical limit -------------------------------------------------------------

class Inline(Engine):
    """Hand-written checks of the default rules.toml, the same log events, nothing else.

    Everything authrules does per request that a hand-written check also needs
    (a decision id, a duration, the decision event with the same keys, per-rule
    DEBUG events when DEBUG is on) and nothing more: no rule table, no
    context variable, no Decision object (a plain tuple).
    """

    name = "inline"
    tuning = "hand-written if/elif over the request, logger bound once, result is a tuple"

    def __init__(self) -> None:
        log = structlog.get_logger("authrules").bind()
        trace = log.is_enabled_for(DEBUG)
        prefix = os.urandom(6).hex()
        counter = itertools.count(1)
        keys, clients = DENIED_AUDIENCE_KEYS, DENIED_CLIENTS
        status, error, description = DENY

        def decide(request: Request) -> tuple[Any, ...]:
            start = perf_counter_ns()
            did = f"{prefix}-{next(counter):x}"
            if request.problem is not None:
                result = ("deny", None, None, request.problem_status, "invalid_request", request.problem, did)
            elif not request.audience_keys or not keys.isdisjoint(request.audience_keys):
                if trace:
                    log.debug("authrules.rule", decision_id=did, rule="deny-todo-api", rule_type="audience-deny",
                              result="deny", duration_us=0)
                result = ("deny", "deny-todo-api", "audience-deny", status, error, description, did)
            else:
                if trace:
                    log.debug("authrules.rule", decision_id=did, rule="deny-todo-api", rule_type="audience-deny",
                              result="pass", duration_us=0)
                if request.client_id in clients:
                    if trace:
                        log.debug("authrules.rule", decision_id=did, rule="deny-client", rule_type="client-deny",
                                  result="deny", duration_us=0)
                    result = ("deny", "deny-client", "client-deny", status, error, description, did)
                else:
                    if trace:
                        log.debug("authrules.rule", decision_id=did, rule="deny-client", rule_type="client-deny",
                                  result="pass", duration_us=0)
                    result = ("allow", None, None, 200, None, None, did)
            outcome = result[0]
            log.info("authrules.decision", decision_id=did, outcome=outcome, rule=result[1], rule_type=result[2],
                     status=result[3], error=result[4], error_description=result[5], client_id=request.client_id,
                     audiences=request.audiences, scopes_requested=request.scopes,
                     scopes_granted=request.scopes if outcome == "allow" else (), endpoint=request.endpoint,
                     grant_type=request.grant_type, duration_us=(perf_counter_ns() - start) // 1000)
            return result

        self.decide = decide

    def explain(self, request: Request) -> tuple[str, str | None]:
        result = self.decide(request)
        return result[0], result[1]


# -- 2. authrules ---------------------------------------------------------------------------------

class Authrules(Engine):
    name = "authrules"
    tuning = "Runner.from_toml('rules.toml') with the two first-party plugins; Runner.evaluate"

    def __init__(self) -> None:
        self.runner = Runner.from_toml(RULES)
        self.decide = self.runner.evaluate

    def explain(self, request: Request) -> tuple[str, str | None]:
        decision = self.runner.evaluate(request)
        return decision.outcome, decision.rule


# -- 3. pycasbin ------------------------------------------------------------------------------------

_NO_AUDIENCE = ("<none>",)


def _casbin_rule(row: list[str]) -> str | None:
    if not row or row[2] != "deny":
        return None
    return "deny-client" if row[0] != "*" else "deny-todo-api"


class Casbin(Engine):
    """pycasbin's Enforcer, model and policy loaded once; one ``enforce`` per audience."""

    name = "pycasbin"
    tuning = ("casbin.Enforcer built once from model.conf + policy.csv (logging off, its default); "
              "enforce(client, audience_key) per audience, deny on the first false")

    def __init__(self, cached: bool = False) -> None:
        import casbin

        self.library = f"pycasbin {_version('pycasbin')}"
        self.enforcer = casbin.Enforcer(os.path.join(POLICIES, "casbin_model.conf"),
                                        os.path.join(POLICIES, "casbin_policy.csv"))
        enforce = self.enforcer.enforce
        if cached:
            # pycasbin ships no CachedEnforcer; this is Casbin's CachedEnforcer (Go, Node) as documented:
            # the result of enforce() kept in a map keyed by the request values.
            self.name = "pycasbin-cached"
            self.tuning = ("as pycasbin, plus a decision cache keyed by (client, audience), as Casbin's "
                           "CachedEnforcer does (pycasbin has none); every request of the mix hits it after warm-up")
            results: dict[tuple[str, str], bool] = {}
            plain = enforce

            def enforce(client: str, audience: str) -> bool:
                key = (client, audience)
                hit = results.get(key)
                if hit is None:
                    hit = results[key] = plain(client, audience)
                return hit

        log = structlog.get_logger("authrules").bind()
        ids = _ids()
        status, error, description = DENY

        def decide(request: Request) -> bool:
            start = perf_counter_ns()
            did = ids()
            client = request.client_id or ""
            allowed = True
            for audience in request.audience_keys or _NO_AUDIENCE:
                if not enforce(client, audience):
                    allowed = False
                    break
            if allowed:
                log_decision(log, did, start, perf_counter_ns(), request, "allow", None, None, 200, None, None)
            else:
                log_decision(log, did, start, perf_counter_ns(), request, "deny", None, None, status, error,
                             description)
            return allowed

        self.decide = decide

    def explain(self, request: Request) -> tuple[str, str | None]:
        allowed = self.decide(request)
        client = request.client_id or ""
        rules = set()
        for audience in sorted(request.audience_keys) or _NO_AUDIENCE:
            ok, row = self.enforcer.enforce_ex(client, audience)
            if not ok:
                rules.add(_casbin_rule(row))
        if allowed:
            return "allow", None
        if len(rules) != 1:
            raise AssertionError(f"pycasbin names {sorted(map(str, rules))} for {request!r}")
        return "deny", rules.pop()


# -- 4. cedarpy ---------------------------------------------------------------------------------------

_ACTION = {"type": "Action", "id": "request"}


def _cedar_request(request: Request) -> dict[str, Any]:
    return {"principal": {"type": "Client", "id": request.client_id or ""}, "action": _ACTION,
            "resource": {"type": "Endpoint", "id": request.endpoint},
            "context": {"audiences": list(request.audience_keys)}}


class Cedar(Engine):
    """cedarpy with a parsed ``PolicySet`` and ``Entities`` handle, reused for every call."""

    name = "cedarpy"
    tuning = ("PolicySet.from_str and Entities.from_json_str once (handles reused, as its docs advise); "
              "is_authorized per request")

    def __init__(self, batch: bool = False) -> None:
        import cedarpy

        self.library = f"cedarpy {_version('cedarpy')}"
        with open(os.path.join(POLICIES, "rules.cedar"), encoding="utf-8") as handle:
            text = handle.read()
        policies = cedarpy.PolicySet.from_str(text) if hasattr(cedarpy.PolicySet, "from_str") \
            else cedarpy.PolicySet(text)
        entities = cedarpy.Entities.from_json_str("[]")
        is_authorized, is_authorized_batch = cedarpy.is_authorized, cedarpy.is_authorized_batch
        allow = cedarpy.Decision.Allow
        self._policies, self._entities, self._is_authorized = policies, entities, is_authorized
        log = structlog.get_logger("authrules").bind()
        ids = _ids()
        status, error, description = DENY

        def decide(request: Request) -> bool:
            start = perf_counter_ns()
            did = ids()
            allowed = is_authorized(_cedar_request(request), policies, entities).decision == allow
            if allowed:
                log_decision(log, did, start, perf_counter_ns(), request, "allow", None, None, 200, None, None)
            else:
                log_decision(log, did, start, perf_counter_ns(), request, "deny", None, None, status, error,
                             description)
            return allowed

        self.decide = decide
        if batch:
            self.name = "cedarpy-batch"
            self.tuning = ("as cedarpy, but the whole mix in one is_authorized_batch call (a host deciding "
                           "one request at a time cannot batch; this is the engine's best case)")

            def round(mix: list[Request]) -> None:
                start = perf_counter_ns()
                results = is_authorized_batch([_cedar_request(r) for r in mix], policies, entities)
                now = perf_counter_ns()
                for request, result in zip(mix, results):
                    if result.decision == allow:
                        log_decision(log, ids(), start, now, request, "allow", None, None, 200, None, None)
                    else:
                        log_decision(log, ids(), start, now, request, "deny", None, None, status, error,
                                     description)

            self.round = round  # type: ignore[method-assign]

    def explain(self, request: Request) -> tuple[str, str | None]:
        allowed = self.decide(request)
        result = self._is_authorized(_cedar_request(request), self._policies, self._entities)
        if allowed:
            return "allow", None
        named = set(result.diagnostics.id_annotations_by_reason.values())
        if len(named) != 1:
            raise AssertionError(f"cedarpy names {sorted(named)} for {request!r}")
        return "deny", named.pop()


# -- building and checking ------------------------------------------------------------------------------

def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


def build(name: str) -> Engine:
    """Build one engine; call after ``common.configure_logging``."""
    if name == "inline":
        return Inline()
    if name == "authrules":
        return Authrules()
    if name in ("pycasbin", "pycasbin-cached"):
        return Casbin(cached=name.endswith("cached"))
    if name in ("cedarpy", "cedarpy-batch"):
        return Cedar(batch=name.endswith("batch"))
    raise ValueError(f"unknown engine {name!r}")


def check_equal(engines: list[Engine], requests: list[Request]) -> int:
    """Every engine's (outcome, denying rule) equals authrules' on every request; the count checked."""
    reference = next(e for e in engines if e.name == "authrules")
    for request in requests:
        expected = reference.explain(request)
        for engine in engines:
            got = engine.explain(request)
            if got != expected:
                raise AssertionError(f"{engine.name} decided {got} but authrules decided {expected} "
                                     f"for {request!r}")
    return len(requests) * (len(engines) - 1)
