"""ASGI middleware: run the rules in front of a host's OAuth endpoints (ASGI 3, HTTP scopes).

::

    from authrules import Runner
    from authrules.asgi import AuthrulesMiddleware

    runner = Runner.from_toml("rules.toml")
    app = AuthrulesMiddleware(app, runner, authorize_paths=["/authorize"], token_paths=["/oauth/token"],
                              redirect_uri_checker=registry.is_registered)

Other paths and non-HTTP scopes go straight to the app. A guarded request's
body is read under the runner's limits, the rules run through
``runner.evaluate_async`` (so ``async def`` and blocking rules never stall the
event loop), and a deny is answered as RFC 6749 says. An allowed request goes
on with the ``Decision`` in ``scope["authrules.decision"]`` and in
``scope["state"]["authrules.decision"]`` (Starlette: ``request.state``), and
with a ``receive`` that replays the body. See docs/embedding.md.
"""

from __future__ import annotations

import inspect
from typing import Any, Awaitable, Callable, Iterable, Mapping, MutableMapping

from ._errors import RequestError
from ._hostparts import (
    DECISION_KEY, ConfigWatcher, Endpoints, RedirectChecker, apply_binding, asgi_headers, asgi_target,
    content_length_problem, deny_answer, problem_request, redirect_question, route_path,
)
from ._limits import Limits
from ._request import Request

__all__ = ["AuthrulesMiddleware", "DECISION_KEY", "ConfigWatcher", "read_body"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


async def read_body(scope: Mapping[str, Any], receive: Receive,
                    limits: Limits) -> tuple[bytes | None, RequestError | None, Receive]:
    """Read a whole request body under ``limits``: ``(body, problem, replay)``.

    ``body`` is None when the client went away first. Past ``max_body_bytes``
    (by ``Content-Length``, before reading; or while reading a chunked body)
    reading stops and ``problem`` is a 413. ``replay`` is a ``receive`` that
    hands the body to the app as one message, then defers to the real one.
    """
    declared = None
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            declared = value.decode("latin-1")
            break
    _, problem = content_length_problem(declared, limits)
    if problem is not None:
        return b"", problem, receive
    parts: list[bytes] = []
    size = 0
    cap = limits.max_body_bytes
    while True:
        message = await receive()
        kind = message.get("type")
        if kind == "http.disconnect":
            return None, None, receive
        if kind != "http.request":
            continue
        chunk = message.get("body") or b""
        if chunk:
            size += len(chunk)
            if size > cap:
                return b"", RequestError("the request body is too large", 413), receive
            parts.append(chunk)
        if not message.get("more_body", False):
            break
    body = parts[0] if len(parts) == 1 else b"".join(parts)
    return body, None, _replay(body, receive)


def _replay(body: bytes, receive: Receive) -> Receive:
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


class AuthrulesMiddleware:
    """Guard the paths a host names with a ``Runner``'s rules (ASGI).

    Takes the same arguments as ``authrules.wsgi.AuthrulesMiddleware``;
    ``user_getter(scope)``, ``bind(scope, request)`` and
    ``redirect_uri_checker(client_id, redirect_uri)`` may be plain functions
    or ``async def``.
    """

    def __init__(self, app: App, runner: Any, *, authorize_paths: Iterable[str] = (),
                 token_paths: Iterable[str] = (),
                 redirect_uri_checker: RedirectChecker | Callable[..., Awaitable[Any]] | None = None,
                 user_getter: Callable[[Scope], Any] | None = None,
                 bind: Callable[[Scope, Request], Any] | None = None,
                 realm: str = "oauth", issuer: str | None = None) -> None:
        if not callable(app):
            raise TypeError("app must be an ASGI application")
        if '"' in realm or "\\" in realm or not realm.isprintable():
            raise ValueError("realm must be printable text without quotes or backslashes")
        self.app = app
        self.runner = runner
        self.endpoints = Endpoints(authorize_paths, token_paths)
        self.redirect_uri_checker = redirect_uri_checker
        self.user_getter = user_getter
        self.bind = bind
        self.realm = realm
        self.issuer = issuer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        kind = self.endpoints.match(route_path(scope))
        if kind is None:
            return await self.app(scope, receive, send)
        runner = self.runner
        limits = runner.limits
        method = scope.get("method") or "GET"
        body, problem, receive = await read_body(scope, receive, limits)
        if body is None:
            return None  # the client is gone: nothing to decide, nobody to answer
        if problem is not None:
            request = problem_request(method, asgi_target(scope).split("?", 1)[0], kind, problem, limits)
        else:
            target = asgi_target(scope)
            headers = asgi_headers(scope)
            user = await _maybe_await(self.user_getter(scope)) if self.user_getter is not None else None
            request = Request.from_parts(method, target, headers, body, limits=limits, user=user)
            binding = None
            if self.bind is not None and request.problem is None:
                binding = await _maybe_await(self.bind(scope, request))
            if binding or request.endpoint == "other":
                request = apply_binding(request, kind, method, target, headers, body, user, binding, limits)
        decision = await runner.evaluate_async(request)
        if decision.outcome == "allow":
            scope[DECISION_KEY] = decision
            state = scope.get("state")
            # A copy: a server may hand every request the same lifespan state dict.
            scope["state"] = {**state, DECISION_KEY: decision} if state else {DECISION_KEY: decision}
            return await self.app(scope, receive, send)
        verdict = None
        if self.redirect_uri_checker is not None:
            question = redirect_question(decision, request, kind)
            if question is not None:
                verdict = await _maybe_await(self.redirect_uri_checker(*question))
        status, headers_out, payload = deny_answer(decision, request, kind, verdict, self.realm, self.issuer)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers_out]})
        await send({"type": "http.response.body", "body": payload})
        return None
