"""What the WSGI and ASGI middlewares share: endpoint matching, body limits, OAuth error answers.

The protocol parts work on plain values (a path, a ``Decision``, a
``Request``) and give back plain values (which endpoint; a status with
headers and bytes); the few functions that read an environ or a scope only
turn it into such values. So both middlewares give the same answers:

- token-like endpoints (RFC 6749 section 5.2): a JSON ``{"error",
  "error_description"}`` body with the decision's status, ``Cache-Control:
  no-store``, ``Pragma: no-cache``, and a ``WWW-Authenticate: Basic`` challenge
  on 401;
- the authorization endpoint (RFC 6749 section 4.1.2.1, 4.2.2.1): a 302 to the
  client's redirect URI carrying ``error``, ``error_description`` and
  ``state`` when, and only when, the host's callback confirms that the client
  registered that URI; a plain page with the decision's status otherwise. A
  request that was malformed before any rule ran (``invalid_request``) is never
  redirected: its client id and redirect URI are exactly what cannot be trusted.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import threading
from http import HTTPStatus
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import quote, urlencode

import structlog

from ._decision import Decision
from ._errors import ConfigError, RequestError
from ._limits import Limits
from ._logs import escape_control
from ._request import Request

__all__ = [
    "AUTHORIZE", "TOKEN", "DECISION_KEY", "Endpoints", "RedirectChecker", "deny_answer", "error_redirect",
    "redirect_question", "route_path", "problem_request",
    "normalize_path", "read_wsgi_body", "wsgi_target", "wsgi_headers", "asgi_target", "asgi_headers",
    "content_length_problem", "apply_binding", "ConfigWatcher", "status_line",
]

AUTHORIZE = "authorize"
TOKEN = "token"
#: The environ key (WSGI) and scope / scope["state"] key (ASGI) holding the Decision of an allowed request.
DECISION_KEY = "authrules.decision"

#: ``checker(client_id, redirect_uri)``: True when the client registered this redirect URI.
#: ``redirect_uri`` may be None (the request named none); the checker may then return the
#: client's one registered URI as a string, or a false value.
RedirectChecker = Callable[[str, "str | None"], "bool | str | None"]

# RFC 3986 pchar without "%" (a decoded path's "%" is data and must be escaped again), plus "/".
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_PLAIN_PATH = re.compile(r"[A-Za-z0-9/:@!$&'()*+,;=\-._~]*")  # needs no re-encoding
_NEVER_REDIRECT_SCHEMES = frozenset({"javascript", "data", "vbscript", "file", "blob", "about"})
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_FRAGMENT_TYPES = frozenset({"token", "id_token"})


# -- endpoints ------------------------------------------------------------------------


def normalize_path(path: str) -> str:
    """The form paths are compared in: empty and dot segments resolved, no trailing slash, casefolded.

    Routers differ in what they treat as the same path (``//token``,
    ``/a/../token``, ``/token/``, ``/TOKEN``). Comparing in a form that
    merges all of these can only guard more requests, never fewer.
    """
    out: list[str] = []
    for segment in path.split("/"):
        if segment == "" or segment == ".":
            continue
        if segment == "..":
            if out:
                out.pop()
            continue
        out.append(segment)
    return "/" + "/".join(out).casefold()


class Endpoints:
    """Which paths the host guards, and as which kind of endpoint."""

    __slots__ = ("_normal",)

    def __init__(self, authorize_paths: Iterable[str], token_paths: Iterable[str]) -> None:
        if isinstance(authorize_paths, str) or isinstance(token_paths, str):
            raise TypeError("authorize_paths and token_paths take a list of paths, not one string")
        normal: dict[str, str] = {}
        for kind, paths in ((AUTHORIZE, authorize_paths), (TOKEN, token_paths)):
            for path in paths:
                if not isinstance(path, str) or not path.startswith("/"):
                    raise ConfigError(f"guarded path {path!r} must be a string starting with '/'")
                key = normalize_path(path)
                if normal.get(key, kind) != kind:
                    raise ConfigError(f"path {path!r} is named both as an authorize and as a token path")
                normal[key] = kind
        if not normal:
            raise ConfigError("name at least one path in authorize_paths or token_paths: "
                              "the middleware would guard nothing")
        self._normal = normal

    def match(self, path: str) -> str | None:
        """``"authorize"``, ``"token"`` or None for a decoded request path."""
        kind = self._normal.get(path)  # a path already in normal form: one dict lookup
        if kind is not None:
            return kind
        return self._normal.get(normalize_path(path))


# -- requests -------------------------------------------------------------------------


def content_length_problem(text: str | None, limits: Limits) -> tuple[int | None, RequestError | None]:
    """The declared body length, or the problem with it (413 past the limit, before any read)."""
    if text is None or text == "":
        return None, None
    text = text.strip(" \t")
    if not (text.isascii() and text.isdigit()):
        return None, RequestError("the Content-Length header is not a number")
    digits = text.lstrip("0") or "0"
    if len(digits) > 18:  # past any limit; and int() refuses a string of over 4,300 digits with ValueError
        return None, RequestError("the request body is too large", 413)
    length = int(digits)
    if length > limits.max_body_bytes:
        return length, RequestError("the request body is too large", 413)
    return length, None


def _read_exact(stream: Any, length: int) -> bytes:
    parts: list[bytes] = []
    left = length
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def read_wsgi_body(environ: dict[str, Any], limits: Limits) -> tuple[bytes, RequestError | None]:
    """Read the body under ``limits`` and put it back, so the host can read it again.

    With ``CONTENT_LENGTH`` the body is read to that length (past
    ``max_body_bytes``, nothing is read: 413). Without it, a server that
    terminates ``wsgi.input`` (``wsgi.input_terminated``, set by waitress,
    gunicorn and werkzeug for chunked bodies) is read to EOF, at most one
    byte past the limit; any other input is empty, as PEP 3333 says. Then
    ``wsgi.input`` becomes a ``BytesIO`` of the body, ``CONTENT_LENGTH`` its
    length, and ``HTTP_TRANSFER_ENCODING`` goes: the host sees one plain body.
    """
    length, problem = content_length_problem(environ.get("CONTENT_LENGTH"), limits)
    if problem is not None:
        return b"", problem
    stream = environ.get("wsgi.input")
    try:
        if length is not None:
            body = _read_exact(stream, length) if length and stream is not None else b""
            if len(body) < length:
                problem = RequestError("the request body is shorter than its Content-Length")
        elif environ.get("wsgi.input_terminated") and stream is not None:
            body = _read_exact(stream, limits.max_body_bytes + 1)
            if len(body) > limits.max_body_bytes:
                return b"", RequestError("the request body is too large", 413)
        else:
            return b"", None
    except (OSError, ValueError):
        return b"", RequestError("the request body could not be read")
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    return body, problem


def wsgi_target(environ: Mapping[str, Any]) -> str:
    """The request target as the host's app sees it: SCRIPT_NAME + PATH_INFO re-encoded, QUERY_STRING."""
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    if path and _PLAIN_PATH.fullmatch(path):
        target = path
    else:
        try:
            raw = path.encode("latin-1")  # PEP 3333: bytes carried in a str
        except UnicodeEncodeError:
            raw = path.encode("utf-8", "surrogateescape")
        target = quote(raw, safe=_PATH_SAFE) or "/"
    query = environ.get("QUERY_STRING")
    return f"{target}?{query}" if query else target


def wsgi_headers(environ: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Header fields from an environ: ``HTTP_*``, ``CONTENT_TYPE`` and ``CONTENT_LENGTH``.

    ``HTTP_CONTENT_TYPE`` / ``HTTP_CONTENT_LENGTH`` (some servers add them) are
    left out: the app reads ``CONTENT_TYPE``, so the rules read that too.
    """
    headers = [(key[5:].replace("_", "-").lower(), value) for key, value in environ.items()
               if key[:5] == "HTTP_" and key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH")]
    content_type = environ.get("CONTENT_TYPE")
    if content_type:
        headers.append(("content-type", content_type))
    length = environ.get("CONTENT_LENGTH")
    if length:
        headers.append(("content-length", length))
    return headers


def asgi_target(scope: Mapping[str, Any]) -> str:
    """The request target as an ASGI app sees it: ``path`` re-encoded, ``query_string``."""
    path = scope.get("path") or "/"
    if _PLAIN_PATH.fullmatch(path) is None:
        path = quote(path.encode("utf-8", "surrogateescape"), safe=_PATH_SAFE) or "/"
    target = path
    query = scope.get("query_string") or b""
    if query:
        return f"{target}?{query.decode('latin-1')}"
    return target


def asgi_headers(scope: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope.get("headers", ())]


def route_path(scope: Mapping[str, Any]) -> str:
    """The path an ASGI router matches on: ``path`` without the ``root_path`` prefix."""
    path: str = scope.get("path") or "/"
    root = scope.get("root_path") or ""
    if root and path.startswith(root):
        return path[len(root):] or "/"
    return path


def apply_binding(request: Request, kind: str, method: str, target: str, headers: list[tuple[str, str]],
                  body: bytes, user: Any, binding: Mapping[str, Any] | None, limits: Limits) -> Request:
    """Rebuild ``request`` with what the host's ``bind`` callback knows, and name its endpoint."""
    if binding:
        unknown = set(binding) - {"context", "audiences"}
        if unknown:
            raise TypeError(f"bind() returned unknown key(s) {sorted(unknown)}: only 'context' and 'audiences'")
        audiences = binding.get("audiences") or ()
        if isinstance(audiences, str):
            raise TypeError("bind() returned 'audiences' as one string: give a list of audience URIs")
        request = Request.from_parts(method, target, headers, body, limits=limits, user=user,
                                     context=binding.get("context"), audiences=audiences)
    if request.endpoint == "other":
        request = dataclasses.replace(request, endpoint=kind)
    return request


def problem_request(method: str, path: str, kind: str, problem: RequestError, limits: Limits) -> Request:
    """A request the middleware could not read (body too large or cut short): denied before rules."""
    return Request(method=method.upper(), path=path, endpoint=kind, problem=problem.description,
                   problem_status=problem.status, limits=limits)


# -- answers --------------------------------------------------------------------------


def status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Error"


def _json_error(decision: Decision) -> bytes:
    payload = {"error": decision.error or "access_denied"}
    if decision.error_description:
        payload["error_description"] = decision.error_description
    return json.dumps(payload, separators=(",", ":")).encode("ascii")


def _redirect_target(redirect_uri: str) -> bool:
    """True when ``redirect_uri`` is an absolute URI without fragment that may be redirected to."""
    match = _SCHEME.match(redirect_uri)
    if match is None or match.group(1).lower() in _NEVER_REDIRECT_SCHEMES:
        return False
    return "#" not in redirect_uri  # RFC 6749 3.1.2: a redirection URI has no fragment


def error_redirect(redirect_uri: str, response_type: str | None, response_mode: str | None,
                   params: list[tuple[str, str]]) -> str:
    """``redirect_uri`` with the error parameters in its query or, for implicit types, its fragment."""
    types = set((response_type or "").split(" "))
    implicit = bool(types & _FRAGMENT_TYPES)
    # Implicit-style answers always go in the fragment (OAuth 2.0 Multiple Response Type Encoding
    # Practices: response_mode=query is not allowed for them); others in the query unless asked otherwise.
    fragment = implicit or response_mode == "fragment"
    encoded = urlencode(params, quote_via=quote)
    if fragment:
        return f"{redirect_uri}#{encoded}"
    if "?" not in redirect_uri:
        return f"{redirect_uri}?{encoded}"
    sep = "" if redirect_uri.endswith(("?", "&")) else "&"  # RFC 6749 3.1.2: keep the query component
    return f"{redirect_uri}{sep}{encoded}"


def redirect_question(decision: Decision, request: Request, kind: str) -> tuple[str, str | None] | None:
    """``(client_id, redirect_uri)`` to ask the host's checker about, or None when a deny never redirects.

    RFC 6749 4.1.2.1: a request whose client or redirect URI cannot be trusted
    is never redirected. A request that failed before any rule ran (its
    parameters were ambiguous or malformed) is such a request, and so is one
    that names no client. Token-like endpoints never redirect.
    """
    if kind != AUTHORIZE or decision.rule is None or request.problem is not None or not request.client_id:
        return None
    return request.client_id, request.param("redirect_uri")


def deny_answer(decision: Decision, request: Request, kind: str, verdict: Any,
                realm: str, issuer: str | None) -> tuple[int, list[tuple[str, str]], bytes]:
    """``(status, headers, body)`` for a denied request, as RFC 6749 wants it for this endpoint.

    ``verdict`` is what the host's redirect checker answered to ``redirect_question``
    (True, the registered URI as a string, or a false value), or None when not asked.
    """
    status = decision.status
    if kind == TOKEN:
        headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store"), ("Pragma", "no-cache")]
        if status == 401:
            # RFC 6749 5.2 (the client used Basic) and RFC 9110 11.6.1 (every 401 carries a challenge).
            headers.append(("WWW-Authenticate", f'Basic realm="{realm}", charset="UTF-8"'))
        body = _json_error(decision)
        headers.append(("Content-Length", str(len(body))))
        return status, headers, body
    location = _authorize_redirect(decision, request, verdict, issuer) if verdict else None
    if location is not None:
        return 302, [("Location", location), ("Cache-Control", "no-store"), ("Pragma", "no-cache"),
                     ("Content-Length", "0")], b""
    text = decision.error or "access_denied"
    if decision.error_description:
        text += ": " + decision.error_description
    body = (text + "\n").encode("ascii")
    return status, [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store"),
                    ("Pragma", "no-cache"), ("X-Content-Type-Options", "nosniff"),
                    ("Content-Length", str(len(body)))], body


def _authorize_redirect(decision: Decision, request: Request, verdict: Any, issuer: str | None) -> str | None:
    if decision.rule is None or request.problem is not None or not request.client_id:
        return None  # checked again here: a verdict alone never makes an untrusted request redirect
    given = request.param("redirect_uri")
    if verdict is True and given is not None:
        redirect_uri = given
    elif isinstance(verdict, str) and verdict and (given is None or verdict == given):
        redirect_uri = verdict
    else:
        return None
    if not _redirect_target(redirect_uri):
        return None
    params = [("error", decision.error or "access_denied")]
    if decision.error_description:
        params.append(("error_description", decision.error_description))
    state = request.param("state")
    if state is not None:
        params.append(("state", state))
    if issuer:
        params.append(("iss", issuer))  # RFC 9207
    return error_redirect(redirect_uri, request.response_type, request.param("response_mode"), params)


# -- reload on change -------------------------------------------------------------------


class ConfigWatcher:
    """Reload a runner when its config file changes, by polling in a daemon thread.

    Polling the file's mtime, size and inode every ``interval`` seconds works on
    every platform and catches editors that replace the file. A broken file is
    logged by ``runner.reload()`` and leaves the old rules in force; the watcher
    tries again only when the file changes again.
    """

    def __init__(self, runner: Any, path: str | os.PathLike[str], interval: float = 1.0) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.runner = runner
        self.path = os.fspath(path)
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen = self._stamp()

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def check(self) -> bool | None:
        """Reload if the file changed since last seen: the result of ``reload()``, or None if unchanged."""
        stamp = self._stamp()
        if stamp is None or stamp == self._seen:
            return None
        self._seen = stamp
        return bool(self.runner.reload())

    def start(self) -> "ConfigWatcher":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="authrules-config-watch", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.interval * 2 + 1)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception as exc:  # noqa: BLE001 - the watcher must outlive one bad reload
                log = getattr(self.runner, "logger", None) or structlog.get_logger("authrules")
                log.error("authrules.watch_failed", config=escape_control(str(self.path)),
                          error=escape_control(f"{type(exc).__name__}: {exc}"))
