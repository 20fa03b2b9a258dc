"""Logs that cannot be forged or leak.

* Redaction covers every event and field: exception text and tracebacks, the
  value a broken rule returned, settings marked ``authrules.secret()``, and, in
  a host's own events through ``redact_secrets`` / ``escape_control_chars``,
  Authorization and Cookie headers in every shape hosts log them.
* CR, LF, ANSI escapes, other control characters and U+2028/2029 never start a
  new line or colour a terminal: JSON and console renderers, a plain host chain,
  the host chain docs/security.md recommends, and ``authrules eval``.
* The secret guard (tests/_secret_guard.py) that checks the whole suite's output
  really fails a test that prints a secret.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest
import structlog

import authrules

from _fault_env import REPO, TESTS, expected_cases, fault_env, fault_module, shared_cases
from _logcap import capture
from _secret_guard import MARKER, find_leak, make_secret
from helpers.plugins import types_plugin
from authrules import Runner, escape_control_chars, redact_secrets
from authrules._logs import REDACTED, escape_control, scrub

HOSTILE = "\r\n\x1b[31m\x1b]0;title\x07\x08\x0b\x0c\x7f\x85\x9b\u2028\u2029\u202e"  # no NUL: it is refused
# Characters that must never reach a rendered line raw.
FORBIDDEN = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def one_line_each(lines: list[str]) -> None:
    for line in lines:
        assert "\n" not in line and FORBIDDEN.search(line) is None, repr(line[:300])


def default_rules(*extra: dict) -> list[dict]:
    return [*extra,
            {"name": "deny-todo-api", "type": "audience-deny",
             "settings": {"audiences": ["http://todoapi2.api"], "deny_missing": True,
                          "error": "unauthorized", "error_description": "end_users_not_allowed", "status": 401}},
            {"name": "deny-client", "type": "client-deny",
             "settings": {"clients": ["CLIENT_ID"], "error": "unauthorized",
                          "error_description": "end_users_not_allowed", "status": 401}}]


NOISY = [  # faults that are skipped, so the shared cases still get their expected decisions
    {"name": "noisy-raise", "type": "fault-raise", "on_error": "skip",
     "settings": {"kind": "error", "api_key": make_secret("apikey")}},
    {"name": "noisy-group", "type": "fault-raise-blocking", "on_error": "skip", "settings": {"kind": "group"}},
    {"name": "noisy-repr", "type": "fault-garbage", "on_error": "skip", "settings": {"returns": "secret-repr"}},
]


def noisy_runner(logger) -> Runner:
    return Runner.from_dict({"rules": default_rules(*NOISY)}, logger=logger, autoload=False,
                            load=["audience-deny", "client-deny"],
                            plugins=[fault_module("raise"), fault_module("garbage")])


# -- every event of every shared case, with rules that fail loudly ----------------------------

def form_post(body: str | bytes) -> bytes:
    """A token-endpoint POST with this form body, as raw bytes."""
    data = body.encode() if isinstance(body, str) else body
    return (b"POST /oauth/token HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: %d\r\n\r\n" % len(data) + data)


@pytest.mark.parametrize("fmt", ["json", "console"])
@pytest.mark.parametrize("host_processors", [False, True], ids=["plain-chain", "recommended-chain"])
def test_no_event_of_any_shared_case_leaks_or_breaks_a_line(fmt, host_processors):
    logger, sink = capture(fmt, with_processors=host_processors)
    runner = noisy_runner(logger)
    cases = expected_cases()
    ran = 0
    for name, expected in cases.items():
        raw = (shared_cases() / f"{name}.http").read_bytes()
        decision = runner.evaluate(runner.parse(raw))
        ran += decision.error != "invalid_request"
        assert decision.outcome == expected["outcome"], name  # skipped faults change no decision
        if "rule_type" in expected:
            assert decision.rule_type == expected["rule_type"], name
        for secret in expected.get("secrets", ()):
            assert secret not in sink.text, (name, "a secret reached the log")
    one_line_each(sink.lines)
    assert find_leak(sink.text) is None
    assert ran and sum("noisy-raise" in line for line in sink.lines) == ran  # every fault was logged
    if fmt == "json":
        events = sink.events
        assert len([e for e in events if e["event"] == "authrules.decision"]) == len(cases)
        tracebacks = [e["traceback"] for e in events if "traceback" in e]
        assert tracebacks and all(REDACTED in t for t in tracebacks)


# -- scrub, the function every traceback and returned value goes through -----------------------

SCRUB_SECRETS = ["pl&in", "quo'te\"s\\back", "ünï\u2028cødé", "new\r\nline", "x" * 40, "%41%", "a+b c"]


@pytest.mark.parametrize("secret", SCRUB_SECRETS)
@pytest.mark.parametrize("shape", ["raw", "repr", "repr2", "json", "json2", "ascii", "bytes", "percent",
                                   "dict-repr", "exception"])
def test_scrub_cuts_a_secret_in_every_encoding_it_meets(secret, shape):
    from urllib.parse import quote, quote_plus
    params = {"password": (secret,), "client_id": ("c1",)}
    text = {
        "raw": f"failed for {secret}!",
        "repr": repr(secret),
        "repr2": repr(repr(secret)),
        "json": json.dumps({"v": secret}),
        "json2": json.dumps(json.dumps({"v": secret})),
        "ascii": ascii(secret),
        "bytes": repr(secret.encode()),
        "percent": f"q={quote_plus(secret)}&r={quote(secret, safe='')}",
        "dict-repr": repr(params),
        "exception": repr(KeyError(repr(params))),
    }[shape]
    out = scrub(text, [secret])
    assert REDACTED in out
    for form in (secret, repr(secret)[1:-1], json.dumps(secret)[1:-1]):
        assert form not in out
    assert "\n" not in out and FORBIDDEN.search(out) is None


@pytest.mark.parametrize("text", [
    "password=hunter2&x=1", "client_secret: hunter2", "{'code': 'hunter2'}", '{"refresh_token": "hunter2"}',
    "Authorization: Basic aHVudGVyMg==", "Bearer hunter2", "cookie: sid=hunter2; theme=dark",
    "mappingproxy({'password': ('hunter2',)})", "id_token_hint=hunter2", "code_verifier = 'hunter2'",
])
def test_credential_shaped_text_is_masked_without_knowing_the_value(text):
    """The net under the exact cut: secrets from outside the request (a rule's upstream, say)."""
    assert "hunter2" not in scrub(text)
    assert "aHVudGVyMg" not in scrub(text)


def test_scrub_keeps_harmless_text_and_bounds_length():
    assert scrub("rule deny-client failed: no upstream") == "rule deny-client failed: no upstream"
    assert len(scrub("y" * 100_000, limit=300)) < 330


# -- the host's own events, through the processors docs/security.md recommends ------------------

BASIC = "Basic " + "ZGVtbzo" + MARKER  # not valid base64 on purpose: masked by key, not by decoding
COOKIE = f"sid={make_secret('cookie')}"


@pytest.mark.parametrize("chain", [True, "redact-only"], ids=["both-processors", "redact-only"])
@pytest.mark.parametrize("fmt", ["json", "console"])
@pytest.mark.parametrize("shape", ["kwargs", "wsgi-environ", "asgi-headers", "header-pairs", "header-dict",
                                   "nested", "free-text", "object"])
def test_host_events_are_redacted_by_the_recommended_chain(fmt, shape, chain):
    logger, sink = capture(fmt, with_processors=chain)
    token = make_secret("tok")
    fields = {
        "kwargs": {"authorization": BASIC, "Cookie": COOKIE, "password": token, "client_secret": token},
        "wsgi-environ": {"environ": {"HTTP_AUTHORIZATION": BASIC, "HTTP_COOKIE": COOKIE, "PATH_INFO": "/t"}},
        "asgi-headers": {"headers": [(b"authorization", BASIC.encode()), (b"cookie", COOKIE.encode()),
                                     (b"host", b"as.example.com")]},
        "header-pairs": {"headers": [("Authorization", BASIC), ("Set-Cookie", COOKIE), ("Accept", "*/*")]},
        "header-dict": {"headers": {"Authorization": BASIC, "Proxy-Authorization": BASIC, "Cookie": COOKIE}},
        "nested": {"request": {"form": {"password": token, "refresh_token": token}, "ok": [1, 2]}},
        "free-text": {"query": f"grant_type=password&password={token}&client_secret={token}",
                      "note": f"upstream said: Authorization: {BASIC}"},
        "object": {"thing": type("Thing", (), {"__repr__": lambda self: f"<Thing password={token}>"})()},
    }[shape]
    logger.info("host.request", **fields)
    (line,) = sink.lines
    assert find_leak(line) is None, line
    assert REDACTED in line
    if shape in ("asgi-headers", "header-pairs", "wsgi-environ"):
        assert "as.example.com" in line or "Accept" in line or "PATH_INFO" in line  # the rest stays


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_control_characters_in_host_events_cannot_forge_lines(fmt):
    logger, sink = capture(fmt, with_processors=True)
    logger.info(f"host{HOSTILE}event", user=f"bob{HOSTILE}", items=[f"a{HOSTILE}", {f"k{HOSTILE}": f"v{HOSTILE}"}],
                raw=f"b{HOSTILE}".encode(), **{f"key{HOSTILE}": 1})
    logger.info("second")
    assert len(sink.lines) == 2
    one_line_each(sink.lines)
    assert "\\x1b" in sink.lines[0] and "\\u2028" in sink.lines[0]  # escaped, still readable


def test_escape_control_escapes_every_kind():
    for char in "\r\n\x1b\x07\x00\x08\x0b\x0c\x7f\x85\x9b\u2028\u2029\u202e\u2066":
        assert escape_control(char).startswith("\\"), repr(char)
    assert escape_control("plain text, ünïcode") == "plain text, ünïcode"


# -- authrules' own events are safe on a plain host chain -----------------------------------

@pytest.mark.parametrize("fmt", ["json", "console"])
def test_hostile_request_values_never_reach_a_log_line_raw(fmt):
    """Request values with control characters are either refused or reach the log escaped."""
    logger, sink = capture(fmt)
    runner = noisy_runner(logger)
    good = "client_id=c1&audience=https%3A%2F%2Fa.example"
    hostile = [
        f"GET /authorize?client_id={HOSTILE} HTTP/1.1\r\nHost: a\r\n\r\n".encode("utf-8"),
        f"GET /authorize?{good} HTTP/1.1\r\nHost: a{HOSTILE}\r\nX-Note: {HOSTILE}\r\n\r\n".encode("utf-8"),
        f"GET /authorize?{urlencode({'client_id': f'c{HOSTILE}'})} HTTP/1.1\r\nHost: a\r\n\r\n".encode(),
        f"GET /authorize?client_id=c1&{urlencode({'audience': f'https://x{HOSTILE}'})} HTTP/1.1\r\n\r\n".encode(),
        f"GET /authorize?{good}&{urlencode({'scope': f'openid {HOSTILE}'})} HTTP/1.1\r\n\r\n".encode(),
        f"GET /authorize?{good}&{urlencode({'state': f's{HOSTILE}'})} HTTP/1.1\r\n\r\n".encode(),
        f"GET /authorize?{good}&{urlencode({'username': f'j{HOSTILE}', 'nonce': HOSTILE})} HTTP/1.1\r\n\r\n"
        .encode(),
        f"GET /authorize?{good}&{urlencode({'redirect_uri': f'https://x/{HOSTILE}'})} HTTP/1.1\r\n\r\n".encode(),
    ]
    for raw in hostile:
        runner.evaluate(runner.parse(raw))
    one_line_each(sink.lines)
    assert len([line for line in sink.lines if "authrules.decision" in line]) == len(hostile)


# -- the CLI ---------------------------------------------------------------------------------

NOISY_TOML = f"""
[[rules]]
name = "noisy-raise"
type = "fault-raise"
on_error = "skip"
[rules.settings]
kind = "error"
api_key = "{make_secret('cli-api-key')}"
[rules.settings.upstream]
url = "https://upstream.example"
token = "{make_secret('cli-nested-token')}"

[[rules]]
name = "noisy-repr"
type = "fault-garbage"
on_error = "skip"
[rules.settings]
returns = "secret-repr"

[[rules]]
name = "deny-todo-api"
type = "audience-deny"
[rules.settings]
audiences = ["http://todoapi2.api"]
deny_missing = true
error = "unauthorized"
error_description = "end_users_not_allowed"
status = 401

[[rules]]
name = "deny-client"
type = "client-deny"
[rules.settings]
clients = ["CLIENT_ID"]
error = "unauthorized"
error_description = "end_users_not_allowed"
status = 401
"""


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_authrules_eval_logs_one_clean_line_per_event(tmp_path_factory, tmp_path, fmt):
    env = fault_env(tmp_path_factory)
    config = tmp_path / "rules.toml"
    config.write_text(NOISY_TOML)
    cases = expected_cases()
    files = [str(shared_cases() / f"{name}.http") for name in cases]
    hostile = tmp_path / "hostile.http"
    body = urlencode({"grant_type": "password", "username": f"jane{HOSTILE}", "password": make_secret("cli-pw"),
                      "client_id": "c1", "audience": "https://billing.example.com/api"}).encode()
    hostile.write_bytes(form_post(body))
    proc = env.authrules("eval", "--config", str(config), "--log-format", fmt, *files, str(hostile))
    assert proc.returncode == 1, proc.stderr[-2000:]
    results = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    for name, result in zip(cases, results):
        assert result["outcome"] == cases[name]["outcome"], name
    assert results[-1]["outcome"] == "allow"
    err = proc.stderr.decode("utf-8")
    (tmp_path / "authrules-eval.log").write_text(err)  # the guard scans it at teardown too
    lines = err.rstrip("\n").split("\n")
    one_line_each(lines)
    assert find_leak(proc.stdout + proc.stderr) is None
    decisions = [line for line in lines if "authrules.decision" in line]
    assert len(decisions) == len(cases) + 1
    if fmt == "json":
        assert all(json.loads(line) for line in lines)
    assert any("noisy-raise" in line and "skipped" in line for line in lines)


STDLIB_PLUGIN = """\
    import logging
    import warnings

    from authrules import RuleType, hookimpl

    log = logging.getLogger("acme.rules")


    def chatty(request, settings):
        log.warning("checking\\r\\nFORGED line password=%s \\x1b[31mred", request.param("password"))
        warnings.warn("deprecated\\nsecond line password=" + (request.param("password") or ""))
        try:
            raise ValueError("inner\\nline " + (request.param("password") or ""))
        except ValueError:
            log.exception("it failed")
        return None


    @hookimpl
    def authrules_rule_types():
        return [RuleType("chatty", chatty)]
    """


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_a_plugins_stdlib_logging_and_warnings_come_out_one_clean_line_each(tmp_path, fmt):
    """The CLI routes stdlib logging and warnings through its own chain: no raw multi-line text on stderr."""
    from helpers import cli
    from helpers.plugins import site_dist

    site = site_dist(tmp_path / "site", "acme-chatty", "acme_chatty", STDLIB_PLUGIN, entry_point="chatty")
    config = tmp_path / "rules.toml"
    config.write_text('[[rules]]\nname = "chatty"\ntype = "chatty"\n')
    secret = make_secret("stdlib-pw")
    body = urlencode({"grant_type": "password", "username": "jane", "password": secret, "client_id": "c1"})
    request = tmp_path / "r.http"
    request.write_bytes(form_post(body))
    result = cli.run(["eval", "--config", config, "--log-format", fmt, request],
                     env=cli.clean_env(PYTHONPATH=str(site)))
    assert result.returncode == 0, result.describe()
    lines = result.stderr.rstrip("\n").split("\n")
    one_line_each(lines)
    assert find_leak(result.stdout + result.stderr) is None and secret not in result.stderr
    assert sum("FORGED" in line for line in lines) == 1 and sum("deprecated" in line for line in lines) == 1
    assert any("it failed" in line and "ValueError" in line for line in lines)
    if fmt == "json":
        events = [json.loads(line) for line in lines]
        assert {e.get("logger") for e in events} >= {"acme.rules", "py.warnings"}


def test_authrules_check_masks_secret_settings(tmp_path_factory, tmp_path):
    env = fault_env(tmp_path_factory)
    config = tmp_path / "rules.toml"
    config.write_text(NOISY_TOML)
    proc = env.authrules("check", "--config", str(config))
    assert proc.returncode == 0, proc.stderr
    assert b"api_key = \"[secret]\"" in proc.stdout
    assert b'upstream = { url = "https://upstream.example", token = "[secret]" }' in proc.stdout
    assert find_leak(proc.stdout + proc.stderr) is None


def test_a_secret_setting_rejected_by_its_own_checks_is_not_quoted_in_the_error(tmp_path):
    """A settings __post_init__ that quotes its secret: the ConfigError (and `authrules check`) must not."""
    import dataclasses

    from authrules import ConfigError, secret

    key = make_secret("short")

    @dataclasses.dataclass(frozen=True)
    class Settings:
        api_key: str = secret()

        def __post_init__(self) -> None:
            if len(self.api_key) < 100:
                raise ValueError(f"api_key {self.api_key!r} is too short")

    plugin = types_plugin(("keyed", lambda request, settings: None, Settings))

    with pytest.raises(ConfigError) as info:
        Runner.from_dict({"rules": [{"name": "k", "type": "keyed", "settings": {"api_key": key}}]},
                         plugins=[plugin], autoload=False)
    assert "too short" in str(info.value)
    assert find_leak(str(info.value)) is None


@dataclasses.dataclass(frozen=True)
class _Auth:
    api_key: str = authrules.secret(default="")


@dataclasses.dataclass(frozen=True)
class _Refusing:
    auth: _Auth = dataclasses.field(default_factory=_Auth)
    auths: tuple[_Auth, ...] = ()
    by_name: dict[str, _Auth] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        keys = [self.auth.api_key, *(a.api_key for a in self.auths), *(a.api_key for a in self.by_name.values())]
        raise ValueError(f"refusing {' '.join(keys)}")  # quoted bare: no name=value shape to mask


@pytest.mark.parametrize("where", ["nested", "in-a-list", "in-a-dict"])
def test_a_nested_secret_setting_quoted_by_an_outer_check_is_not_in_the_error(where):
    from authrules import ConfigError

    key = make_secret(f"nested-{where}")

    plugin = types_plugin(("keyed", lambda request, settings: None, _Refusing))

    settings = {"nested": {"auth": {"api_key": key}}, "in-a-list": {"auths": [{"api_key": key}]},
                "in-a-dict": {"by_name": {"a": {"api_key": key}}}}[where]
    with pytest.raises(ConfigError) as info:
        Runner.from_dict({"rules": [{"name": "k", "type": "keyed", "settings": settings}]},
                         plugins=[plugin], autoload=False)
    assert "refusing" in str(info.value) and key not in str(info.value)


def test_a_rules_own_events_lose_the_requests_credentials_however_worded():
    """redact_secrets, while a runner decides a request, cuts that request's credentials from any event."""
    password, secret_value = make_secret("rule-log-pw"), make_secret("rule-log-cs")
    seen = []

    class Echo:
        def __repr__(self) -> str:
            return f"<Echo {password}>"

    def chatty(request, settings):
        log = structlog.get_logger("acme")
        log.warning("checking", note=f"user typed {request.param('password')} and {request.param('client_secret')}",
                    nested={"list": [request.param("password")], 1: (request.param("client_secret"),)},
                    obj=Echo(), count=3)
        return None

    plugin = types_plugin(("chatty", chatty, None))

    def keep(_logger, _method, event):
        seen.append(json.dumps(event, default=repr))
        raise structlog.DropEvent

    structlog.configure(processors=[redact_secrets, escape_control_chars, keep])
    try:
        runner = Runner.from_dict({"rules": [{"name": "c", "type": "chatty"}]}, plugins=[plugin], autoload=False,
                                  logger=structlog.get_logger("authrules"))
        body = urlencode({"grant_type": "password", "username": "u", "password": password, "client_id": "c1",
                          "client_secret": secret_value})
        raw = form_post(body)
        assert runner.evaluate(runner.parse(raw)).allowed
    finally:
        structlog.reset_defaults()
    line = next(line for line in seen if '"checking"' in line)
    assert password not in line and secret_value not in line and line.count("[redacted]") == 5, line
    assert '"count": 3' in line


@dataclasses.dataclass(frozen=True)
class _Keyed:
    key: str = authrules.secret(default="")


@pytest.mark.parametrize("leak", ["password-in-description", "secret-setting-in-description",
                                  "client-secret-encoded", "password-in-error"])
def test_a_deny_whose_text_holds_a_credential_is_sent_and_logged_without_it(leak):
    from authrules import Deny

    password, client_secret, key = make_secret("deny-pw"), make_secret("deny cs+"), make_secret("deny-key")

    def leaky(request, settings):
        text = {"password-in-description": f"wrong password {request.param('password')}",
                "secret-setting-in-description": f"upstream refused key {settings.key}",
                "client-secret-encoded": "bad secret " + urlencode({"s": request.param("client_secret")}),
                "password-in-error": "end_users_not_allowed"}[leak]
        error = request.param("password") if leak == "password-in-error" else "unauthorized"
        return Deny(error, text, 401)

    plugin = types_plugin(("leaky", leaky, _Keyed))

    log, events = capture()
    runner = Runner.from_dict({"rules": [{"name": "l", "type": "leaky", "settings": {"key": key}}]},
                              plugins=[plugin], autoload=False, logger=log)
    body = urlencode({"grant_type": "password", "username": "u", "password": password, "client_id": "c1",
                      "client_secret": client_secret})
    raw = form_post(body)
    decision = runner.evaluate(runner.parse(raw))
    assert (decision.outcome, decision.status, decision.rule) == ("deny", 401, "l")
    assert decision.error_description == "the request is denied"
    assert decision.error == ("access_denied" if leak == "password-in-error" else "unauthorized")
    text = json.dumps(decision.to_dict()) + events.text
    assert find_leak(text) is None and password not in text and key not in text
    assert '"result": "leak"' in events.text


def test_a_constant_deny_is_checked_once_and_a_clean_one_is_kept_as_is():
    from authrules import Deny

    constant = Deny("unauthorized", "blocked client", 401)

    plugin = types_plugin(("block", lambda request, settings: constant, None))

    runner = Runner.from_dict({"rules": [{"name": "b", "type": "block"}]}, plugins=[plugin], autoload=False,
                              logger=capture()[0])
    raw = b"GET /authorize?client_id=c1&code=abc HTTP/1.1\r\nHost: a\r\n\r\n"
    for _ in range(3):
        assert runner.evaluate(runner.parse(raw)).error_description == "blocked client"
    assert list(runner.steps[0].vetted.values()) == [constant]


@dataclasses.dataclass(frozen=True)
class _Token:
    token: str = ""

    def __post_init__(self) -> None:
        if not self.token.startswith("tok_"):
            raise ValueError(f"token {self.token!r} must start with tok_")


@dataclasses.dataclass(frozen=True)
class _WholeSecret:
    inner: _Token = authrules.secret(default=_Token("tok_x"))
    keys: dict[str, int] = authrules.secret(default_factory=dict)


@pytest.mark.parametrize("settings", ["nested-check", "dict-key"])
def test_a_secret_holding_a_dataclass_or_a_mapping_is_secret_whole(settings):
    from authrules import ConfigError

    value = make_secret(f"whole-{settings}")

    plugin = types_plugin(("whole", lambda request, s: None, _WholeSecret))

    raw = {"nested-check": {"inner": {"token": value}}, "dict-key": {"keys": {value: "not an int"}}}[settings]
    with pytest.raises(ConfigError) as info:
        Runner.from_dict({"rules": [{"name": "w", "type": "whole", "settings": raw}]}, plugins=[plugin],
                         autoload=False)
    assert value not in str(info.value) and find_leak(str(info.value)) is None
    assert authrules._logs.secret_values(_WholeSecret(_Token("tok_" + value), {value: 1})) == (
        "tok_" + value, value, "1")


@pytest.mark.parametrize("name", ["authrules.evil.login_failed", "authrules.decision.extra", "acme.check"])
def test_a_rule_event_is_cut_whatever_its_name(name):
    password = make_secret("named-event-pw")
    seen = []

    def chatty(request, settings):
        structlog.get_logger("acme").warning(name, detail=f"login failed for {request.param('password')}")

    plugin = types_plugin(("chatty", chatty, None))

    def keep(_logger, _method, event):
        seen.append(json.dumps(event, default=repr))
        raise structlog.DropEvent

    structlog.configure(processors=[redact_secrets, escape_control_chars, keep])
    try:
        runner = Runner.from_dict({"rules": [{"name": "c", "type": "chatty"}]}, plugins=[plugin], autoload=False)
        body = urlencode({"grant_type": "password", "username": "u", "password": password, "client_id": "c1"})
        raw = form_post(body)
        runner.evaluate(runner.parse(raw))
    finally:
        structlog.reset_defaults()
    assert any(name in line for line in seen) and not any(password in line for line in seen)


def test_a_single_cookie_value_quoted_by_a_rule_is_cut():
    session = make_secret("cookie-one")

    def picky(request, settings):
        raise KeyError(session)

    plugin = types_plugin(("picky", picky, None))

    log, events = capture()
    runner = Runner.from_dict({"rules": [{"name": "p", "type": "picky"}]}, plugins=[plugin], autoload=False,
                              logger=log)
    raw = (b"GET /authorize?client_id=c1&audience=x HTTP/1.1\r\nHost: a\r\nCookie: theme=dark; sid="
           + session.encode() + b"; lang=en\r\n\r\n")
    assert runner.evaluate(runner.parse(raw)).error == "server_error"
    assert "KeyError" in events.text and session not in events.text


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_exceptions_and_stacks_of_a_rule_come_out_on_one_line_without_the_requests_credentials(fmt):
    """A rule that logs exc_info, or passes exception= / stack= itself, under the recommended chain."""
    from authrules import flatten_exceptions

    password = make_secret("exc-pw")
    lines: list[str] = []

    def failing(request, settings):
        log = structlog.get_logger("acme")
        try:
            raise ConnectionError(f"upstream said no to bob/{request.param('password')}\nsecond line")
        except ConnectionError:
            log.exception("upstream failed")
        log.warning("own fields", exception="a\nb " + request.param("password"), stack="c\nd")
        return None

    plugin = types_plugin(("failing", failing, None))

    renderer = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)

    def keep(_logger, _method, event):
        lines.append(renderer(None, _method, event))
        raise structlog.DropEvent

    structlog.configure(processors=[flatten_exceptions, redact_secrets, escape_control_chars, keep])
    try:
        runner = Runner.from_dict({"rules": [{"name": "f", "type": "failing"}]}, plugins=[plugin], autoload=False)
        body = urlencode({"grant_type": "password", "username": "u", "password": password, "client_id": "c1"})
        raw = form_post(body)
        runner.evaluate(runner.parse(raw))
    finally:
        structlog.reset_defaults()
    ours = [line for line in lines if "upstream failed" in line or "own fields" in line]
    assert len(ours) == 2 and all("\n" not in line for line in ours), ours
    assert "ConnectionError" in ours[0] and password not in "".join(lines)


def test_a_number_whose_repr_is_hostile_is_logged_as_a_plain_number():
    class Loud(int):
        def __repr__(self) -> str:
            return "7\n\x1b[31mFORGED password=x"

    class Wide(float):
        def __repr__(self) -> str:
            return "1.5\r\nFORGED"

    for processor in (redact_secrets, escape_control_chars):
        event = processor(None, "info", {"event": "e", "n": Loud(7), "f": Wide(1.5), "deep": [Loud(7)]})
        assert (type(event["n"]), type(event["f"]), type(event["deep"][0])) == (int, float, int)
        assert json.dumps(event) == '{"event": "e", "n": 7, "f": 1.5, "deep": [7]}'


@pytest.mark.parametrize("name", ["auth_req_id", "login_hint_token", "dpop", "DPoP", "X-Api-Key"])
def test_more_credential_names_are_masked(name):
    value = make_secret(f"name-{name}")
    event = redact_secrets(None, "info", {"event": "e", name: value, "text": f"{name}={value}"})
    assert value not in json.dumps(event)


# -- the guard itself ------------------------------------------------------------------------

GUARDED = '''
import subprocess, sys
from _secret_guard import make_secret

def test_prints_a_shared_secret():
    print("oops {shared}")

def test_subprocess_leaks():
    subprocess.run([sys.executable, "-c", "print('{shared}')"], capture_output=True)

def test_generated_secret_on_stderr():
    print(make_secret("x"), file=sys.stderr)

def test_log_file(tmp_path):
    (tmp_path / "host.log").write_text("password={shared}")

def test_capsys_read(capsys):
    print("{shared}")
    assert capsys.readouterr().out

def test_temporary_directory_log():
    import tempfile, pathlib
    with tempfile.TemporaryDirectory() as folder:
        (pathlib.Path(folder) / "server.log").write_text("client_secret={shared}")

def test_clean():
    print("nothing to see")
'''


def test_the_secret_guard_fails_a_test_that_leaks(tmp_path, tmp_path_factory):
    shared = next(s for case in expected_cases().values() for s in case.get("secrets", ()))
    (tmp_path / "test_leaky.py").write_text(GUARDED.replace("{shared}", shared))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "_secret_guard", "-p", "no:cacheprovider",
                           "--show-capture=no", "--rootdir", str(tmp_path), "--basetemp", str(tmp_path_factory.mktemp("guard-inner")),
                           str(tmp_path / "test_leaky.py")],
                          capture_output=True, text=True, cwd=tmp_path,
                          env={"PYTHONPATH": str(TESTS), "PATH": "/usr/bin:/bin"})
    out = proc.stdout
    assert proc.returncode == 1, out[-3000:]
    for name in ("test_prints_a_shared_secret", "test_subprocess_leaks", "test_generated_secret_on_stderr",
                 "test_log_file", "test_capsys_read", "test_temporary_directory_log"):
        assert re.search(rf"(FAILED|ERROR) \S*{name}", out), (name, out[-3000:])
    assert "test_clean" not in out.split("short test summary")[-1]
    assert "secret guard" in out
    assert shared not in out  # the report names the source, not the value
