"""The resolved request: what every rule reads, built once from raw HTTP.

``Request.from_http`` (raw bytes) and ``Request.from_parts`` (method, target,
headers and body, as a WSGI or ASGI host has them) both end in ``_resolve``,
the one place that decides the client id, the audiences and the scopes. A
request that is malformed or ambiguous still becomes a ``Request``: its
``problem`` is set, and the runner answers it ``invalid_request`` before any
rule runs. A ``Request`` is immutable, so no rule can change what a later rule
sees.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import quote, quote_plus, unquote, unquote_plus

from ._errors import RequestError
from ._http import parse_http
from ._limits import DEFAULT_LIMITS, Limits
from ._params import (GUARDED_NAMES, _Counter, merge, parse_form, parse_json, parse_json_value, parse_query,
                      parse_request_object)
from ._uri import audience_key, is_uri_text

__all__ = ["Request", "SECRET_PARAMS"]

#: Parameters whose values are credentials: never logged, scrubbed from tracebacks.
SECRET_PARAMS = frozenset({
    "password", "client_secret", "code", "code_verifier", "refresh_token", "access_token",
    "assertion", "client_assertion", "subject_token", "actor_token", "device_code",
    "id_token", "otp", "mfa_token", "binding_code", "token", "new_password",
    "id_token_hint", "login_hint_token", "auth_req_id", "recovery_code", "oob_code", "user_code", "tx_code",
    "pre-authorized_code",
    "request",  # a request object may carry any of these inside it, base64url-encoded
})
#: Headers whose values are credentials besides Authorization and Cookie (RFC 9449 DPoP proofs, API keys).
_SECRET_HEADERS = ("cookie", "dpop", "x-api-key", "proxy-authorization")

_EMPTY: Mapping[str, tuple[str, ...]] = MappingProxyType({})
_VSCHAR = re.compile(r"[\x20-\x7e]+")           # RFC 6749 A.1 client_id, A.5 state
_SCOPE = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")  # RFC 6749 A.4 scope-tokens (NQCHAR) and spaces
_GRANT_NAME = re.compile(r"[A-Za-z0-9\-._]+")    # RFC 6749 A.10 grant-name
_RESPONSE_NAME = re.compile(r"[A-Za-z0-9_]+")    # RFC 6749 A.3 response-name
_URI_PARAMS = ("redirect_uri", "request_uri")
_AUTH_SPLIT = re.compile(r"[ \t]+")
_URL_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")     # what quote() and quote_plus() never encode
_NOT_ERROR_TEXT = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")  # outside RFC 6749 5.2 NQSCHAR
_ENDPOINTS = frozenset({"authorize", "token", "revoke", "introspect", "userinfo", "par",
                        "device_authorization", "logout"})


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(_freeze(v) for v in value)
    return value


def _problem_text(description: str) -> str:
    """A problem becomes an ``error_description``: RFC 6749 5.2 text, whatever went into it."""
    return _NOT_ERROR_TEXT.sub("?", description)[:300] or "the request is malformed"


def _endpoint(path: str) -> str:
    """The endpoint a server would route ``path`` to, by its last segment.

    Servers route on the decoded path, drop ``;`` path parameters (Tomcat,
    Jetty) and resolve dot segments, so ``/oauth/%74oken``, ``/oauth/token;x``
    and ``/oauth/token/.`` all reach the token endpoint: they are read so here too.
    """
    if "%" not in path and ";" not in path and "." not in path:  # nothing to decode, drop or resolve
        return _endpoint_name(path.rstrip("/").rpartition("/")[2])
    segments: list[str] = []
    for raw in path.split("/"):
        for seg in unquote(raw.split(";", 1)[0], errors="replace").split("/"):
            if seg == "..":
                if segments:
                    segments.pop()
            elif seg not in ("", "."):
                segments.append(seg)
    return _endpoint_name(segments[-1] if segments else "")


def _endpoint_name(segment: str) -> str:
    last = segment.lower()
    return last if last in _ENDPOINTS else "other"


_ABSOLUTE_FORM = re.compile(r"[Hh][Tt][Tt][Pp][Ss]?://[^/?#]*")


def _origin_form(target: str) -> str:
    """``/path?query`` from a request target in origin-form or absolute-form (RFC 9112 3.2)."""
    if "#" in target:  # no form of request target holds a fragment, and parsers disagree on where it ends
        raise RequestError("the request target holds a fragment")
    if target.startswith("/"):  # origin-form, the usual case
        return target
    absolute = _ABSOLUTE_FORM.match(target)
    if absolute is not None:
        rest = target[absolute.end():]
        return rest if rest.startswith("/") else "/" + rest
    raise RequestError("the request target is not a path")


@dataclass(frozen=True, slots=True, repr=False, eq=False)
class Request:
    """An OAuth 2.0 / OpenID Connect request, resolved for rules to read.

    ``query`` and ``body`` keep every value as sent; ``params`` is the merged,
    unambiguous view (one value per parameter, several for ``resource``).
    ``audiences`` holds every ``audience`` and ``resource`` value, the
    ``locations`` of RFC 9396 ``authorization_details`` (and any the
    host binds through ``from_parts(audiences=...)``); ``audience_keys`` holds
    their RFC 3986 comparison keys. ``problem`` is set when the request is
    malformed; such a request is denied ``invalid_request`` before rules run.
    """

    method: str = "GET"
    path: str = "/"
    endpoint: str = "other"
    grant_type: str | None = None
    response_type: str | None = None
    query: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: _EMPTY)
    body: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: _EMPTY)
    params: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: _EMPTY)
    headers: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: _EMPTY)
    client_id: str | None = None
    client_auth: str = "none"
    audiences: tuple[str, ...] = ()
    audience_keys: frozenset[str] = frozenset()
    scopes: tuple[str, ...] = ()
    user: Mapping[str, Any] | None = None
    context: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    problem: str | None = None
    problem_status: int = 400
    body_size: int = 0
    limits: Limits = field(default=DEFAULT_LIMITS, compare=False)
    secrets: tuple[str, ...] = field(default=(), compare=False)

    def __repr__(self) -> str:  # never the headers or params: they hold credentials
        state = f" problem={self.problem!r}" if self.problem else ""
        return (f"<Request {self.method} {self.endpoint} client_id={self.client_id!r} "
                f"audiences={list(self.audiences)!r} scopes={list(self.scopes)!r}{state}>")

    def param(self, name: str) -> str | None:
        """The single value of parameter ``name``, or None when it was not sent."""
        values = self.params.get(name)
        return values[0] if values else None

    # -- constructors -------------------------------------------------------------

    @classmethod
    def from_http(cls, raw: bytes, *, limits: Limits | None = None, user: Mapping[str, Any] | None = None,
                  context: Mapping[str, Any] | None = None, audiences: Iterable[str] = ()) -> "Request":
        """Build a request from the raw bytes of one HTTP/1.1 request."""
        limits = limits or DEFAULT_LIMITS
        try:
            method, target, headers, body = parse_http(raw, limits)
        except RequestError as exc:
            return cls(problem=_problem_text(exc.description), problem_status=exc.status, limits=limits)
        return cls._from_parts(method, target, headers, body, limits, user, context, audiences, checked=True)

    @classmethod
    def from_parts(cls, method: str, target: str, headers: Iterable[tuple[str, str]] | Mapping[str, str],
                   body: bytes = b"", *, limits: Limits | None = None, user: Mapping[str, Any] | None = None,
                   context: Mapping[str, Any] | None = None, audiences: Iterable[str] = ()) -> "Request":
        """Build a request from its parts, as a WSGI or ASGI server hands them over.

        ``target`` is the request target (path and query string, still
        percent-encoded). ``headers`` are ``(name, value)`` string pairs (or a
        mapping), names in any case, values as the server decoded them (latin-1
        for WSGI and ASGI); a control character in any value, or anything but
        ASCII in a header authrules reads (Authorization, Content-Type, ...), is
        a malformed request. ``user`` and ``context`` are what the host knows
        (the signed-in user, the audience bound to a refresh token);
        ``audiences`` adds audiences the host binds to the request, which rules
        treat like requested ones. A wrong type among these is the host's bug
        and raises ``TypeError``.
        """
        return cls._from_parts(method, target, headers, body, limits or DEFAULT_LIMITS, user, context, audiences,
                               checked=False)

    @classmethod
    def _from_parts(cls, method: str, target: str, headers: Iterable[tuple[str, str]] | Mapping[str, str],
                    body: bytes, limits: Limits, user: Mapping[str, Any] | None, context: Mapping[str, Any] | None,
                    audiences: Iterable[str], *, checked: bool) -> "Request":
        """``from_parts``; ``checked`` says the header lines already passed ``parse_http``'s checks."""
        if not isinstance(body, (bytes, bytearray, memoryview)):
            raise TypeError("body must be bytes")
        if isinstance(audiences, str):
            raise TypeError("audiences takes a list of URIs, not one string")
        if not checked:
            headers = _host_headers(headers, limits.max_headers)
        path = target.split("?", 1)[0]
        bound = tuple(audiences)
        for value in bound:  # the host's own input: a wrong one is the host's bug, raised to it
            if not isinstance(value, str) or not is_uri_text(value):
                raise ValueError("a bound audience must be a URI string")
        try:
            if not checked:
                _check_header_text(headers)
            return _resolve(cls, method.upper(), target, headers, bytes(body), limits,
                            _freeze(user) if user is not None else None,
                            _freeze(context) if context else _EMPTY, bound)
        except RequestError as exc:
            return cls(method=method.upper(), path=path, endpoint=_endpoint(path),
                       problem=_problem_text(exc.description), problem_status=exc.status, limits=limits)
        except (ValueError, TypeError, LookupError, ArithmeticError, RecursionError):
            # Whatever the client sent must end in a decision, never in an exception out of the
            # host's request handler: a parsing fault is a malformed request, so fail closed.
            return cls(method=method.upper(), path=path, endpoint=_endpoint(path),
                       problem="the request could not be read", problem_status=400, limits=limits)

    @classmethod
    def from_wsgi(cls, environ: dict[str, Any], body: bytes | None = None, *, limits: Limits | None = None,
                  user: Mapping[str, Any] | None = None, context: Mapping[str, Any] | None = None,
                  audiences: Iterable[str] = ()) -> "Request":
        """Build a request from a WSGI environ (PEP 3333), as the host's app sees it.

        The target is ``SCRIPT_NAME + PATH_INFO`` (re-encoded) and
        ``QUERY_STRING``; headers are the ``HTTP_*`` keys with ``CONTENT_TYPE``
        and ``CONTENT_LENGTH``. With ``body=None`` the body is read from
        ``wsgi.input`` under ``limits`` and put back (a ``BytesIO``, with
        ``CONTENT_LENGTH`` set to its length), so the app can still read it; a
        body past ``max_body_bytes`` is not read and the request is a 413 problem.
        """
        from ._hostparts import read_wsgi_body, wsgi_headers, wsgi_target
        limits = limits or DEFAULT_LIMITS
        method = environ.get("REQUEST_METHOD") or "GET"
        if body is None:
            body, problem = read_wsgi_body(environ, limits)
            if problem is not None:
                path = wsgi_target(environ).split("?", 1)[0]
                return cls(method=method.upper(), path=path, endpoint=_endpoint(path), problem=problem.description,
                           problem_status=problem.status, limits=limits)
        return cls.from_parts(method, wsgi_target(environ), wsgi_headers(environ), body, limits=limits,
                              user=user, context=context, audiences=audiences)

    @classmethod
    def from_asgi(cls, scope: Mapping[str, Any], body: bytes, *, limits: Limits | None = None,
                  user: Mapping[str, Any] | None = None, context: Mapping[str, Any] | None = None,
                  audiences: Iterable[str] = ()) -> "Request":
        """Build a request from an ASGI HTTP scope and the whole body, as the host's app sees it.

        The target is ``path`` (re-encoded) and ``query_string``. The body is
        required: read it with ``authrules.asgi.read_body(scope, receive, limits)``,
        which also gives a ``receive`` that replays it to the app.
        """
        from ._hostparts import asgi_headers, asgi_target
        return cls.from_parts(scope.get("method") or "GET", asgi_target(scope), asgi_headers(scope), body,
                              limits=limits, user=user, context=context, audiences=audiences)


def _content_type(value: str | None) -> tuple[str, str | None]:
    """``(media type, charset)``, both lower-case; a charset given twice or in RFC 2231 form is refused.

    Servers decode by the charset even when authrules would not (Django decodes
    the query string with it, body or no body), so an unusual one is refused
    by the caller whatever the request carries; ``charset*=utf-8''utf-7`` and a
    second ``charset`` are refused here, since parsers pick different ones.
    """
    if value is None:
        return "", None
    media, sep, rest = value.partition(";")
    if not sep:
        return media.strip(" \t").lower(), None
    charset = None
    for param in rest.split(";"):
        key, _, val = param.strip(" \t").partition("=")
        key = key.strip(" \t").lower()
        if key.startswith("charset*"):
            raise RequestError("the Content-Type gives its charset in RFC 2231 form, which servers read differently")
        if key == "charset":
            if charset is not None:
                raise RequestError("the Content-Type gives a charset twice")
            charset = val.strip(" \t").strip('"').lower()
    return media.strip(" \t").lower(), charset


def _single_header(headers: Mapping[str, tuple[str, ...]], name: str) -> str | None:
    values = headers.get(name)
    if not values:
        return None
    if len(values) > 1 and len(set(values)) > 1:
        raise RequestError(f"header {name} is given more than once with different values")
    return values[0]


def _auth_parts(value: str) -> tuple[str, str]:
    """``(scheme, credentials)`` of an Authorization value.

    RFC 9110 11.4 puts one or more spaces after the scheme, but common servers
    (werkzeug, and others using ``str.split()``) split at any whitespace, tabs
    included: a tab must not hide Basic credentials from the rules.
    """
    parts = _AUTH_SPLIT.split(value.strip(), maxsplit=1)
    return parts[0], (parts[1] if len(parts) > 1 else "")


def _basic_credentials(value: str) -> tuple[str, str] | None:
    """``(client_id, secret)`` from ``Authorization: Basic``; None for other schemes."""
    scheme, token = _auth_parts(value)
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise RequestError("the Authorization header does not decode as Basic credentials") from None
    user, sep, secret = decoded.partition(":")  # RFC 7617: split at the first colon
    if not sep:
        raise RequestError("the Authorization header does not decode as Basic credentials")
    try:  # RFC 6749 2.3.1: both parts are form-encoded before Basic encoding
        client_id = unquote_plus(user, errors="strict")
    except UnicodeDecodeError:
        raise RequestError("the Authorization header does not decode as Basic credentials") from None
    if not client_id or _VSCHAR.fullmatch(client_id) is None or "%" in user and re.search(
            r"%(?![0-9A-Fa-f]{2})", user):
        raise RequestError("the Authorization header does not decode as Basic credentials")
    if client_id != user:
        # A '+' or '%XX' in the id: RFC 6749 servers decode it, RFC 7617 servers (and clients that
        # send the id as is) do not, so the server may authenticate a client rules never saw.
        raise RequestError("the client id in the Basic header decodes differently under RFC 6749 and RFC 7617")
    return client_id, secret


#: What a request object must repeat if the request gives it outside too (RFC 9101 5: client_id and
#: response_type are required outside, and the merge checks they agree with the inside).
_OUTSIDE_ONLY_OK = frozenset({"client_id", "response_type", "request"})
#: Parameters that name what a token is for: beside a pushed request's request_uri they would be ignored.
_AUDIENCE_PARAMS = ("audience", "resource", "authorization_details")
_PAR_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"


def _one_place(method: str, query: Mapping[str, tuple[str, ...]], body: Mapping[str, tuple[str, ...]],
               json_body: bool) -> None:
    """A request with a body carries the parameters authrules resolves in its body.

    Servers read different places: Flask's ``request.form`` and Starlette's
    ``form()`` the body only; ``request.values`` (Flask, Authlib), Django's
    ``request.POST`` and oauthlib the query and a form, never JSON; werkzeug no
    form at all for a GET. So a GET or HEAD with a body is refused; a resolved
    parameter in the query must be repeated, with the same values, in the body;
    and beside a JSON body, once the query holds any resolved parameter, it
    must hold every one the body does (a server that skips JSON would read the
    query's grant_type with no audience, and fall back to its default one).
    """
    if method in ("GET", "HEAD"):
        raise RequestError("a GET or HEAD request has a body, which some servers read and others ignore")
    in_query = False
    for name, values in query.items():
        if name in GUARDED_NAMES:
            in_query = True
            if set(body.get(name, ())) != set(values):
                raise RequestError(f"parameter {name} is in the query but not the same in the body, and servers "
                                   "differ in which they read")
    if json_body and in_query:
        for name, values in body.items():
            if name in GUARDED_NAMES and set(query.get(name, ())) != set(values):
                raise RequestError(f"parameter {name} is in the JSON body only, beside OAuth parameters in the "
                                   "query, and servers that do not read JSON see only the query")


def _all_inside(outside: Mapping[str, tuple[str, ...]], inside: Mapping[str, tuple[str, ...]]) -> None:
    """RFC 9101 6.3: a server with request objects reads only the inside; OpenID Connect servers merge.

    So a resolved parameter given outside must be inside too (the merge then
    checks the values agree), or the two kinds of server read different requests.
    """
    for name in outside:
        if name in GUARDED_NAMES and name not in _OUTSIDE_ONLY_OK and name not in inside:
            raise RequestError(f"parameter {name} is outside the request object only, where servers that "
                               "implement RFC 9101 ignore it")


def _pushed_only(params: Mapping[str, tuple[str, ...]]) -> None:
    """``request_uri``: the parameters are somewhere authrules cannot read.

    A pushed request (RFC 9126, a ``urn:ietf:params:oauth:request_uri:`` the
    server made) was decided where it was pushed, and the host can bind what it
    holds; an audience given beside it would be ignored by the server. Any other
    request_uri makes the server fetch the parameters from a URL: refused.
    """
    if "request" in params:
        raise RequestError("the request has both request and request_uri (RFC 9101 5)")
    if not params["request_uri"][0].startswith(_PAR_URI_PREFIX):
        raise RequestError("parameter request_uri points to parameters authrules cannot read; only a pushed "
                           "request's urn:ietf:params:oauth:request_uri is accepted")
    if any(name in params for name in _AUDIENCE_PARAMS):
        raise RequestError("an audience is given beside request_uri, where the server ignores it")


def _assertion_subject(token: str) -> str:
    """The client a JWT client assertion names (RFC 7523 3: ``iss`` and ``sub`` are the client id).

    Only read, never verified: the server checks the signature, and a client that
    claims to be someone else gets that client's rules and then the server's
    refusal. Read strictly, as a body is (a repeated claim is ambiguous: JSON
    parsers keep the first or the last). An encrypted assertion (JWE, five
    parts) names its client only inside, where authrules cannot look, while the
    server reads it there: refused.
    """
    parts = token.split(".")
    if len(parts) == 5:
        raise RequestError("the client assertion is encrypted, so authrules cannot read which client it names")
    if len(parts) != 3:
        raise RequestError("the client assertion is not a JWT")
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)).decode("utf-8")
    except (ValueError, binascii.Error):
        raise RequestError("the client assertion is not a JWT") from None
    claims = parse_json_value(payload, "the client assertion")
    if not isinstance(claims, dict):
        raise RequestError("the client assertion is not a JWT")
    subject, issuer = claims.get("sub"), claims.get("iss", claims.get("sub"))
    if not isinstance(subject, str) or not subject or _VSCHAR.fullmatch(subject) is None or issuer != subject:
        raise RequestError("the client assertion does not name the client in iss and sub")
    return subject


def _rar_locations(values: tuple[str, ...]) -> tuple[str, ...]:
    """RFC 9396: the ``locations`` of every authorization detail, the resource servers it is for.

    An AS that supports rich authorization requests issues the token for those
    locations, so they are requested audiences as much as ``audience`` and
    ``resource`` are.
    """
    found: list[str] = []
    for text in values:
        details = parse_json_value(text, "parameter authorization_details")
        if not isinstance(details, list):
            raise RequestError("parameter authorization_details is not a JSON array")
        for detail in details:
            if not isinstance(detail, dict) or not isinstance(detail.get("type"), str) or not detail["type"]:
                raise RequestError("parameter authorization_details holds an entry without a type")
            if any(key not in ("type", "locations") and key.lower() in ("type", "locations") for key in detail):
                # System.Text.Json binds keys case-insensitively: "Locations" is locations there
                raise RequestError("parameter authorization_details holds a key in another case than its own")
            locations = detail.get("locations", [])
            if not isinstance(locations, list) or not all(isinstance(v, str) for v in locations):
                raise RequestError("parameter authorization_details has locations that are not strings")
            found.extend(v for v in locations if v)
    return tuple(found)


def _secret_forms(value: str) -> tuple[str, ...]:
    """A secret as sent and percent-encoded both ways (``scrub()`` expands each form again, so a
    secret encoded twice is cut too). A value of unreserved characters only is its own encoding."""
    if _URL_SAFE.fullmatch(value):
        return (value,)
    return value, quote_plus(value, safe=""), quote(value, safe="")


def _resolve(cls: type[Request], method: str, target: str, header_items: Iterable[tuple[str, str]],
             body: bytes, limits: Limits, user: Any, context: Any, bound: tuple[str, ...]) -> Request:
    if len(body) > limits.max_body_bytes:
        raise RequestError("the request body is too large", 413)
    if len(target) > limits.max_header_bytes:
        raise RequestError("the request target is too long", 414)
    path, _, query_text = _origin_form(target).partition("?")
    if not is_uri_text(path):
        raise RequestError("the request path holds characters a URI may not hold")

    headers = MappingProxyType(_grouped_headers(header_items, limits.max_headers))

    counter = _Counter(limits)
    query = parse_query(query_text, counter)
    content_type = _single_header(headers, "content-type")
    media, charset = _content_type(content_type) if content_type is not None else ("", None)
    if charset not in (None, "utf-8", "us-ascii"):  # body or none: Django decodes the query with it too
        raise RequestError("the Content-Type names a charset other than UTF-8")
    body_params = _EMPTY
    if body:
        if _single_header(headers, "content-encoding") not in (None, "identity"):
            raise RequestError("the request body has a content coding authrules cannot read")
        if media == "application/x-www-form-urlencoded":
            body_params = parse_form(body, counter)
        elif media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
            if charset not in (None, "utf-8"):
                raise RequestError("the JSON body has a charset other than UTF-8")
            body_params = parse_json(body, counter)
        elif not media:
            raise RequestError("the request has a body but no Content-Type")
        else:
            raise RequestError("the request body has a Content-Type authrules cannot read")
    if body:
        _one_place(method, query, body_params, media != "application/x-www-form-urlencoded")
    params = merge(query, body_params)
    if "request" in params:  # RFC 9101: a server that supports request objects reads the parameters there
        inner = parse_request_object(params["request"][0], counter)
        _all_inside(params, inner)
        params = merge(query, body_params, inner)
    if "request_uri" in params:
        _pushed_only(params)

    # Client id: query, body and Basic header must agree (RFC 6749 2.3.1).
    secrets: list[str] = []
    client_auth = "none"
    auth = _single_header(headers, "authorization")
    if auth is not None:
        secrets.append(auth)
        secrets.append(_auth_parts(auth)[1])
    for name in _SECRET_HEADERS:
        secrets.extend(headers.get(name, ()))
    for cookie in headers.get("cookie", ()):  # each cookie's value too: a rule may quote one alone
        secrets.extend(part.partition("=")[2].strip() for part in cookie.split(";"))
    for name in SECRET_PARAMS.intersection(params):
        for value in params[name]:
            secrets.extend(_secret_forms(value))
    client_id = _identifier(params, "client_id", _VSCHAR)
    basic = _basic_credentials(auth) if auth is not None else None
    if basic is not None:
        secrets.extend(_secret_forms(basic[1]))
        try:
            secrets.append(unquote_plus(basic[1]))
        except UnicodeDecodeError:
            pass
        if client_id is not None and client_id != basic[0]:
            raise RequestError("the client id in the Authorization header and in the request disagree")
        client_id = basic[0]
        client_auth = "client_secret_basic"
    post, assertion = "client_secret" in params, "client_assertion" in params
    if (basic is not None) + post + assertion > 1:
        raise RequestError("the client uses more than one authentication method")
    if post:
        client_auth = "client_secret_post"
    elif assertion:
        client_auth = "private_key_jwt"
    if "client_assertion" in params:  # RFC 7521 4.2: the assertion's subject is the client
        subject = _assertion_subject(params["client_assertion"][0])
        if client_id is not None and subject != client_id:
            raise RequestError("the client id in the client assertion and in the request disagree")
        client_id = subject

    if client_id is not None and client_id != client_id.strip(" "):
        raise RequestError("the client id has leading or trailing spaces, which some servers trim")
    grant_type = _identifier(params, "grant_type", _GRANT_NAME, uri_ok=True)
    response_type = params.get("response_type", (None,))[0]
    if response_type is not None and not all(_RESPONSE_NAME.fullmatch(p) for p in response_type.split(" ")):
        raise RequestError("parameter response_type is malformed")
    _identifier(params, "state", _VSCHAR)
    for name in _URI_PARAMS:
        for value in params.get(name, ()):
            if not is_uri_text(value):
                raise RequestError(f"parameter {name} holds characters a URI may not hold")

    audiences = named = params.get("audience", ())
    if "resource" in params or "authorization_details" in params:
        seen = set(named)  # a set, not `in tuple`: thousands of JSON audiences and resources stay linear
        audiences = named + tuple(a for a in params.get("resource", ()) if a not in seen)
        seen.update(audiences)
        locations = tuple(dict.fromkeys(v for v in _rar_locations(params.get("authorization_details", ()))
                                        if v not in seen))
        audiences += locations
    keys = set()
    for value in audiences:
        if not is_uri_text(value):
            raise RequestError("an audience or resource holds characters a URI may not hold")
        try:
            keys.add(audience_key(value))
        except ValueError as exc:  # the text names the problem, never the value
            raise RequestError(f"an audience or resource {exc}") from None
    if bound:
        for value in bound:
            if not isinstance(value, str) or not is_uri_text(value):
                raise ValueError("a bound audience must be a URI string")
        audiences += tuple(a for a in bound if a not in audiences)
        keys.update(audience_key(a) for a in bound)

    scope = params.get("scope")  # merged values are never empty
    scopes = tuple(dict.fromkeys(filter(None, scope[0].split(" ")))) if scope else ()
    if scopes and _SCOPE.fullmatch(scope[0]) is None:  # one match for all tokens, not one per token
        raise RequestError("parameter scope holds characters a scope may not hold")

    build = _new_request if cls is Request else cls
    return build(
        method=method, path=path, endpoint=_endpoint(path), grant_type=grant_type,
        response_type=response_type, query=query, body=body_params, params=params,
        headers=headers, client_id=client_id, client_auth=client_auth, audiences=audiences,
        audience_keys=frozenset(keys), scopes=scopes,
        user=user, context=context, body_size=len(body), limits=limits,
        secrets=tuple(sorted({s for s in secrets if s}, key=len, reverse=True)),
    )


def _request_builder() -> Callable[..., Request]:
    """What ``_resolve`` calls, with ``Request``'s keyword arguments, to build a request without a problem.

    A frozen dataclass's ``__init__`` stores each of its 21 fields through
    ``object.__setattr__``; storing the slots through their descriptors builds
    the same object (same type, same values, still frozen) in about 60% of the
    time, as ``_decision_builder`` in _runner.py does for ``Decision``. Should
    ``Request`` gain or reorder a field or get a ``__post_init__``, this falls
    back to the constructor itself.
    """
    names = ("method", "path", "endpoint", "grant_type", "response_type", "query", "body", "params", "headers",
             "client_id", "client_auth", "audiences", "audience_keys", "scopes", "user", "context", "problem",
             "problem_status", "body_size", "limits", "secrets")
    if tuple(f.name for f in fields(Request)) != names or hasattr(Request, "__post_init__"):
        return Request
    new = object.__new__
    stores = tuple(getattr(Request, name).__set__ for name in names)

    def build(*, method: str, path: str, endpoint: str, grant_type: str | None, response_type: str | None,
              query: Mapping[str, tuple[str, ...]], body: Mapping[str, tuple[str, ...]],
              params: Mapping[str, tuple[str, ...]], headers: Mapping[str, tuple[str, ...]],
              client_id: str | None, client_auth: str, audiences: tuple[str, ...], audience_keys: frozenset[str],
              scopes: tuple[str, ...], user: Mapping[str, Any] | None, context: Mapping[str, Any],
              body_size: int, limits: Limits, secrets: tuple[str, ...]) -> Request:
        request = new(Request)
        values = (  # in field order; problem and problem_status get their defaults, None and 400
            method, path, endpoint, grant_type, response_type, query, body, params, headers, client_id,
            client_auth, audiences, audience_keys, scopes, user, context, None, 400, body_size, limits, secrets)
        for store, value in zip(stores, values):
            store(request, value)
        return request

    return build


_new_request = _request_builder()


_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token
_HEADER_TEXT = re.compile(r"[\t\x20-\x7e\x80-\xff]*")      # field-value with obs-text, as latin-1 gives it
_ASCII_TEXT = re.compile(r"[\t\x20-\x7e]*")
#: The headers authrules reads: their values must be plain ASCII, or a server that splits or strips with
#: str methods (which know NBSP, NEL and the like as whitespace) reads another value than authrules.
_READ_HEADERS = frozenset({"authorization", "content-type", "content-length", "content-encoding",
                           "transfer-encoding", "host", "cookie"})


def _host_headers(headers: Any, most: int) -> list[tuple[str, str]]:
    """A host's headers as a list of string pairs (at most one past ``most``); a wrong type raises TypeError."""
    if type(headers) is list and len(headers) <= most:  # what the middlewares hand over: check, keep
        try:
            if all(type(name) is str and type(value) is str for name, value in headers):
                return headers
        except (TypeError, ValueError):
            pass  # not pairs: the loop below says so
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: list[tuple[str, str]] = []
    for pair in items:
        if len(out) > most:
            break  # enough to tell it is too many: _grouped_headers answers 431
        name, value = pair
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError("headers must be (name, value) pairs of str")
        out.append((name, value))
    return out


_HEADER_NAMES = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]++(?:\n[!#$%&'*+\-.^_`|~0-9A-Za-z]++)*+")


def _check_header_text(headers: list[tuple[str, str]]) -> None:
    """What ``parse_http`` checks of a raw head, for headers a host hands over."""
    values = "".join([value for _, value in headers])
    names = "\n".join([name for name, _ in headers])
    if (values.isascii() and values.isprintable() and names.count("\n") == len(headers) - 1
            and _HEADER_NAMES.fullmatch(names)):
        return  # the usual case: printable ASCII only (no control character, nothing but ASCII), good names
    for name, value in headers:
        if _HEADER_NAME.fullmatch(name) is None:
            raise RequestError("a header field name is malformed")
        if _HEADER_TEXT.fullmatch(value) is None:
            raise RequestError("a header field holds a control character")
        if name.lower() in _READ_HEADERS and _ASCII_TEXT.fullmatch(value) is None:
            raise RequestError(f"header {name.lower()} holds characters other than ASCII")


def _grouped_headers(items: Iterable[tuple[str, str]], most: int) -> dict[str, tuple[str, ...]]:
    """Header values by lower-case name, in the order sent; more than ``most`` fields is a 431 problem."""
    if type(items) is list and len(items) <= most:  # no count to keep
        once = {name.lower(): (value,) for name, value in items}
        if len(once) == len(items):  # the usual case: every name given once
            return once
    else:
        items = _counted(items, most)
    grouped: dict[str, list[str]] = {}
    for name, value in items:
        name = name.lower()
        values = grouped.get(name)
        if values is None:
            grouped[name] = [value]
        else:
            values.append(value)
    return {name: tuple(values) for name, values in grouped.items()}


def _counted(items: Iterable[tuple[str, str]], most: int) -> Iterable[tuple[str, str]]:
    """``items`` as pairs, raising at the one past the ``most``-th: an iterator from a host is read no further."""
    for count, (name, value) in enumerate(items, 1):
        if count > most:
            raise RequestError("the request has too many header fields", 431)
        yield name, value


def _identifier(params: Mapping[str, tuple[str, ...]], name: str, pattern: re.Pattern[str],
                uri_ok: bool = False) -> str | None:
    values = params.get(name)
    if not values:
        return None
    value = values[0]
    if pattern.fullmatch(value) is None and not (uri_ok and ":" in value and is_uri_text(value)):
        raise RequestError(f"parameter {name} holds characters it may not hold")
    return value
