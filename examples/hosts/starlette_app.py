#!/usr/bin/env python3
"""Example host: a Starlette app under uvicorn, its OAuth endpoints guarded by authrules.

    python examples/hosts/starlette_app.py --port 8080 [--config PATH] [--watch]
                                           [--client CLIENT_ID=REDIRECT_URI ...]

It serves ``/authorize`` and ``/oauth/token`` on 127.0.0.1. The rules of
rules.toml (default: the repo's own) run first, in the ASGI middleware,
through ``runner.evaluate_async``; a deny is answered as RFC 6749 says (JSON
error at the token endpoint, an error redirect or a plain page at the
authorization endpoint). An allowed request reaches the endpoint, which
answers ``{"allowed": true, "client_id": ..., "scopes": [...]}`` from the
decision, plus what the endpoint itself read from the request
(``grant_type``, ``response_type``) to show the body was replayed.

``--client`` registers a redirect URI for a client. Only for registered pairs
does a deny at /authorize redirect back to the client; with none registered
(the default) every deny is a plain page with the decision's status.
``--watch`` reloads the rules when the file changes (polling its mtime).

This file is a host, so it configures logging for its own process: structlog
and the stdlib ``logging`` module (uvicorn logs there) both write one JSON
object per line on stderr. authrules' events arrive through that setup.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse
from starlette.routing import Route

from authrules import ConfigError, Runner, escape_control_chars, flatten_exceptions, redact_secrets
from authrules.asgi import DECISION_KEY, AuthrulesMiddleware, ConfigWatcher

REPO = Path(__file__).resolve().parents[2]
HOST_NAME = "starlette-example"


def configure_logging(fmt: str, level: str) -> None:
    """The host's own logging: structlog and stdlib ``logging`` to stderr, one event per line."""
    def tag(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("host", HOST_NAME)
        return event

    renderer: Any = (structlog.processors.JSONRenderer() if fmt == "json"
                     else structlog.dev.ConsoleRenderer(colors=False))
    shared = [structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True), tag,
              flatten_exceptions, redact_secrets, escape_control_chars]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class ClientRegistry:
    """The host's record of each client's redirect URIs (here: from ``--client`` flags)."""

    def __init__(self, pairs: list[str]) -> None:
        self.uris: dict[str, set[str]] = {}
        for pair in pairs:
            client_id, sep, uri = pair.partition("=")
            if not sep or not client_id or not uri:
                raise SystemExit(f"--client takes CLIENT_ID=REDIRECT_URI, got {pair!r}")
            self.uris.setdefault(client_id, set()).add(uri)

    async def check(self, client_id: str, redirect_uri: str | None) -> bool | str:
        # async def, as a lookup in a real client store would be; the middleware awaits it.
        registered = self.uris.get(client_id, set())
        if redirect_uri is None:  # RFC 6749 3.1.2.3: allowed when exactly one URI is registered
            return next(iter(registered)) if len(registered) == 1 else False
        return redirect_uri in registered  # exact string match (RFC 6749 3.1.2.3, OAuth 2.0 Security BCP)


async def _host_params(request: HttpRequest) -> dict[str, Any]:
    """What the endpoint itself reads from the request: query, then form or JSON body."""
    params: dict[str, Any] = dict(request.query_params.items())
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()  # replayed by the middleware after it read the body itself
    if media == "application/json" and body:
        document = json.loads(body)
        if isinstance(document, dict):
            params.update(document)
    elif media == "application/x-www-form-urlencoded":
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return params


def create_app(runner: Runner, registry: ClientRegistry | None = None) -> Starlette:
    log = structlog.get_logger("host")

    async def allowed(request: HttpRequest) -> JSONResponse:
        decision = request.scope[DECISION_KEY]  # also in request.scope["state"][DECISION_KEY]
        params = await _host_params(request)
        log.info("host.request_allowed", decision_id=decision.decision_id, endpoint=decision.endpoint,
                 client_id=decision.client_id)
        return JSONResponse({"allowed": True, "client_id": decision.client_id, "scopes": list(decision.scopes),
                             "grant_type": params.get("grant_type"),
                             "response_type": params.get("response_type")})

    return Starlette(
        routes=[Route("/authorize", allowed, methods=["GET", "POST"]),
                Route("/oauth/token", allowed, methods=["GET", "POST"])],
        middleware=[Middleware(AuthrulesMiddleware, runner=runner, authorize_paths=["/authorize"],
                               token_paths=["/oauth/token"],
                               redirect_uri_checker=registry.check if registry is not None else None)],
    )


async def serve(server: uvicorn.Server, log: Any, args: argparse.Namespace) -> None:
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
            return
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    log.info("host.listening", server="uvicorn", framework="starlette", address=args.host, port=port,
             config=args.config, watch=args.watch)
    await task


class _QueryOut(logging.Filter):
    """uvicorn's access line without the query string: it holds client secrets, passwords and codes in
    spellings (``pass%77ord=``) no pattern can know. The path is enough to tell which endpoint was hit."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0] + "?[query not logged]", *args[3:])
        return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--config", default=str(REPO / "rules.toml"), help="rules file (default: the repo's)")
    parser.add_argument("--client", action="append", default=[], metavar="CLIENT_ID=REDIRECT_URI",
                        help="register a redirect URI for a client (repeatable)")
    parser.add_argument("--watch", action="store_true", help="reload the rules when the config file changes")
    parser.add_argument("--watch-interval", type=float, default=1.0, metavar="SECONDS")
    parser.add_argument("--access-log", action="store_true",
                        help="log every request (uvicorn's access log, query strings left out)")
    parser.add_argument("--log-format", choices=("json", "console"), default="json")
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="info")
    args = parser.parse_args(argv)
    configure_logging(args.log_format, args.log_level)
    log = structlog.get_logger("host")
    try:
        runner = Runner.from_toml(args.config)
    except ConfigError as exc:
        log.error("host.config_error", error=str(exc))
        return 2
    app = create_app(runner, ClientRegistry(args.client))
    logging.getLogger("uvicorn.access").addFilter(_QueryOut())
    config = uvicorn.Config(app, host=args.host, port=args.port, log_config=None, access_log=args.access_log,
                            lifespan="off", server_header=False)
    if args.watch:
        ConfigWatcher(runner, args.config, args.watch_interval).start()
    asyncio.run(serve(uvicorn.Server(config), log, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
