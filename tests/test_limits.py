"""Hostile requests: limits with defaults settable in rules.toml, decided in linear time.

Each limit is checked at its boundary (at the limit: decided by the rules; one
past: ``invalid_request``, 413 for the body), from rules.toml through
``Runner.parse`` and through ``authrules eval``. Time is checked as growth, not
speed: a request 4x larger must take well under 16x longer (quadratic) to
decide; absolute bounds are only generous hang guards.
"""

from __future__ import annotations

import gc
import json
import re
import time
from pathlib import Path
from typing import Callable

import pytest

from _fault_env import REPO
from _logcap import capture
from authrules import ConfigError, Limits, Request, Runner

RULES = """
[[rules]]
name = "deny-client"
type = "client-deny"
[rules.settings]
clients = ["CLIENT_ID"]
"""
DEFAULTS = {"max_body_bytes": 65536, "max_header_bytes": 16384, "max_headers": 100, "max_params": 256,
            "max_value_length": 16384, "max_json_depth": 8, "rule_timeout_ms": 1000}


def runner_with(tmp_path: Path, limits: str = "", logger=None) -> Runner:
    path = tmp_path / "rules.toml"
    path.write_text((f"[limits]\n{limits}\n" if limits else "") + RULES)
    return Runner.from_toml(path, logger=logger or capture(level=20)[0], autoload=False, load=["client-deny"])


def form(body: bytes, target: str = "/oauth/token", extra: bytes = b"") -> bytes:
    return (b"POST " + target.encode() + b" HTTP/1.1\r\nHost: as.example.com\r\n" + extra +
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def as_json(document: object) -> bytes:
    body = json.dumps(document).encode()
    return (b"POST /oauth/token HTTP/1.1\r\nHost: as.example.com\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body)


def decide(runner: Runner, raw: bytes):
    return runner.evaluate(runner.parse(raw))


def assert_invalid(decision, status: int = 400) -> None:
    assert decision.outcome == "deny" and decision.error == "invalid_request", decision
    assert decision.status == status and decision.rule is None


# -- defaults ---------------------------------------------------------------------------------

def test_defaults_are_the_documented_ones():
    assert {f: getattr(Limits(), f) for f in DEFAULTS} == DEFAULTS
    docs = (REPO / "docs" / "security.md").read_text()
    for name, value in DEFAULTS.items():
        row = re.search(rf"^\| `{name}` \| ([0-9_ ,]+)(?: \(|\s*\|)", docs, re.M)
        assert row, f"docs/security.md has no table row for {name}"
        assert int(re.sub(r"[_ ,]", "", row.group(1))) == value, name


def test_a_config_without_limits_uses_the_defaults(tmp_path):
    assert runner_with(tmp_path).limits == Limits()


@pytest.mark.parametrize("text,problem", [
    ("max_params = 0", "'max_params' must be a positive integer"),
    ("max_params = -5", "'max_params' must be a positive integer"),
    ('max_body_bytes = "1MB"', "'max_body_bytes' must be a positive integer"),
    ("max_json_depth = true", "'max_json_depth' must be a positive integer"),
    ("max_json_depth = 2.5", "'max_json_depth' must be a positive integer"),
    ("max_cookies = 3", "unknown key 'max_cookies'"),
])
def test_bad_limits_refuse_to_load_naming_file_and_key(tmp_path, text, problem):
    with pytest.raises(ConfigError) as info:
        runner_with(tmp_path, text)
    assert problem in str(info.value) and str(tmp_path / "rules.toml") in str(info.value)


# -- each limit at its boundary ----------------------------------------------------------------

def _params(n: int) -> bytes:
    return form(("client_id=c1&" + "&".join(f"p{i}=v" for i in range(n - 1))).encode())


def _body(n: int) -> bytes:
    body = b"client_id=c1"
    i = 0
    while len(body) < n:  # pads of at most 1000 bytes: only the body limit is in play
        pad = b"&p%d=" % i
        body += pad + b"x" * min(1000, n - len(body) - len(pad))
        i += 1
    assert len(body) == n
    return form(body)


def _value(n: int) -> bytes:
    return form(b"client_id=c1&state=" + b"s" * n)


def _value_percent(n: int) -> bytes:  # the decoded length counts, not the encoded one
    return form(b"client_id=c1&state=" + b"%41" * n)


def _depth(n: int) -> bytes:
    return as_json({"client_id": "c1", "audience": ["https://a.example"]} if n == 3 else
                   {"client_id": "c1"} if n == 2 else {"client_id": "c1", "x": [[["y"]]]})


def _headers(n: int) -> bytes:
    return form(b"client_id=c1", extra=b"".join(b"X-H%d: v\r\n" % i for i in range(n - 3)))


def _header_bytes(n: int) -> bytes:
    base = form(b"client_id=c1", extra=b"X-Pad: \r\n")
    head_len = base.index(b"\r\n\r\n")
    return form(b"client_id=c1", extra=b"X-Pad: " + b"p" * (n - head_len) + b"\r\n")


BOUNDARIES: list[tuple[str, int, Callable[[int], bytes], int]] = [
    ("max_params", 50, _params, 400),
    ("max_body_bytes", 2000, _body, 413),
    ("max_value_length", 300, _value, 400),
    ("max_value_length", 300, _value_percent, 400),
    ("max_json_depth", 3, _depth, 400),
    ("max_headers", 20, _headers, 431),
    ("max_header_bytes", 600, _header_bytes, 431),
]


@pytest.mark.parametrize("name,limit,make,status", BOUNDARIES,
                         ids=[f"{b[0]}-{b[2].__name__.strip('_')}" for b in BOUNDARIES])
def test_each_limit_is_settable_and_exact(tmp_path, name, limit, make, status):
    runner = runner_with(tmp_path, f"{name} = {limit}")
    assert getattr(runner.limits, name) == limit
    at = decide(runner, make(limit))
    assert at.outcome == "allow", (at.error, at.error_description)
    assert_invalid(decide(runner, make(limit + 1)), status)


@pytest.mark.parametrize("name,limit,make,status", [b for b in BOUNDARIES if b[0] != "max_json_depth"],
                         ids=[f"{b[0]}-{b[2].__name__.strip('_')}" for b in BOUNDARIES if b[0] != "max_json_depth"])
def test_the_defaults_apply_without_a_limits_table(tmp_path, name, limit, make, status):
    runner = runner_with(tmp_path)
    default = DEFAULTS[name]
    assert decide(runner, make(default)).outcome == "allow"
    assert_invalid(decide(runner, make(default + 1)), status)


def test_default_json_depth(tmp_path):
    runner = runner_with(tmp_path)
    nested = {"client_id": "c1", "audience": ["https://a.example"]}
    assert decide(runner, as_json(nested)).outcome == "allow"
    deep: object = "x"
    for _ in range(DEFAULTS["max_json_depth"]):
        deep = [deep]
    decision = decide(runner, as_json({"client_id": "c1", "audience": deep}))
    assert_invalid(decision)
    assert decision.error_description == "the JSON body is nested too deeply"


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_pathologically_deep_json_is_invalid_not_a_crash(tmp_path, depth):
    runner = runner_with(tmp_path, "max_body_bytes = 1000000")
    raw_body = b'{"audience":' + b"[" * depth + b"]" * depth + b"}"
    raw = (b"POST /oauth/token HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
           % len(raw_body) + raw_body)
    assert_invalid(decide(runner, raw))


def test_a_chunked_body_past_the_limit_is_413(tmp_path):
    runner = runner_with(tmp_path, "max_body_bytes = 100")
    chunks = b"".join(b"a\r\n" + b"x" * 10 + b"\r\n" for _ in range(11)) + b"0\r\n\r\n"
    raw = (b"POST /oauth/token HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n" + chunks)
    assert_invalid(decide(runner, raw), 413)


def test_a_request_parsed_under_looser_limits_is_rechecked(tmp_path):
    """A host that builds Request itself (default limits) still gets the runner's limits."""
    runner = runner_with(tmp_path, "max_params = 5\nmax_value_length = 10\nmax_body_bytes = 500")
    assert_invalid(runner.evaluate(Request.from_http(_params(6))))
    assert_invalid(runner.evaluate(Request.from_http(_value(11))))
    assert_invalid(runner.evaluate(Request.from_http(_body(501))), 413)
    assert runner.evaluate(Request.from_http(_params(5))).outcome == "allow"


def test_limits_apply_through_authrules_eval(tmp_path, authrules_exe):
    import subprocess
    config = tmp_path / "rules.toml"
    config.write_text("[limits]\nmax_params = 10\nmax_body_bytes = 300\n" + RULES)
    files = []
    for name, raw in (("ok", _params(10)), ("params", _params(11)), ("body", _body(301))):
        (tmp_path / f"{name}.http").write_bytes(raw)
        files.append(str(tmp_path / f"{name}.http"))
    proc = subprocess.run([str(authrules_exe), "eval", "--config", str(config), "--no-autoload", "-p",
                           "client-deny", *files], capture_output=True, timeout=60)
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(r["outcome"], r["error"], r["status"]) for r in results] == [
        ("allow", None, 200), ("deny", "invalid_request", 400), ("deny", "invalid_request", 413)]


# -- linear time ----------------------------------------------------------------------------------

WIDE = Limits(max_body_bytes=50_000_000, max_header_bytes=10_000_000, max_params=1_000_000,
              max_value_length=10_000_000, max_headers=1_000_000)


def _query_repeated(n: int) -> bytes:
    return ("GET /authorize?client_id=c1&" + "&".join(["audience=https%3A%2F%2Fa.example"] * n)
            + " HTTP/1.1\r\nHost: a\r\n\r\n").encode()


def _form_resources(n: int) -> bytes:
    return form("&".join(f"resource=https%3A%2F%2Fr{i}.example%2Fapi" for i in range(n)).encode())


def _form_same_secret(n: int) -> bytes:
    return form(b"client_id=c1&" + b"&".join([b"password=p%26w"] * n))


def _json_arrays(n: int) -> bytes:
    return as_json({"client_id": "c1", "audience": [f"https://a{i}.example" for i in range(n)],
                    "resource": [f"https://r{i}.example/" for i in range(n)]})


def _json_keys(n: int) -> bytes:
    return as_json({"client_id": "c1", **{f"k{i}": "v" for i in range(n)}})


def _chunked(n: int) -> bytes:
    body = b"client_id=c1&state=" + b"s" * n
    chunks = b"".join(b"1\r\n" + body[i:i + 1] + b"\r\n" for i in range(len(body))) + b"0\r\n\r\n"
    return (b"POST /oauth/token HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + chunks)


def _headers_many(n: int) -> bytes:
    return form(b"client_id=c1", extra=b"".join(b"X-H%d: v\r\n" % i for i in range(n)))


def _percent_value(n: int) -> bytes:
    return form(b"client_id=c1&state=" + b"%7E" * n)


SHAPES = [_query_repeated, _form_resources, _form_same_secret, _json_arrays, _json_keys, _chunked,
          _headers_many, _percent_value]


def _cost(runner: Runner, raw: bytes) -> float:
    best = float("inf")
    gc.disable()  # collector pauses are noise here: the question is the algorithm's growth
    try:
        for _ in range(5):  # the best of five: a shared machine's noise only ever adds time
            start = time.perf_counter()
            runner.evaluate(Request.from_http(raw, limits=WIDE))
            best = min(best, time.perf_counter() - start)
    finally:
        gc.enable()
    return best


@pytest.mark.parametrize("make", SHAPES, ids=[s.__name__.strip("_") for s in SHAPES])
def test_decision_time_grows_linearly(tmp_path, make):
    runner = Runner.from_dict({"limits": {f: getattr(WIDE, f) for f in DEFAULTS if f != "rule_timeout_ms"},
                               "rules": [{"name": "deny-client", "type": "client-deny",
                                          "settings": {"clients": ["CLIENT_ID"]}}]},
                              logger=capture(level=20)[0], autoload=False, load=["client-deny"])
    small, large = make(5_000), make(40_000)
    decision = runner.evaluate(Request.from_http(large, limits=WIDE))
    assert decision.outcome == "allow", decision.error_description  # parsed in full, not cut short by a limit
    _cost(runner, small)  # warm up
    # 8x the input: linear is ~8x, quadratic ~64x. The bound sits far from both, so a busy 2-core
    # machine cannot fail a linear parser and a quadratic step cannot pass.
    ratios = []
    for _ in range(3):
        ratios.append(_cost(runner, large) / max(_cost(runner, small), 1e-4))
        if ratios[-1] < 24:
            break
    assert min(ratios) < 24, f"{make.__name__}: 8x the input took {min(ratios):.1f}x the time"


@pytest.mark.parametrize("wide", [False, True], ids=["default-limits", "raised-limits"])
def test_twenty_thousand_repeated_parameters_are_decided_in_milliseconds(tmp_path, wide):
    runner = runner_with(tmp_path, "max_params = 1000000\nmax_header_bytes = 10000000\nmax_body_bytes = 10000000"
                         if wide else "")
    for raw in (_query_repeated(20_000), _form_same_secret(20_000), form(b"&".join([b"a=b"] * 20_000))):
        start = time.perf_counter()
        decision = decide(runner, raw)
        assert time.perf_counter() - start < 1.0  # a hang guard: this takes a few ms
        if not wide:
            assert_invalid(decision, decision.status)
            assert decision.status in (400, 413, 431)
