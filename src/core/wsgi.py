"""WSGI middleware: run the rules in front of a host's OAuth endpoints (PEP 3333).

::

    from authrules import Runner
    from authrules.wsgi import AuthrulesMiddleware

    runner = Runner.from_toml("rules.toml")
    app.wsgi_app = AuthrulesMiddleware(app.wsgi_app, runner,
                                       authorize_paths=["/authorize"], token_paths=["/oauth/token"],
                                       redirect_uri_checker=registry.is_registered)

Requests to other paths go straight to the app. A guarded request is read
(body under the runner's limits, then put back for the app), decided by
``runner.evaluate``, and either answered as RFC 6749 says for a deny or passed
on with the ``Decision`` in ``environ["authrules.decision"]``. See
docs/embedding.md.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from ._errors import ConfigError
from ._hostparts import (
    DECISION_KEY, ConfigWatcher, Endpoints, RedirectChecker, apply_binding, deny_answer, problem_request,
    read_wsgi_body, redirect_question, status_line, wsgi_headers, wsgi_target,
)
from ._request import Request

__all__ = ["AuthrulesMiddleware", "DECISION_KEY", "ConfigWatcher"]

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


class AuthrulesMiddleware:
    """Guard the paths a host names with a ``Runner``'s rules.

    ``authorize_paths``: authorization endpoints; a deny is a 302 to the
    client's redirect URI when ``redirect_uri_checker(client_id, redirect_uri)``
    confirms it, a plain page with the decision's status otherwise.
    ``token_paths``: token-like endpoints (token, and also revocation,
    introspection, PAR); a deny is a JSON error (RFC 6749 5.2).
    ``user_getter(environ)`` returns the signed-in user (a mapping) or None;
    ``bind(environ, request)`` returns ``{"context": {...}, "audiences": [...]}``
    (either key optional) that the host knows about this request, e.g. the
    audience bound to the refresh token it carries. ``realm`` names the
    ``WWW-Authenticate`` realm of 401 answers; ``issuer``, when set, is added
    as ``iss`` to error redirects (RFC 9207).

    A runner whose rules need ``evaluate_async`` is refused here, and it will
    refuse, on reload, a config that would need it.
    """

    def __init__(self, app: Callable[[Environ, StartResponse], Iterable[bytes]], runner: Any, *,
                 authorize_paths: Iterable[str] = (), token_paths: Iterable[str] = (),
                 redirect_uri_checker: RedirectChecker | None = None,
                 user_getter: Callable[[Environ], Mapping[str, Any] | None] | None = None,
                 bind: Callable[[Environ, Request], Mapping[str, Any] | None] | None = None,
                 realm: str = "oauth", issuer: str | None = None) -> None:
        if not callable(app):
            raise TypeError("app must be a WSGI application")
        try:
            runner.require_sync()
        except ConfigError as exc:
            raise ConfigError(f"{exc.problem}; a WSGI host cannot await them: use "
                              "authrules.asgi.AuthrulesMiddleware in an ASGI host", path=exc.path) from None
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

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        kind = self.endpoints.match(environ.get("PATH_INFO") or "/")
        if kind is None:
            return self.app(environ, start_response)
        runner = self.runner
        limits = runner.limits
        method = environ.get("REQUEST_METHOD") or "GET"
        body, problem = read_wsgi_body(environ, limits)
        if problem is not None:
            request = problem_request(method, wsgi_target(environ).split("?", 1)[0], kind, problem, limits)
        else:
            target = wsgi_target(environ)
            headers = wsgi_headers(environ)
            user = self.user_getter(environ) if self.user_getter is not None else None
            request = Request.from_parts(method, target, headers, body, limits=limits, user=user)
            binding = self.bind(environ, request) if self.bind is not None and request.problem is None else None
            if binding or request.endpoint == "other":
                request = apply_binding(request, kind, method, target, headers, body, user, binding, limits)
        decision = runner.evaluate(request)
        if decision.outcome == "allow":
            environ[DECISION_KEY] = decision
            return self.app(environ, start_response)
        question = redirect_question(decision, request, kind) if self.redirect_uri_checker is not None else None
        verdict = self.redirect_uri_checker(*question) if question is not None else None  # type: ignore[misc]
        status, response_headers, payload = deny_answer(decision, request, kind, verdict, self.realm, self.issuer)
        start_response(status_line(status), response_headers)
        return [payload]
