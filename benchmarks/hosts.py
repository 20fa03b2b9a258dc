"""Requests per second through the example hosts, with the authrules middleware on and off.

Each host (``examples/hosts/flask_app.py``: Flask under waitress;
``examples/hosts/starlette_app.py``: Starlette under uvicorn) is started twice,
each in its own process, through its own ``main()`` on 127.0.0.1 with a free
port and its own logging (JSON lines on stderr, sent to a file here):

* ``on``: exactly as shipped, the middleware in front of the endpoints;
* ``off``: the same host, with the middleware replaced by a shim that only puts
  one precomputed allow ``Decision`` where the endpoint reads it (the endpoint
  needs one), so no request is parsed, decided or logged by authrules.

The load is the allowed requests of the mix (both endpoints, GET and POST, form
bodies, Basic credentials), so every request runs the whole middleware and
reaches the endpoint in both modes. The load generator is a separate Python
process (asyncio, keep-alive connections, raw request bytes, every answer read
and its status counted); it runs for a fixed time against one server at a
time, alternating off/on, and the median over the rounds is reported.

``wsgi_breakdown`` then calls the Flask host in-process (no server, no
sockets) with and without the middleware, times the middleware's parts alone
and profiles it: the evidence for where a guarded request's time goes.

Run: ``python -m benchmarks.hosts measure [--quick]`` (or ``breakdown``) prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

from .common import ALLOWED, ROOT, raw_request

HOSTS = {"flask+waitress": ROOT / "examples" / "hosts" / "flask_app.py",
         "starlette+uvicorn": ROOT / "examples" / "hosts" / "starlette_app.py"}
DECISION_KEY = "authrules.decision"
READ_TIMEOUT = 10.0  # seconds for one answer; a host that takes longer is reported as failing


class HostFailed(Exception):
    pass


# -- the server process ----------------------------------------------------------------------------

def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"bench_host_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _allow_decision(runner: Any) -> Any:
    decision = runner.evaluate(runner.parse(raw_request(ALLOWED[0])))
    assert decision.allowed, decision
    return decision


class _WsgiShim:
    """Stands where the middleware stood: hands the endpoint a decision, decides nothing."""

    def __init__(self, app: Any, decision: Any) -> None:
        self.app, self.decision = app, decision

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        environ[DECISION_KEY] = self.decision
        return self.app(environ, start_response)


class _AsgiShim:
    def __init__(self, app: Any, decision: Any) -> None:
        self.app, self.decision = app, decision

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope[DECISION_KEY] = self.decision
            state = scope.get("state")
            scope["state"] = {**state, DECISION_KEY: self.decision} if state else {DECISION_KEY: self.decision}
        await self.app(scope, receive, send)


def serve(host: str, middleware: str) -> int:
    module = _load(HOSTS[host])
    if middleware == "off":
        create_app = module.create_app

        def without_middleware(runner: Any, registry: Any = None) -> Any:
            app = create_app(runner, registry)
            decision = _allow_decision(runner)
            if hasattr(app, "wsgi_app"):  # Flask: the middleware wraps app.wsgi_app
                from authrules.wsgi import AuthrulesMiddleware

                assert isinstance(app.wsgi_app, AuthrulesMiddleware)
                app.wsgi_app = _WsgiShim(app.wsgi_app.app, decision)
            else:  # Starlette: the middleware is declared in app.user_middleware
                from starlette.middleware import Middleware

                from authrules.asgi import AuthrulesMiddleware as AsgiMiddleware

                kept = [m for m in app.user_middleware if m.cls is not AsgiMiddleware]
                assert len(kept) == len(app.user_middleware) - 1
                app.user_middleware[:] = [Middleware(_AsgiShim, decision=decision), *kept]
            return app

        module.create_app = without_middleware
    return int(module.main(["--port", "0"]) or 0)


# -- the load generator process --------------------------------------------------------------------

def _keep_alive(raw: bytes) -> bytes:
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:")]
    return b"\r\n".join(lines) + b"\r\nConnection: keep-alive" + sep + body


async def _connection(port: int, requests: list[bytes], deadline: float, counts: dict[int, int],
                      offset: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = offset
    try:
        while time.perf_counter() < deadline:
            writer.write(requests[i % len(requests)])
            i += 1
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
                elif name.strip().lower() == b"transfer-encoding":
                    raise RuntimeError("chunked answers are not expected from the example hosts")
            if length:
                await asyncio.wait_for(reader.readexactly(length), READ_TIMEOUT)
            counts[status] = counts.get(status, 0) + 1
    finally:
        writer.close()


async def _load_async(port: int, seconds: float, connections: int) -> dict[str, Any]:
    requests = [_keep_alive(raw_request(name)) for name in ALLOWED]
    counts: dict[int, int] = {}
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(*(_connection(port, requests, deadline, counts, i) for i in range(connections)))
    elapsed = time.perf_counter() - start
    done = sum(counts.values())
    return {"requests": done, "seconds": elapsed, "rps": done / elapsed, "statuses": counts}


def load(port: int, seconds: float, connections: int) -> dict[str, Any]:
    return asyncio.run(_load_async(port, seconds, connections))


# -- in process: where the middleware's time goes ------------------------------------------------------

def wsgi_breakdown(repeat: int = 300) -> dict[str, Any]:
    """The Flask host called in-process (no server, no sockets), middleware on and off, and its parts.

    Each part is timed alone over the same allowed requests, with the host's own
    logging set-up writing to a file: reading the request into a ``Request``
    (``Request.from_parts``, as the middleware does), ``Runner.evaluate`` with
    its one decision line through the host's processor chain, and the host's
    whole app with and without the middleware. Also the functions with the
    most own time in a cProfile of the middleware-on app.
    """
    import cProfile
    import io
    import logging
    import pstats

    import structlog

    from authrules import Request, Runner
    from authrules._http import parse_http
    from authrules._limits import DEFAULT_LIMITS

    module = _load(HOSTS["flask+waitress"])
    sink = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    module.configure_logging("json", "info")  # the host's chain; then its output goes to /dev/null
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=sink))
    logging.getLogger().handlers[0].stream = sink  # type: ignore[attr-defined]
    runner = Runner.from_toml(ROOT / "rules.toml")
    on = module.create_app(runner)
    off = module.create_app(runner)
    off.wsgi_app = _WsgiShim(off.wsgi_app.app, _allow_decision(runner))
    parts = [parse_http(raw_request(name), DEFAULT_LIMITS) for name in ALLOWED]

    def environ(method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> dict[str, Any]:
        path, _, query = target.partition("?")
        env: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
                               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
                               "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body), "wsgi.errors": sink,
                               "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
                               "wsgi.version": (1, 0), "SCRIPT_NAME": ""}
        for name, value in headers:
            key = name.upper().replace("-", "_")
            env[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key] = value
        return env

    def through(app: Any) -> None:
        for method, target, headers, body in parts:
            statuses: list[str] = []
            b"".join(app(environ(method, target, headers, body), lambda s, h, e=None: statuses.append(s)))
            assert statuses[0].startswith("200"), statuses

    requests = [Request.from_parts(m, t, h, b, limits=runner.limits) for m, t, h, b in parts]

    def parse() -> None:
        for m, t, h, b in parts:
            Request.from_parts(m, t, h, b, limits=runner.limits)

    def decide() -> None:
        for request in requests:
            runner.evaluate(request)

    def best(fn: Any) -> float:
        fn()
        return min(timeit.repeat(fn, number=repeat // 10, repeat=7)) / (repeat // 10) / len(parts) * 1e6

    result = {"per_request_us": {"app without middleware": best(lambda: through(off)),
                                 "app with middleware": best(lambda: through(on)),
                                 "Request.from_parts": best(parse),
                                 "Runner.evaluate + its log line (host chain)": best(decide)}}
    profiler = cProfile.Profile()
    profiler.runcall(lambda: [through(on) for _ in range(repeat)])
    stats = pstats.Stats(profiler, stream=io.StringIO())
    total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
    rows = sorted(((v[2] / total, f"{Path(k[0]).name}:{k[1]}({k[2]})") for k, v in stats.stats.items()),  # type: ignore[attr-defined]
                  reverse=True)[:15]
    result["profile_own_time_share"] = [{"function": name, "share": share} for share, name in rows]
    sink.close()
    return result


# -- the orchestration ----------------------------------------------------------------------------------

class Server:
    def __init__(self, host: str, middleware: str, folder: Path) -> None:
        self.log_path = folder / f"{host.split('+')[0]}-{middleware}.log"
        self.log = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115
        self.process = subprocess.Popen([sys.executable, "-m", "benchmarks.hosts", "serve", host, middleware],
                                        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self.log,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.port = self._wait_port()

    def _wait_port(self, timeout: float = 30) -> int:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.process.poll() is not None:
                raise HostFailed(f"host exited early: {self.log_path.read_text()[-300:]}")
            for line in self.log_path.read_text(encoding="utf-8").splitlines():
                if '"host.listening"' in line:
                    return int(json.loads(line)["port"])
            time.sleep(0.05)
        raise HostFailed(f"host did not start in {timeout} s: {self.log_path}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.log.close()


def _drive(port: int, seconds: float, connections: int) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "benchmarks.hosts", "load", str(port), str(seconds),
                           str(connections)], cwd=ROOT, capture_output=True, text=True, timeout=seconds + 60,
                          check=False)
    if done.returncode != 0:
        raise HostFailed(f"load generator failed: {done.stderr.strip().splitlines()[-1][-300:]}")
    return json.loads(done.stdout)


def measure(quick: bool = False, rounds: int = 5, seconds: float = 3.0, connections: int = 8) -> dict[str, Any]:
    missing = [str(p.relative_to(ROOT)) for p in HOSTS.values() if not p.exists()]
    if missing:
        return {"skipped": f"{', '.join(missing)} not there"}
    if quick:
        rounds, seconds = 1, 0.5
    folder = Path(tempfile.mkdtemp(prefix="authrules-hosts-"))
    out: dict[str, Any] = {
        "method": (f"{connections} keep-alive connections from a separate Python (asyncio) process, "
                   f"{rounds} rounds of {seconds:g} s per mode, alternating off/on, after a warm-up; the "
                   f"{len(ALLOWED)} allowed example requests round-robin; median requests/s"),
        "hosts": {},
    }
    for host in HOSTS:
        try:
            out["hosts"][host] = _measure_host(host, folder, rounds, seconds, connections)
        except HostFailed as exc:
            out.setdefault("failed", {})[host] = str(exc)
    out["flask_in_process"] = run_breakdown()
    return out


def run_breakdown() -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "benchmarks.hosts", "breakdown"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1][-300:] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout)


def _measure_host(host: str, folder: Path, rounds: int, seconds: float, connections: int) -> dict[str, Any]:
    servers = {mode: Server(host, mode, folder) for mode in ("off", "on")}
    try:
        samples: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
        for mode, server in servers.items():
            _drive(server.port, min(1.0, seconds), connections)  # warm-up
        for _ in range(rounds):
            for mode, server in servers.items():
                samples[mode].append(_drive(server.port, seconds, connections))
    finally:
        for server in servers.values():
            server.stop()
    result: dict[str, Any] = {}
    for mode, runs in samples.items():
        statuses: dict[str, int] = {}
        for run in runs:
            for status, count in run["statuses"].items():
                statuses[str(status)] = statuses.get(str(status), 0) + count
        if set(statuses) != {"200"}:
            raise HostFailed(f"{host} ({mode}): answers other than 200 for allowed requests: {statuses}")
        result[mode] = {"rps_median": statistics.median(r["rps"] for r in runs),
                        "rps_runs": [r["rps"] for r in runs], "requests": sum(r["requests"] for r in runs)}
    decisions = sum('"authrules.decision"' in line for line in servers["on"].log_path.read_text().splitlines())
    stray = sum('"authrules.decision"' in line for line in servers["off"].log_path.read_text().splitlines())
    if decisions < result["on"]["requests"] or stray != 1:  # off: only the shim's precomputed decision
        raise HostFailed(f"{host}: {decisions} decision events with the middleware on for "
                         f"{result['on']['requests']} requests, {stray} with it off (expected 1)")
    result["ratio"] = result["on"]["rps_median"] / result["off"]["rps_median"]
    result["logs"] = {mode: str(server.log_path) for mode, server in servers.items()}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    s = sub.add_parser("serve")
    s.add_argument("host", choices=tuple(HOSTS))
    s.add_argument("middleware", choices=("on", "off"))
    g = sub.add_parser("load")
    g.add_argument("port", type=int)
    g.add_argument("seconds", type=float)
    g.add_argument("connections", type=int)
    sub.add_parser("breakdown")
    m = sub.add_parser("measure")
    m.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.command == "serve":
        sys.exit(serve(args.host, args.middleware))
    elif args.command == "breakdown":
        print(json.dumps(wsgi_breakdown(), indent=2))
    elif args.command == "load":
        print(json.dumps(load(args.port, args.seconds, args.connections)))
    else:
        print(json.dumps(measure(quick=getattr(args, "quick", False)), indent=2))


if __name__ == "__main__":
    main()
