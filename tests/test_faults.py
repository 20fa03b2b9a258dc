"""Faulty rules: whatever a rule does, the request gets a decision, and it is a deny.

The misbehaving rules are real plugin distributions in tests/fault_plugins/.
The fast matrix registers their modules in-process; the installed tests at the
end pip-install them into a throwaway venv (tests/_fault_env.py) and drive
``authrules eval`` and the Python API there, the way a user's host would.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import threading
import time
import warnings
from pathlib import Path
from urllib.parse import quote_plus, urlencode

import pytest

from _fault_env import fault_env, fault_module
from _logcap import capture
from _secret_guard import find_leak, make_secret, register
from authrules import Deny, RuleType, Runner, hookimpl

# Credentials with characters that change under percent-encoding and repr().
PASSWORD = make_secret("pw'\\\"&%+ é")
CLIENT_SECRET = make_secret("cs/=?;)}")
CODE = make_secret("code")
REFRESH = make_secret("rt&x=1")
COOKIE = make_secret("ck")
BASIC_SECRET = make_secret("b:a\\s'ic")
API_KEY = make_secret("api")
USERNAME = "jane\r\nforged=1 \x1b[31mred\x1b[0m\u2028\u2029\x85\x07"

GENERIC = {"server_error": "a rule failed, so the request is denied",
           "temporarily_unavailable": "a rule did not answer in time, so the request is denied"}
BAD_LINE_CHARS = ("\n", "\r", "\x1b", "\u2028", "\u2029", "\x85", "\x07")


def _raw(path: str, params: list[tuple[str, str]], headers: list[tuple[str, str]] = ()) -> bytes:
    body = urlencode(params).encode()
    head = [f"POST {path} HTTP/1.1", "Host: as.example.com",
            "Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}",
            *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def body_credentials(client_id: str = "good-client") -> bytes:
    return _raw("/oauth/token", [
        ("grant_type", "password"), ("username", USERNAME), ("password", PASSWORD), ("client_id", client_id),
        ("client_secret", CLIENT_SECRET), ("code", CODE), ("refresh_token", REFRESH),
        ("audience", "https://billing.example.com/api"), ("scope", "openid email")],
        [("Cookie", f"session={COOKIE}")])


def basic_credentials(client_id: str = "good-client") -> bytes:
    token = base64.b64encode(f"{quote_plus(client_id)}:{quote_plus(BASIC_SECRET)}".encode()).decode()
    register(token, "the fault tests' Basic credentials")
    return _raw("/oauth/token", [("grant_type", "refresh_token"), ("refresh_token", REFRESH),
                                 ("audience", "https://billing.example.com/api")],
                [("Authorization", f"Basic {token}"), ("Cookie", f"sid={COOKIE}")])


REQUESTS = {"body": body_credentials, "basic": basic_credentials}


def runner(*rules: dict, logger=None, first_party: bool = True, **kwargs) -> Runner:
    """A runner with the fault plugins registered in-process, plus client-deny from its entry point."""
    modules = [fault_module(n) for n in ("raise", "garbage", "slow", "mutate")]
    tail = [{"name": "deny-client", "type": "client-deny",
             "settings": {"clients": ["CLIENT_ID"]}}] if first_party else []
    return Runner.from_dict({"rules": [*rules, *tail]}, logger=logger, plugins=modules, autoload=False,
                            load=["client-deny"], **kwargs)


def decide(r: Runner, raw: bytes):
    return decide_timed(r, raw)[0]


def decide_timed(r: Runner, raw: bytes):
    """The decision and the seconds it took to come (not counting asyncio.run's wait, at its end, for a
    rule task that was abandoned at its deadline and ignores its cancellation)."""
    request = r.parse(raw)
    assert request.problem is None, request.problem
    start = time.monotonic()
    if not r.needs_async:
        return r.evaluate(request), time.monotonic() - start

    async def timed():
        decision = await r.evaluate_async(request)
        return decision, time.monotonic() - start

    return asyncio.run(timed())


def assert_clean_log(sink) -> None:
    """Every line is one line, colours nothing, and holds no secret."""
    for line in sink.lines:
        for char in BAD_LINE_CHARS:
            assert char not in line, f"log line holds {char!r}: {line[:200]!r}"
    leak = find_leak(sink.text)
    assert leak is None, f"a secret from {leak} is in the log"


def rule_events(sink, name: str) -> list[dict]:
    return [e for e in sink.named("authrules.rule") if e["rule"] == name]


def assert_generic_deny(decision, error: str = "server_error", rule: str = "faulty") -> None:
    assert decision.outcome == "deny"
    assert decision.rule == rule
    assert decision.error == error
    assert decision.status == (500 if error == "server_error" else 503)
    assert decision.error_description == GENERIC[error]  # never the exception text


# -- a rule that raises ----------------------------------------------------------------------

RAISE_KINDS = {"error": "RuntimeError", "system-exit": "SystemExit", "timeout-error": "TimeoutError",
               "generator-exit": "GeneratorExit", "odd-name": "Odd\\x0a\\x1b[31mError\\u2028",
               "group": "ExceptionGroup", "recursion": "RecursionError"}


@pytest.mark.parametrize("shape", sorted(REQUESTS))
@pytest.mark.parametrize("rule_type", ["fault-raise", "fault-raise-blocking", "fault-raise-async"])
@pytest.mark.parametrize("kind", sorted(RAISE_KINDS))
def test_a_raising_rule_denies_and_logs_a_redacted_traceback(kind, rule_type, shape):
    logger, sink = capture()
    r = runner({"name": "faulty", "type": rule_type, "settings": {
        "kind": kind, "api_key": API_KEY, "upstream": {"token": make_secret("nested")}}}, logger=logger)
    decision = decide(r, REQUESTS[shape]())
    assert_generic_deny(decision)
    (event,) = rule_events(sink, "faulty")
    assert event["result"] == "error" and event["action"] == "denied" and event["level"] == "error"
    assert event["rule_type"] == rule_type
    assert event["exception_type"] == RAISE_KINDS[kind]
    assert "Traceback (most recent call last):" in event["traceback"].split("\\x0a")[0]
    assert "authrules_fault_raise.py" in event["traceback"]  # it says where the rule broke
    if kind == "error":  # the cause of a chained exception is kept, redacted like the rest
        assert "KeyError" in event["traceback"] and "[redacted]" in event["traceback"]
    assert not rule_events(sink, "deny-client"), "no rule runs after the deny"
    (final,) = sink.named("authrules.decision")
    assert final["decision_id"] == decision.decision_id and final["rule"] == "faulty"
    assert_clean_log(sink)


@pytest.mark.parametrize("rule_type", ["fault-raise", "fault-raise-async"])
def test_keyboard_interrupt_on_the_callers_thread_stops_the_host(rule_type):
    """Ctrl-C arrives as KeyboardInterrupt on the thread running inline and async rules: not a rule fault."""
    r = runner({"name": "faulty", "type": rule_type, "settings": {"kind": "keyboard-interrupt"}},
               logger=capture()[0])
    with pytest.raises(KeyboardInterrupt):
        decide(r, body_credentials())


def test_keyboard_interrupt_raised_on_a_worker_thread_is_a_rule_fault():
    """No signal reaches a worker thread: the rule raised it itself."""
    logger, sink = capture()
    r = runner({"name": "faulty", "type": "fault-raise-blocking", "settings": {"kind": "keyboard-interrupt"}},
               logger=logger)
    assert_generic_deny(decide(r, body_credentials()))
    assert rule_events(sink, "faulty")[0]["exception_type"] == "KeyboardInterrupt"
    assert_clean_log(sink)


def test_an_async_rule_that_raises_cancelled_error_itself_is_a_fault():
    """Only a real cancellation of the host's task propagates; a rule's own CancelledError denies."""
    logger, sink = capture()
    r = runner({"name": "faulty", "type": "fault-raise-async", "settings": {"kind": "cancelled"}}, logger=logger)
    assert_generic_deny(decide(r, body_credentials()))
    assert rule_events(sink, "faulty")[0]["exception_type"] == "CancelledError"


def test_cancelling_the_hosts_task_still_cancels():
    r = runner({"name": "slow", "type": "fault-async-sleep", "settings": {"seconds": 5.0}, "timeout_ms": 4000},
               logger=capture()[0])
    request = r.parse(body_credentials())

    async def main() -> None:
        task = asyncio.create_task(r.evaluate_async(request))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_a_blocking_rule_that_raises_timeout_error_is_an_error_not_a_timeout():
    """socket.timeout is TimeoutError: the rule's own failure, not the runner's deadline."""
    logger, sink = capture()
    r = runner({"name": "faulty", "type": "fault-raise-blocking", "settings": {"kind": "timeout-error"},
                "timeout_ms": 5000}, logger=logger)
    start = time.monotonic()
    decision = decide(r, body_credentials())
    assert time.monotonic() - start < 2.5
    assert_generic_deny(decision, "server_error")
    assert rule_events(sink, "faulty")[0]["result"] == "error"


# -- a rule that returns garbage ------------------------------------------------------------

GARBAGE = {"true": "bool", "false": "bool", "zero": "int", "empty": "str", "allow": "str", "dict": "dict",
           "deny-class": "type", "bad-repr": "BadRepr", "base-repr": "BaseRepr", "secret-repr": "SecretRepr",
           "huge-repr": "HugeRepr", "coroutine": "coroutine", "generator": "generator", "list-none": "list"}


@pytest.mark.parametrize("rule_type", ["fault-garbage", "fault-garbage-async"])
@pytest.mark.parametrize("returns", sorted(GARBAGE))
def test_a_rule_that_returns_garbage_denies_and_says_what_came_back(returns, rule_type):
    logger, sink = capture()
    r = runner({"name": "faulty", "type": rule_type, "settings": {"returns": returns}}, logger=logger)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        decision = decide(r, body_credentials())
        gc.collect()
    assert_generic_deny(decision)
    (event,) = rule_events(sink, "faulty")
    assert event["result"] == "invalid" and event["action"] == "denied"
    assert event["returned_type"] == GARBAGE[returns]
    assert isinstance(event["returned"], str) and len(event["returned"]) <= 400
    if returns in ("bad-repr", "base-repr"):
        assert "failing repr" in event["returned"]
    if returns in ("true", "allow", "dict"):
        assert event["returned"] in ("True", "'allow'", "{'outcome': 'allow', 'status': 200}")
    never_awaited = [w for w in caught if "never awaited" in str(w.message)]
    assert not never_awaited, "a coroutine returned by mistake is closed, not left to warn"
    assert_clean_log(sink)


@pytest.mark.parametrize("returns", ["deny-subclass", "remove-subclass"])
def test_a_rule_cannot_return_a_subclass_of_the_result_types(returns):
    """Deny and RemoveScopes refuse subclasses, so the attempt raises in the rule and denies."""
    logger, sink = capture()
    r = runner({"name": "faulty", "type": "fault-garbage", "settings": {"returns": returns}}, logger=logger)
    assert_generic_deny(decide(r, body_credentials()))
    (event,) = rule_events(sink, "faulty")
    assert event["result"] == "error" and event["exception_type"] == "TypeError"


# -- a rule that blocks or is slow -----------------------------------------------------------

SLOW = [("fault-sleep", {"seconds": 3.0}), ("fault-hang", None), ("fault-async-sleep", {"seconds": 3.0}),
        ("fault-async-stubborn", {"seconds": 3.0})]  # the last swallows its cancellation


@pytest.mark.parametrize("rule_type,settings", SLOW, ids=[s[0] for s in SLOW])
def test_a_rule_past_its_deadline_denies_503_within_the_deadline(rule_type, settings):
    logger, sink = capture()
    rule = {"name": "faulty", "type": rule_type, "timeout_ms": 150}
    if settings:
        rule["settings"] = settings
    r = runner(rule, logger=logger)
    decision, elapsed = decide_timed(r, basic_credentials())
    assert_generic_deny(decision, "temporarily_unavailable")
    assert 0.14 <= elapsed < 1.0, f"decided after {elapsed:.3f} s with a 150 ms deadline"
    (event,) = rule_events(sink, "faulty")
    assert event == {**event, "result": "timeout", "action": "denied", "timeout_ms": 150, "rule_type": rule_type}
    assert_clean_log(sink)


def test_a_blocking_rule_under_evaluate_async_has_the_same_deadline():
    logger, sink = capture()
    r = runner({"name": "faulty", "type": "fault-sleep", "settings": {"seconds": 3.0}, "timeout_ms": 150},
               logger=logger)
    start = time.monotonic()
    decision = asyncio.run(r.evaluate_async(r.parse(basic_credentials())))
    assert time.monotonic() - start < 1.0
    assert_generic_deny(decision, "temporarily_unavailable")
    assert rule_events(sink, "faulty")[0]["result"] == "timeout"


def test_an_async_rule_that_blocks_the_loop_is_denied_when_it_comes_back_late():
    """The core cannot interrupt time.sleep inside a coroutine; it can refuse the late answer."""
    logger, sink = capture()
    r = runner({"name": "faulty", "type": "fault-async-block", "settings": {"seconds": 0.3}, "timeout_ms": 50},
               logger=logger)
    decision = decide(r, basic_credentials())
    assert_generic_deny(decision, "temporarily_unavailable")
    event = rule_events(sink, "faulty")[0]
    assert event["result"] == "timeout" and event["timeout_ms"] == 50


def test_the_default_deadline_comes_from_limits():
    r = runner({"name": "faulty", "type": "fault-sleep", "settings": {"seconds": 3.0}},
               logger=capture()[0], first_party=True)
    assert r.steps[0].timeout == r.limits.rule_timeout_ms / 1000 == 1.0
    r = Runner.from_dict({"limits": {"rule_timeout_ms": 120}, "rules": [
        {"name": "faulty", "type": "fault-sleep", "settings": {"seconds": 3.0}}]},
        plugins=[fault_module("slow")], autoload=False, logger=capture()[0])
    start = time.monotonic()
    assert_generic_deny(decide(r, basic_credentials()), "temporarily_unavailable")
    assert time.monotonic() - start < 1.0


def test_a_slow_rule_within_its_deadline_passes():
    logger, sink = capture()
    r = runner({"name": "slow-ok", "type": "fault-sleep", "settings": {"seconds": 0.02}, "timeout_ms": 3000},
               {"name": "async-ok", "type": "fault-async-sleep", "settings": {"seconds": 0.02}, "timeout_ms": 3000},
               logger=logger)
    assert decide(r, basic_credentials()).outcome == "allow"
    assert decide(r, basic_credentials("CLIENT_ID")).rule == "deny-client"


def test_a_late_answer_is_dropped_and_the_decision_is_logged_once():
    slow = fault_module("slow")
    logger, sink = capture()
    r = runner({"name": "faulty", "type": "fault-sleep", "settings": {"seconds": 0.3}, "timeout_ms": 50},
               logger=logger)
    decision = decide(r, basic_credentials())
    assert_generic_deny(decision, "temporarily_unavailable")
    deadline = time.monotonic() + 5
    while decision.decision_id not in slow.FINISHED and time.monotonic() < deadline:
        time.sleep(0.02)
    assert decision.decision_id in slow.FINISHED, "the abandoned rule ran on with the decision's id"
    assert [e["decision_id"] for e in sink.named("authrules.decision")] == [decision.decision_id]
    assert len(rule_events(sink, "faulty")) == 1


def test_busy_workers_do_not_make_a_healthy_rule_miss_its_deadline():
    """Calls are handed to idle workers one each: two calls never queue behind one idle worker."""
    r = runner({"name": "slow-ok", "type": "fault-sleep", "settings": {"seconds": 0.25}, "timeout_ms": 600},
               logger=capture()[0])
    assert decide(r, basic_credentials()).outcome == "allow"  # one warm, idle worker
    raw = basic_credentials()
    for _ in range(3):
        barrier = threading.Barrier(8)
        outcomes: list[str] = []

        def one() -> None:
            request = r.parse(raw)
            barrier.wait()
            outcomes.append(r.evaluate(request).outcome)

        threads = [threading.Thread(target=one) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert outcomes == ["allow"] * 8


def test_hung_rules_cannot_queue_work_without_bound():
    """Once every worker is stuck, further calls are denied at once instead of piling up."""
    from authrules._workers import Workers

    workers = Workers(max_workers=2, max_queue=4)
    stop = threading.Event()
    futures = [workers.submit(stop.wait) for _ in range(2 + 4)]
    rejected = workers.submit(stop.wait)
    assert rejected.done() and isinstance(rejected.exception(), TimeoutError)
    stop.set()
    assert all(f.result(timeout=5) is True for f in futures)
    assert workers.submit(lambda: 7).result(timeout=5) == 7


def test_when_every_worker_hangs_further_requests_are_denied_at_once():
    """The runner turns a full backlog into an immediate 503, in evaluate and in evaluate_async."""
    from authrules._workers import Workers

    logger, sink = capture()
    r = runner({"name": "faulty", "type": "fault-hang", "timeout_ms": 400}, logger=logger)
    r._workers = Workers(max_workers=1, max_queue=1)  # as if 32 rules hung with 1024 calls queued
    raw = basic_credentials()
    assert_generic_deny(decide(r, raw), "temporarily_unavailable")  # hangs the only worker
    assert_generic_deny(decide(r, raw), "temporarily_unavailable")  # waits in the backlog until its deadline
    for evaluate in (r.evaluate, lambda q: asyncio.run(r.evaluate_async(q))):
        start = time.monotonic()
        assert_generic_deny(evaluate(r.parse(raw)), "temporarily_unavailable")
        assert time.monotonic() - start < 0.3, "refused at once, not at the 400 ms deadline"
    assert [e["result"] for e in rule_events(sink, "faulty")] == ["timeout"] * 4


# -- on_error = "skip" -----------------------------------------------------------------------

SKIPPABLE = [("fault-raise", {"kind": "error"}, "error"), ("fault-raise", {"kind": "system-exit"}, "error"),
             ("fault-garbage", {"returns": "allow"}, "invalid"), ("fault-garbage", {"returns": "dict"}, "invalid"),
             ("fault-sleep", {"seconds": 3.0, "__timeout": 80}, "timeout"),
             ("fault-mutate", {"how": "setattr"}, "error")]


@pytest.mark.parametrize("rule_type,settings,result", SKIPPABLE, ids=[f"{t}-{r}" for t, _, r in SKIPPABLE])
def test_a_skipped_rule_is_logged_and_cannot_turn_a_later_deny_into_allow(rule_type, settings, result):
    logger, sink = capture()
    settings = dict(settings)
    rule = {"name": "optional", "type": rule_type, "on_error": "skip"}
    if "__timeout" in settings:
        rule["timeout_ms"] = settings.pop("__timeout")
    rule["settings"] = settings
    r = runner(rule, {"name": "record", "type": "fault-record"}, logger=logger)
    seen = fault_module("mutate").SEEN
    denied = decide(r, basic_credentials("CLIENT_ID"))
    assert denied.outcome == "deny" and denied.rule == "deny-client" and denied.status == 401
    assert seen[-1][0] == "CLIENT_ID", "later rules see the request as it was"
    allowed = decide(r, basic_credentials())
    assert allowed.outcome == "allow"
    skipped = rule_events(sink, "optional")
    assert len(skipped) == 2
    assert all(e["result"] == result and e["action"] == "skipped" and e["level"] == "warning" for e in skipped)
    assert_clean_log(sink)


def test_skip_only_forgives_faults_a_deny_still_denies():
    logger, sink = capture()
    r = Runner.from_dict({"rules": [{"name": "aud", "type": "audience-deny", "on_error": "skip",
                                     "settings": {"audiences": ["https://billing.example.com/api"]}}]},
                         logger=logger, autoload=False, load=["audience-deny"])
    decision = decide(r, basic_credentials())
    assert decision.outcome == "deny" and decision.rule == "aud"


# -- a rule cannot change what later rules see ---------------------------------------------

MUTATIONS = ["setattr", "delattr", "params", "query", "body", "headers", "audiences", "scopes",
             "audience-keys", "user", "context", "secrets"]


@pytest.mark.parametrize("how", MUTATIONS)
def test_a_rule_that_tries_to_change_the_request_is_denied(how):
    logger, sink = capture()
    r = runner({"name": "faulty", "type": "fault-mutate", "settings": {"how": how}}, logger=logger)
    request = r.parse(body_credentials("CLIENT_ID"), user={"sub": "u1", "roles": ["reader"]},
                      context={"bound": "x"})
    decision = r.evaluate(request)
    assert_generic_deny(decision)
    assert rule_events(sink, "faulty")[0]["exception_type"] in (
        "FrozenInstanceError", "TypeError", "AttributeError")
    assert request.client_id == "CLIENT_ID" and request.param("audience") == "https://billing.example.com/api"
    assert request.scopes == ("openid", "email") and dict(request.user) == {"sub": "u1", "roles": ("reader",)}


@pytest.mark.parametrize("how", MUTATIONS)
def test_a_skipped_mutation_leaves_later_rules_the_original_request(how):
    r = runner({"name": "optional", "type": "fault-mutate", "settings": {"how": how}, "on_error": "skip"},
               {"name": "record", "type": "fault-record"}, logger=capture()[0])
    seen = fault_module("mutate").SEEN
    decision = decide(r, body_credentials("CLIENT_ID"))
    assert decision.rule == "deny-client"
    assert seen[-1] == ("CLIENT_ID", ("https://billing.example.com/api",), ("openid", "email"))


# -- pure rules run inline; blocking ones on a worker ----------------------------------------

def test_pure_rules_run_inline_and_blocking_rules_on_a_worker_thread():
    threads: dict[str, int] = {}

    class Probe:
        @hookimpl
        def authrules_rule_types(self):
            def pure(request, settings):
                threads["pure"] = threading.get_ident()

            def blocking(request, settings):
                threads["blocking"] = threading.get_ident()
            return [RuleType("probe-pure", pure), RuleType("probe-blocking", blocking, blocking=True)]

    r = Runner.from_dict({"rules": [{"name": "p", "type": "probe-pure"}, {"name": "b", "type": "probe-blocking"}]},
                         plugins=[Probe()], autoload=False, logger=capture()[0])
    assert r.evaluate(r.parse(basic_credentials())).outcome == "allow"
    assert threads["pure"] == threading.get_ident() != threads["blocking"]


# -- installed the way users install plugins --------------------------------------------------

def _config(tmp_path: Path, name: str, *rules: str) -> Path:
    tail = ('[[rules]]\nname = "deny-client"\ntype = "client-deny"\n'
            '[rules.settings]\nclients = ["CLIENT_ID"]\n')
    path = tmp_path / f"{name}.toml"
    path.write_text("\n".join(rules) + "\n" + tail)
    return path


INSTALLED = {
    "raise": ('[[rules]]\nname = "faulty"\ntype = "fault-raise"\n[rules.settings]\nkind = "error"\n'
              f'api_key = "{API_KEY}"\n', "server_error"),
    "system-exit": ('[[rules]]\nname = "faulty"\ntype = "fault-raise-blocking"\n[rules.settings]\n'
                    'kind = "system-exit"\n', "server_error"),
    "garbage": ('[[rules]]\nname = "faulty"\ntype = "fault-garbage"\n[rules.settings]\n'
                'returns = "secret-repr"\n', "server_error"),
    "mutate": ('[[rules]]\nname = "faulty"\ntype = "fault-mutate"\n[rules.settings]\nhow = "params"\n',
               "server_error"),
    "hang": ('[[rules]]\nname = "faulty"\ntype = "fault-hang"\ntimeout_ms = 200\n', "temporarily_unavailable"),
    "sleep": ('[[rules]]\nname = "faulty"\ntype = "fault-sleep"\ntimeout_ms = 200\n[rules.settings]\n'
              'seconds = 30.0\n', "temporarily_unavailable"),
    # A pure rule has no deadline in a host; the CLI's watchdog still stops it (budget: 1 s per rule + 1 s).
    "inline-sleep": ('[[rules]]\nname = "faulty"\ntype = "fault-sleep-inline"\n[rules.settings]\n'
                     'seconds = 30.0\n', "server_error"),
    # async def rules: the CLI runs them with evaluate_async (it once refused the config with exit 2).
    "async-sleep": ('[[rules]]\nname = "faulty"\ntype = "fault-async-sleep"\ntimeout_ms = 200\n'
                    '[rules.settings]\nseconds = 30.0\n', "temporarily_unavailable"),
    "async-garbage": ('[[rules]]\nname = "faulty"\ntype = "fault-garbage-async"\n[rules.settings]\n'
                      'returns = "allow"\n', "server_error"),
    # swallows the exception the watchdog raises into it, if that were an Exception
    "inline-retry": ('[[rules]]\nname = "faulty"\ntype = "fault-retry-inline"\n[rules.settings]\n'
                     'seconds = 30.0\n', "server_error"),
    # swallows its cancellation: abandoned at the deadline, and the CLI still exits
    "async-stubborn": ('[[rules]]\nname = "faulty"\ntype = "fault-async-stubborn"\ntimeout_ms = 200\n'
                       '[rules.settings]\nseconds = 30.0\n', "temporarily_unavailable"),
}


@pytest.mark.parametrize("fmt", ["json", "console"])
@pytest.mark.parametrize("case", sorted(INSTALLED))
def test_installed_faulty_plugin_denies_through_authrules_eval(tmp_path_factory, tmp_path, case, fmt):
    env = fault_env(tmp_path_factory)
    rule, error = INSTALLED[case]
    config = _config(tmp_path, case, rule)
    requests = []
    for name, make in (("body", body_credentials), ("basic", basic_credentials)):
        path = tmp_path / f"{name}.http"
        path.write_bytes(make())
        requests.append(str(path))
    start = time.monotonic()
    proc = env.authrules("eval", "--config", str(config), "--log-format", fmt, *requests, timeout=30)
    elapsed = time.monotonic() - start
    assert proc.returncode == 1, proc.stderr.decode(errors="replace")[-2000:]
    results = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [r["request"] for r in results] == requests, "the CLI goes on after a rule raised SystemExit"
    for result in results:
        assert result["outcome"] == "deny" and result["rule"] == "faulty" and result["error"] == error
        assert result["error_description"] == GENERIC[error]
    assert elapsed < 15, "a hung rule does not keep the CLI from exiting"
    err = proc.stderr.decode("utf-8")
    lines = err.rstrip("\n").split("\n")  # split at LF only: splitlines() would hide U+2028 and friends
    assert find_leak(proc.stdout + proc.stderr) is None
    for line in lines:
        assert not any(c in line for c in BAD_LINE_CHARS[1:]), line[:300]
    if fmt == "json":
        events = [json.loads(line) for line in lines]  # every line is one JSON object
        faulty = [e for e in events if e.get("rule") == "faulty" and e["event"] == "authrules.rule"]
        assert len(faulty) == 2 and all(e["action"] == "denied" for e in faulty)
        assert len([e for e in events if e["event"] == "authrules.decision"]) == 2
    else:
        assert sum("authrules.decision" in line for line in lines) == 2
        assert sum("authrules.rule" in line and "faulty" in line for line in lines) == 2


DRIVER = r"""
import asyncio, json, sys, time
import structlog
from authrules import Runner
logger = structlog.wrap_logger(structlog.PrintLogger(sys.stderr), processors=[structlog.processors.JSONRenderer()])
runner = Runner.from_toml(sys.argv[1], logger=logger)
raw = open(sys.argv[2], "rb").read()
async def main():
    out = []
    for _ in range(2):
        start = time.monotonic()
        d = await runner.evaluate_async(runner.parse(raw))
        out.append({"outcome": d.outcome, "rule": d.rule, "error": d.error, "elapsed": time.monotonic() - start})
    return out
print(json.dumps(asyncio.run(main())))
"""


@pytest.mark.parametrize("rule", [
    '[[rules]]\nname = "faulty"\ntype = "fault-async-sleep"\ntimeout_ms = 150\n[rules.settings]\nseconds = 30.0\n',
    '[[rules]]\nname = "faulty"\ntype = "fault-hang"\ntimeout_ms = 150\n',
    '[[rules]]\nname = "faulty"\ntype = "fault-raise-async"\n',
    '[[rules]]\nname = "faulty"\ntype = "fault-garbage-async"\n[rules.settings]\nreturns = "allow"\n',
], ids=["async-sleep", "hang", "async-raise", "async-garbage"])
def test_installed_faulty_plugin_denies_through_the_python_api(tmp_path_factory, tmp_path, rule):
    env = fault_env(tmp_path_factory)
    config = _config(tmp_path, "api", rule)
    request = tmp_path / "basic.http"
    request.write_bytes(basic_credentials())
    proc = env.run("-c", DRIVER, str(config), str(request))
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    for result in json.loads(proc.stdout):
        assert result["outcome"] == "deny" and result["rule"] == "faulty"
        assert result["elapsed"] < 1.0
    assert find_leak(proc.stdout + proc.stderr) is None
