#!/usr/bin/env python3
"""Example host: a Flask app behind waitress, its OAuth endpoints guarded by authrules.

    python examples/hosts/flask_app.py --port 8080 [--config PATH] [--watch]
                                       [--client CLIENT_ID=REDIRECT_URI ...]

It serves ``/authorize`` and ``/oauth/token`` on 127.0.0.1. The rules of
rules.toml (default: the repo's own) run first, in the WSGI middleware; a
deny is answered as RFC 6749 says (JSON error at the token endpoint, an error
redirect or a plain page at the authorization endpoint). An allowed request
reaches the view, which answers ``{"allowed": true, "client_id": ...,
"scopes": [...]}`` from the decision, plus what the view itself read from the
request (``grant_type``, ``response_type``) to show the body is still there.

``--client`` registers a redirect URI for a client. Only for registered pairs
does a deny at /authorize redirect back to the client; with none registered
(the default) every deny is a plain page with the decision's status.
``--watch`` reloads the rules when the file changes (polling its mtime).

This file is a host, so it configures logging for its own process: structlog
and the stdlib ``logging`` module (waitress logs there) both write one JSON
object per line on stderr. authrules' events arrive through that setup.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import structlog
import waitress
from flask import Flask, jsonify, request

from authrules import ConfigError, Runner, escape_control_chars, flatten_exceptions, redact_secrets
from authrules.wsgi import DECISION_KEY, AuthrulesMiddleware, ConfigWatcher

REPO = Path(__file__).resolve().parents[2]
HOST_NAME = "flask-example"


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

    def check(self, client_id: str, redirect_uri: str | None) -> bool | str:
        registered = self.uris.get(client_id, set())
        if redirect_uri is None:  # RFC 6749 3.1.2.3: allowed when exactly one URI is registered
            return next(iter(registered)) if len(registered) == 1 else False
        return redirect_uri in registered  # exact string match (RFC 6749 3.1.2.3, OAuth 2.0 Security BCP)


def _host_params() -> dict[str, Any]:
    """What the view itself reads from the request: query, then form or JSON body."""
    params: dict[str, Any] = dict(request.args.items())
    if request.is_json:
        document = request.get_json(silent=True)
        if isinstance(document, dict):
            params.update(document)
    elif request.mimetype == "application/x-www-form-urlencoded":
        # Parse the raw bytes, so the view shows the body the client sent, as re-wrapped by the middleware.
        params.update(parse_qsl(request.get_data(as_text=True), keep_blank_values=True))
    return params


def create_app(runner: Runner, registry: ClientRegistry | None = None) -> Flask:
    app = Flask(__name__)
    log = structlog.get_logger("host")

    def allowed() -> Any:
        decision = request.environ[DECISION_KEY]
        params = _host_params()
        log.info("host.request_allowed", decision_id=decision.decision_id, endpoint=decision.endpoint,
                 client_id=decision.client_id)
        return jsonify(allowed=True, client_id=decision.client_id, scopes=list(decision.scopes),
                       grant_type=params.get("grant_type"), response_type=params.get("response_type"))

    app.add_url_rule("/authorize", "authorize", allowed, methods=["GET", "POST"])
    app.add_url_rule("/oauth/token", "token", allowed, methods=["GET", "POST"])
    app.wsgi_app = AuthrulesMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, runner, authorize_paths=["/authorize"], token_paths=["/oauth/token"],
        redirect_uri_checker=registry.check if registry is not None else None)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--config", default=str(REPO / "rules.toml"), help="rules file (default: the repo's)")
    parser.add_argument("--client", action="append", default=[], metavar="CLIENT_ID=REDIRECT_URI",
                        help="register a redirect URI for a client (repeatable)")
    parser.add_argument("--watch", action="store_true", help="reload the rules when the config file changes")
    parser.add_argument("--watch-interval", type=float, default=1.0, metavar="SECONDS")
    parser.add_argument("--threads", type=int, default=8, help="waitress worker threads")
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
    server = waitress.create_server(app, host=args.host, port=args.port, threads=args.threads,
                                    ident="authrules-flask-example")
    if args.watch:
        ConfigWatcher(runner, args.config, args.watch_interval).start()
    log.info("host.listening", server="waitress", framework="flask", address=args.host,
             port=int(server.effective_port), config=args.config, watch=args.watch)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
