"""Logging in a host: authrules' events flow through the host's structlog setup or a logger it passes,
authrules configures nothing global, and the decision id is right per thread and per asyncio task.

Tests that configure structlog or look at global logging state run in a
fresh interpreter (a subprocess), so that nothing here depends on, or
changes, what the test process itself has configured.
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from _hostkit import DEFAULT_RULES, GOOD_CLIENT, SEED_RULES, ExampleHost, quiet_logger, shared_cases
from authrules import Request, Runner, RuleType, current_decision_id, hookimpl

SHARED_SECRETS = sorted({s for _name, _raw, expected in shared_cases() for s in expected.get("secrets", ())})


def run_python(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "host.py"
    script.write_text(textwrap.dedent(code))
    cases = [str(p) for p in sorted(_cases_dir().glob("*.http"))]
    return subprocess.run([sys.executable, str(script), str(DEFAULT_RULES), *cases], capture_output=True,
                          text=True, timeout=120, cwd=str(tmp_path))


def _cases_dir() -> Path:
    from _hostkit import shared_cases_dir
    return shared_cases_dir()


#: Drives a runner, the WSGI middleware and the ASGI middleware once per shared case.
DRIVE = """
import asyncio, io, sys
from authrules import Runner
from authrules.wsgi import AuthrulesMiddleware as WsgiGuard
from authrules.asgi import AuthrulesMiddleware as AsgiGuard

def drive(runner):
    ids = []
    for path in sys.argv[2:]:
        ids.append(runner.evaluate(runner.parse(open(path, "rb").read())).decision_id)

    def app(environ, start_response):
        start_response("200 OK", [])
        return [b""]
    wsgi = WsgiGuard(app, runner, token_paths=["/oauth/token"])
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/oauth/token", "QUERY_STRING": "", "SCRIPT_NAME": "",
               "CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": "47",
               "wsgi.input": io.BytesIO(b"grant_type=password&password=Hunter-Wsgi-Secret")}
    b"".join(wsgi(environ, lambda status, headers: None))

    async def asgi_app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})
    asgi = AsgiGuard(asgi_app, runner, token_paths=["/oauth/token"])
    messages = [{"type": "http.request", "body": b"grant_type=password&password=Hunter-Asgi-Secret"}]
    async def receive():
        return messages.pop(0)
    async def send(message):
        pass
    asyncio.run(asgi({"type": "http", "method": "POST", "path": "/oauth/token", "query_string": b"",
                      "headers": [(b"content-type", b"application/x-www-form-urlencoded")]}, receive, send))
    return ids
"""


def test_the_hosts_structlog_configuration_renders_authrules_events(tmp_path: Path) -> None:
    result = run_python(DRIVE + """
import json, structlog
def host_tag(logger, method, event):
    event["rendered_by"] = "the-host"
    return event
structlog.configure(
    processors=[structlog.processors.add_log_level, host_tag, structlog.processors.JSONRenderer(sort_keys=True)],
    wrapper_class=structlog.make_filtering_bound_logger(10),
    logger_factory=structlog.PrintLoggerFactory(file=sys.stdout))
runner = Runner.from_toml(sys.argv[1])       # no logger given: the host's structlog configuration
ids = drive(runner)
print(json.dumps({"ids": ids}))
""", tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    events = [json.loads(line) for line in lines]  # every line is one JSON object
    ids = events.pop()["ids"]
    decisions = [e for e in events if e["event"] == "authrules.decision"]
    assert len(decisions) == len(ids) + 2  # the shared cases, then one through each middleware
    assert [e["decision_id"] for e in decisions[:len(ids)]] == ids
    assert all(e["rendered_by"] == "the-host" and e["level"] == "info" for e in decisions)
    rules = [e for e in events if e["event"] == "authrules.rule"]
    assert rules and all(e["rendered_by"] == "the-host" and e["level"] == "debug" for e in rules)
    assert {e["decision_id"] for e in rules} <= {e["decision_id"] for e in decisions}
    for secret in [*SHARED_SECRETS, "Hunter-Wsgi-Secret", "Hunter-Asgi-Secret"]:
        assert secret not in result.stdout and secret not in result.stderr


def test_a_logger_the_host_passes_gets_every_event(tmp_path: Path) -> None:
    result = run_python(DRIVE + """
import structlog
def host_tag(logger, method, event):
    event["via"] = "passed-logger"
    return event
logger = structlog.wrap_logger(structlog.PrintLogger(sys.stderr),
                               processors=[structlog.processors.add_log_level, host_tag,
                                           structlog.processors.JSONRenderer()],
                               wrapper_class=structlog.make_filtering_bound_logger(20))
runner = Runner.from_toml(sys.argv[1], logger=logger)
drive(runner)
print("done")
""", tmp_path)
    assert result.returncode == 0, result.stderr
    # structlog's global default (a pretty printer on stdout) saw nothing: only our marker is there.
    assert result.stdout == "done\n"
    events = [json.loads(line) for line in result.stderr.splitlines()]
    decisions = [e for e in events if e["event"] == "authrules.decision"]
    assert len(decisions) == len(list(_cases_dir().glob("*.http"))) + 2
    assert all(e["via"] == "passed-logger" for e in events)
    assert not [e for e in events if e["event"] == "authrules.rule"]  # the host's level (info) is honoured


def test_importing_and_using_authrules_changes_no_global_logging_configuration(tmp_path: Path) -> None:
    result = run_python("""
import json, logging, sys, warnings
import structlog, pluggy, tomli   # authrules' own dependencies, imported before the snapshot

def snapshot():
    manager = logging.Logger.manager
    loggers = {name: (getattr(lg, "level", None), list(getattr(lg, "handlers", [])),
                      getattr(lg, "propagate", None), getattr(lg, "disabled", None))
               for name, lg in manager.loggerDict.items()}
    return {"structlog_config": structlog.get_config(), "structlog_configured": structlog.is_configured(),
            "root_handlers": list(logging.root.handlers), "root_level": logging.root.level,
            "loggers": loggers, "disable": manager.disable, "logger_class": logging.getLoggerClass(),
            "last_resort": logging.lastResort, "streams": (sys.stdout, sys.stderr),
            "warnings": list(warnings.filters)}

before = snapshot()
import authrules, authrules.wsgi, authrules.asgi
after_import = snapshot()
""" + DRIVE.replace("import asyncio, io, sys", "import asyncio, io") + """
runner = Runner.from_toml(sys.argv[1])
drive(runner)
runner.reload()
after_use = snapshot()
diff = [k for k in before if before[k] != after_import[k] or before[k] != after_use[k]]
print(json.dumps({"changed": diff, "configured": structlog.is_configured(),
                  "root_handlers": len(logging.root.handlers)}))
""", tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report == {"changed": [], "configured": False, "root_handlers": 0}


def test_example_hosts_render_authrules_events_through_their_own_setup() -> None:
    for name, tag in (("flask", "flask-example"), ("starlette", "starlette-example")):
        with ExampleHost(name) as host:
            response = host.send(b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                 b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 62\r\n\r\n"
                                 b"grant_type=password&password=Pw-Not-Logged&client_id=CLIENT_ID")
            assert response.status == 401
            events = [json.loads(line) for line in host.log_lines()]  # one JSON object a line, stdlib's too
            decision = [e for e in events if e["event"] == "authrules.decision"][-1]
            assert decision["host"] == tag and decision["level"] == "info" and "timestamp" in decision
            assert decision["client_id"] == "CLIENT_ID" and decision["rule"] == "deny-todo-api"  # no audience
            assert "Pw-Not-Logged" not in host.log_text()


# -- the decision id, per thread and per task ---------------------------------------------------------


class IdProbe:
    """Rules that record the decision id they see, keyed by the request's ``n`` parameter."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[str | None, ...]] = {}

    def inline(self, request: Request, _settings: Any) -> None:
        self.seen[request.param("n") + ":inline"] = (current_decision_id(),)

    def blocking(self, request: Request, _settings: Any) -> None:
        first = current_decision_id()
        threading.Event().wait(random.random() / 2000)
        self.seen[request.param("n") + ":blocking"] = (first, current_decision_id())

    async def awaiting(self, request: Request, _settings: Any) -> None:
        first = current_decision_id()
        for _ in range(3):
            await asyncio.sleep(random.random() / 1000)
        self.seen[request.param("n") + ":async"] = (first, current_decision_id())

    @hookimpl
    def authrules_rule_types(self) -> list[RuleType]:
        return [RuleType("id-inline", self.inline), RuleType("id-blocking", self.blocking, blocking=True),
                RuleType("id-async", self.awaiting)]


def _request(n: str) -> Request:
    return Request.from_parts("POST", f"/oauth/token?n={n}&client_id={GOOD_CLIENT}"
                              "&audience=https://billing.example.com/api", [])


def test_decision_id_is_right_in_every_thread() -> None:
    probe = IdProbe()
    runner = Runner.from_dict({"rules": [{"name": "a", "type": "id-inline"}, {"name": "b", "type": "id-blocking"},
                                         *SEED_RULES]}, logger=quiet_logger(), plugins=[probe])
    errors: list[BaseException] = []
    results: list[tuple[str, str]] = []
    lock = threading.Lock()

    def work(t: int) -> None:
        try:
            for i in range(150):
                n = f"{t}-{i}"
                decision = runner.evaluate(_request(n))
                assert current_decision_id() is None  # set only while the rules run
                with lock:
                    results.append((n, decision.decision_id))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors[0]
    assert len(results) == 8 * 150 and len({d for _, d in results}) == len(results)
    for n, did in results:
        assert probe.seen[n + ":inline"] == (did,)
        assert probe.seen[n + ":blocking"] == (did, did)  # in the worker thread too


def test_decision_id_is_right_in_every_asyncio_task() -> None:
    probe = IdProbe()
    runner = Runner.from_dict({"rules": [{"name": "a", "type": "id-async"}, {"name": "b", "type": "id-inline"},
                                         {"name": "c", "type": "id-blocking"}, *SEED_RULES]},
                              logger=quiet_logger(), plugins=[probe])

    async def one(n: str) -> tuple[str, str, str | None]:
        decision = await runner.evaluate_async(_request(n))
        return n, decision.decision_id, current_decision_id()

    async def main() -> list[tuple[str, str, str | None]]:
        return await asyncio.gather(*(one(str(i)) for i in range(300)))

    results = asyncio.run(main())
    assert len({d for _, d, _ in results}) == 300
    for n, did, after in results:
        assert after is None
        assert probe.seen[n + ":async"] == (did, did)  # the same id across awaits, while 299 others interleave
        assert probe.seen[n + ":inline"] == (did,)
        assert probe.seen[n + ":blocking"] == (did, did)


@pytest.mark.parametrize("name", ["wsgi", "asgi"])
def test_middleware_modules_import_without_side_effects(name: str, tmp_path: Path) -> None:
    """Importing a middleware module starts no thread and opens no file or socket."""
    result = run_python(f"""
import threading
before = threading.active_count()
import authrules.{name}
print(threading.active_count() - before)
""", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"
