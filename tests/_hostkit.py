"""Helpers for the embedding tests (issue 4): example hosts as real processes, raw HTTP over sockets.

``ExampleHost`` starts ``examples/hosts/<name>.py`` under its real server
(waitress or uvicorn) on 127.0.0.1 with a free port, waits until it logs
``host.listening`` and accepts connections, and always terminates it.
``send_raw`` writes raw request bytes to a socket and parses the answer with
``http.client`` (a real HTTP/1.1 response parser). ``Probe`` is an in-process
plugin whose rules record what they saw.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from authrules import Deny, RuleType, current_decision_id, hookimpl

REPO = Path(__file__).resolve().parent.parent
HOSTS = REPO / "examples" / "hosts"
DEFAULT_RULES = REPO / "rules.toml"
HOST_SCRIPTS = {"flask": HOSTS / "flask_app.py", "starlette": HOSTS / "starlette_app.py"}

#: The client and redirect URI the shared cases use for their allowed client.
GOOD_CLIENT = "aB3dEfGh1JkLmNoP"
CALLBACK = "https://app.example.com/callback"
BILLING = "https://billing.example.com/api"
TODO = "http://todoapi2.api"


def shared_cases_dir() -> Path:
    """``shared/cases/requests``: $AUTHRULES_SHARED_CASES, else beside the clone or above it, else /work/shared."""
    candidates = []
    if os.environ.get("AUTHRULES_SHARED_CASES"):
        candidates.append(Path(os.environ["AUTHRULES_SHARED_CASES"]))
    for base in (REPO, *REPO.parents):
        candidates.append(base / "shared" / "cases" / "requests")
    candidates.append(Path("/work/shared/cases/requests"))
    for candidate in candidates:
        if (candidate / "expected.json").is_file():
            return candidate.resolve()
    raise AssertionError("shared/cases/requests/expected.json not found; looked in "
                         + ", ".join(str(c) for c in candidates))


def shared_cases() -> list[tuple[str, bytes, dict[str, Any]]]:
    folder = shared_cases_dir()
    expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    cases = [(p.stem, p.read_bytes(), expected[p.stem]) for p in sorted(folder.glob("*.http"))]
    assert len(cases) == len(expected) and cases, "every shared case has an expected decision"
    return cases


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    header_list: list[tuple[str, str]] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.body)


def send_raw(port: int, raw: bytes, timeout: float = 10.0) -> Response:
    """Send one raw request on a new connection; parse the answer with http.client."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        response = http.client.HTTPResponse(sock, method=raw.split(b" ", 1)[0].decode("ascii"))
        response.begin()
        body = response.read()
        headers = response.getheaders()
        return Response(response.status, {k.lower(): v for k, v in headers}, body, headers)


def raw_request(method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b"",
                chunked: bool = False) -> bytes:
    """Raw HTTP/1.1 request bytes; ``chunked`` sends the body in several chunks."""
    headers = headers or {}
    lines = [f"{method} {target} HTTP/1.1", "Connection: close"]
    if not any(name.lower() == "host" for name in headers):  # RFC 9112 3.2: exactly one Host
        lines.insert(1, "Host: 127.0.0.1")
    for name, value in headers.items():
        lines.append(f"{name}: {value}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        step = max(1, len(body) // 3)
        encoded = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + step]), body[i:i + step])
                           for i in range(0, len(body), step)) + b"0\r\n\r\n"
    else:
        if body or method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(body)}")
        encoded = body
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + encoded


class ExampleHost:
    """One example host process under its real server; use as a context manager."""

    def __init__(self, name: str, *args: str, config: Path | None = None, startup_timeout: float = 30.0) -> None:
        self.name = name
        self.args = list(args)
        self.config = config
        self.startup_timeout = startup_timeout
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._logdir = tempfile.TemporaryDirectory(prefix=f"authrules-{name}-")
        self.log_path = Path(self._logdir.name) / "stderr.log"

    def __enter__(self) -> "ExampleHost":
        self.port = free_port()
        command = [sys.executable, str(HOST_SCRIPTS[self.name]), "--port", str(self.port), *self.args]
        if self.config is not None:
            command += ["--config", str(self.config)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTHRULES_")}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL,
                                         cwd=str(REPO), env=env)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} host exited with {self.proc.returncode}:\n{self.log_text()}")
            if any(e.get("event") == "host.listening" for e in self.events()):
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return
                except OSError:
                    pass
            time.sleep(0.05)
        raise AssertionError(f"{self.name} host not ready in {self.startup_timeout}s:\n{self.log_text()}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    def __exit__(self, *exc: Any) -> None:
        self.stop()
        self._logdir.cleanup()

    # -- what it logged -------------------------------------------------------------

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_lines(self) -> list[str]:
        return [line for line in self.log_text().splitlines() if line.strip()]

    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_lines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    # -- requests -------------------------------------------------------------------

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def send(self, raw: bytes, timeout: float = 10.0) -> Response:
        return send_raw(self.port, raw, timeout)


# -- in-process rules that show what the rules saw ------------------------------------------------


@dataclass(frozen=True)
class DenySettings:
    error: str = "access_denied"
    description: str = "denied_by_test"
    status: int = 403


@dataclass(frozen=True)
class RoleSettings:
    role: str = "admin"


class Probe:
    """An in-process plugin: ``probe`` records each request it sees (and the decision id in force),
    ``probe-async`` does the same as ``async def``, ``deny-all`` denies with its settings,
    ``need-role`` denies a request whose host-supplied user lacks a role."""

    def __init__(self) -> None:
        self.seen: list[Any] = []
        self.ids: list[str | None] = []

    def _record(self, request: Any, _settings: Any) -> None:
        self.seen.append(request)
        self.ids.append(current_decision_id())

    async def _record_async(self, request: Any, _settings: Any) -> None:
        await asyncio.sleep(0)
        self.seen.append(request)
        self.ids.append(current_decision_id())

    @staticmethod
    def _deny_all(_request: Any, settings: DenySettings) -> Deny:
        return Deny(settings.error, settings.description, settings.status)

    @staticmethod
    def _need_role(request: Any, settings: RoleSettings) -> Deny | None:
        roles = (request.user or {}).get("roles", ())
        return None if settings.role in roles else Deny("access_denied", "role_required", 403)

    @hookimpl
    def authrules_rule_types(self) -> list[RuleType]:
        return [RuleType("probe", self._record), RuleType("probe-async", self._record_async),
                RuleType("deny-all", self._deny_all, DenySettings),
                RuleType("need-role", self._need_role, RoleSettings)]


def quiet_logger() -> Any:
    """A structlog logger that drops every event (no global configuration touched)."""
    def drop(*_: Any) -> Any:
        raise structlog.DropEvent
    return structlog.wrap_logger(structlog.ReturnLogger(), processors=[drop])


SEED_RULES = [
    {"name": "deny-todo-api", "type": "audience-deny",
     "settings": {"audiences": [TODO], "deny_missing": True}},
    {"name": "deny-client", "type": "client-deny", "settings": {"clients": ["CLIENT_ID"]}},
]
