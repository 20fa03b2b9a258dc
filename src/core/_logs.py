"""Keeping secrets and control characters out of log lines.

authrules' own events carry only fields it chose (names, ids, audiences,
scopes: all validated). Text it does not control, an exception message or a
traceback from a rule, goes through ``scrub``: the request's credential values
are cut out, credential-shaped patterns are masked, and control characters are
escaped so that a value can neither start a new line nor colour a terminal.
The two structlog processors here do the same for any event; the CLI uses
them, and a host may add them to its own chain.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, MutableMapping

__all__ = ["SECRET_KEYS", "scrub", "escape_control", "redact_secrets", "escape_control_chars"]

REDACTED = "[redacted]"
#: Event keys whose values are always masked by ``redact_secrets``.
SECRET_KEYS = frozenset({
    "password", "client_secret", "code", "code_verifier", "refresh_token", "access_token",
    "assertion", "client_assertion", "subject_token", "actor_token", "device_code", "id_token",
    "authorization", "cookie", "set-cookie", "token", "secret", "otp", "new_password",
})
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_PATTERNS = re.compile(
    r"(?i)((?:password|client_secret|code_verifier|refresh_token|access_token|client_assertion|"
    r"assertion|subject_token|actor_token|device_code|id_token|code|token)\s*[=:]\s*['\"]?)[^&\s'\",;)}]+"
    r"|((?:basic|bearer|dpop)\s+)[A-Za-z0-9._~+/=\-]+"
)


def escape_control(text: str) -> str:
    """Escape C0, C1, DEL and Unicode line separators as ``\\xNN`` / ``\\uNNNN``."""
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", text)


def scrub(text: str, secrets: Iterable[str] = (), limit: int = 4000) -> str:
    """Text fit for a log line: secrets cut, credential patterns masked, one line."""
    for value in secrets:
        if value and value in text:
            text = text.replace(value, REDACTED)
    text = _PATTERNS.sub(lambda m: (m.group(1) or m.group(2)) + REDACTED, text)
    text = escape_control(text)
    return text if len(text) <= limit else text[:limit] + "...[truncated]"


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return escape_control(value)
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {escape_control(str(k)): (REDACTED if str(k).lower() in SECRET_KEYS else _clean(v))
                for k, v in value.items()}
    return value


def redact_secrets(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask the values of keys named like credentials."""
    for key in event:
        if key.lower() in SECRET_KEYS:
            event[key] = REDACTED
    return event


def escape_control_chars(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: no value may hold a control character (one event, one line)."""
    for key, value in event.items():
        if not isinstance(value, (int, float, bool, type(None))):
            event[key] = _clean(value if isinstance(value, (str, list, tuple, dict)) else repr(value))
    return event
