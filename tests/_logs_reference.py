"""The log-safety code as it was before it was made fast (src/core/_logs.py at 83e16ba), kept verbatim below
this docstring as the reference the fast paths are compared with (tests/test_log_fast_paths.py): for any event,
the optimised processors must give exactly what these give. Not collected by pytest (the name starts with "_").
Do not "fix" or speed up this copy; change the reference only together with a deliberate change of behaviour.
"""
# ruff: noqa

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any, Iterable, MutableMapping
from urllib.parse import quote, quote_plus

__all__ = ["SECRET_KEYS", "scrub", "escape_control", "redact_secrets", "escape_control_chars",
           "secret_values", "strings_of", "is_secret_key", "mask_patterns"]

REDACTED = "[redacted]"
#: Event keys whose values are always masked by ``redact_secrets`` (compared after ``_key``).
SECRET_KEYS = frozenset({
    "password", "client_secret", "code", "code_verifier", "refresh_token", "access_token",
    "assertion", "client_assertion", "subject_token", "actor_token", "device_code", "id_token",
    "id_token_hint", "authorization", "proxy_authorization", "cookie", "set_cookie", "token", "secret",
    "otp", "new_password", "mfa_token", "binding_code", "api_key", "x_api_key", "private_key",
    "auth_req_id", "login_hint_token", "dpop", "recovery_code", "oob_code", "user_code", "tx_code",
    "pre_authorized_code",
})
# C0, DEL, C1, the Unicode line and paragraph separators, and the bidi controls that reorder text.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMES = (r"password|client_secret|code_verifier|refresh_token|access_token|client_assertion|assertion|"
          r"subject_token|actor_token|device_code|id_token_hint|id_token|mfa_token|binding_code|api_key|"
          r"api-key|auth_req_id|login_hint_token|dpop|secret|code|token")
# name=value, name: value, 'name': 'value', "name": ["value"] ... : the value up to its closing quote
# when quoted (escapes included), else up to the next delimiter; a Cookie header to the end of the line;
# the credentials after an HTTP authentication scheme.
_QUOTED = r"'(?:[^'\\]|\\.)*'?|\"(?:[^\"\\]|\\.)*\"?"
_PATTERNS = re.compile(
    rf"(?i)(?<![A-Za-z0-9])(?P<param>(?:{_NAMES})['\"]?\s*+[=:]\s*+(?!\[redacted\])[\[(]?\s*+)"
    rf"(?:{_QUOTED}|[^&\s'\",;)}}\]]+)"
    rf"|(?<![A-Za-z0-9])(?P<cookie>(?:set[-_])?cookie['\"]?\s*+[=:]\s*+(?!\[redacted\]))(?:{_QUOTED}|[^\r\n'\"]+)"
    r"|(?<![A-Za-z0-9])(?P<scheme>(?:basic|bearer|dpop|digest|negotiate)\s++)(?!\[redacted\])[A-Za-z0-9._~+/=\-]+"
)


def _key(name: Any) -> str:
    key = (name.decode("latin-1") if isinstance(name, bytes) else str(name)).lower().replace("-", "_")
    return key[5:] if key.startswith("http_") else key  # WSGI environ: HTTP_AUTHORIZATION, HTTP_COOKIE


def is_secret_key(name: Any) -> bool:
    """True for a field name whose value is a credential (``Authorization``, ``HTTP_COOKIE``, ...)."""
    return _key(name) in SECRET_KEYS


def _mask(match: re.Match[str]) -> str:
    return (match.group("param") or match.group("cookie") or match.group("scheme")) + REDACTED


def mask_patterns(text: str) -> str:
    """Mask credential-shaped text: ``password=...``, ``'code': '...'``, ``Cookie: ...``, ``Bearer ...``."""
    return _PATTERNS.sub(_mask, text)


def escape_control(text: str) -> str:
    """Escape C0, C1, DEL, Unicode line separators and bidi controls as ``\\xNN`` / ``\\uNNNN``."""
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", text)


def _escaped(value: str) -> Iterable[str]:
    yield repr(value)[1:-1]
    yield ascii(value)[1:-1]
    yield json.dumps(value)[1:-1]
    yield json.dumps(value, ensure_ascii=False)[1:-1]


def _forms(value: str) -> Iterable[str]:
    """A secret as it may show up in text: as is, percent-encoded, escaped by repr() or JSON once or
    twice (``KeyError(repr(params))``), or as the repr of its UTF-8 bytes."""
    yield value
    yield quote_plus(value, safe="")
    yield quote(value, safe="")
    yield repr(value.encode("utf-8", "surrogatepass"))[2:-1]
    for once in set(_escaped(value)):
        yield once
        yield from _escaped(once)


def scrub(text: str, secrets: Iterable[str] = (), limit: int = 4000) -> str:
    """Text fit for a log line: secrets cut, credential patterns masked, one line."""
    forms = {form for value in secrets if value for form in _forms(value) if form}
    for form in sorted(forms, key=len, reverse=True):  # longest first: no form leaves part of another
        if form in text:
            text = text.replace(form, REDACTED)
    text = mask_patterns(text)
    text = escape_control(text)
    return text if len(text) <= limit else text[:limit] + "...[truncated]"


def secret_values(settings: Any) -> tuple[str, ...]:
    """The values of a settings object's ``authrules.secret()`` fields (nested dataclasses too)."""
    if settings is None or not dataclasses.is_dataclass(settings) or isinstance(settings, type):
        return ()
    found: list[str] = []
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name, None)
        if f.metadata.get("secret"):
            _collect(value, found)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            found.extend(secret_values(value))
    return tuple(found)


def strings_of(value: Any) -> tuple[str, ...]:
    """Every string in a setting's value (nested containers too), numbers as text."""
    found: list[str] = []
    _collect(value, found)
    return tuple(found)


def _collect(value: Any, found: list[str]) -> None:
    if isinstance(value, str):
        found.append(value)
    elif isinstance(value, bytes):
        found.append(value.decode("utf-8", "replace"))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        found.append(str(value))
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _collect(item, found)


def _clean(value: Any, escape: bool = True) -> Any:
    """A value fit for a log line: credential keys and header pairs masked at any depth, credential-shaped
    text masked, and (``escape``) control characters escaped; other objects become their cleaned repr."""
    if isinstance(value, str):
        value = mask_patterns(value)
        return escape_control(value) if escape else value
    if isinstance(value, (bytes, bytearray)):
        return _clean(bytes(value).decode("utf-8", "backslashreplace"), escape)
    if isinstance(value, (list, tuple)):
        # A header list, WSGI or ASGI style: ("authorization", "Basic ...") pairs.
        if len(value) == 2 and isinstance(value[0], (str, bytes)) and is_secret_key(value[0]):
            return [_clean(value[0], escape), REDACTED]
        return [_clean(v, escape) for v in value]
    if isinstance(value, dict):
        return {_clean(k, escape) if isinstance(k, (str, bytes)) else k:
                (REDACTED if is_secret_key(k) else _clean(v, escape)) for k, v in value.items()}
    if value is None or type(value) is bool:
        return value
    if isinstance(value, int):  # a subclass's own __repr__ would reach the renderer: use int's
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    return _clean(repr(value), escape)


_LEAVE = frozenset({"exc_info", "stack_info"})


def redact_secrets(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask credentials in an event, at any depth.

    Values of keys named like credentials (``password``, ``Authorization``,
    ``HTTP_COOKIE``, ...), the value of a ``("authorization", ...)`` header
    pair, and credential-shaped text (``password=...``, ``Bearer ...``).
    """
    for key, value in event.items():
        if key in _LEAVE:
            continue
        if is_secret_key(key):
            event[key] = REDACTED
        elif type(value) not in (int, float, bool, type(None)):
            event[key] = _clean(value, escape=False)
    return event


def escape_control_chars(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: one event, one line, no secret-shaped text, no terminal escapes.

    Every string in the event (keys too, at any depth) has its control
    characters escaped and ``password=...``-shaped text masked; header pairs
    and mappings with credential keys are masked; other objects become their
    cleaned ``repr``.
    """
    cleaned = {}
    for key, value in event.items():
        name = escape_control(key) if isinstance(key, str) else key
        if key in _LEAVE:  # structlog's own objects, formatted by processors placed before this one
            cleaned[name] = value
        else:
            cleaned[name] = REDACTED if is_secret_key(key) else _clean(value)
    event.clear()
    event.update(cleaned)
    return event
