"""Keeping secrets and control characters out of log lines.

authrules' own events carry only fields it chose (names, ids, audiences,
scopes: all validated). Text it does not control, an exception message or a
traceback from a rule, goes through ``scrub``: the request's credential values
and the rule's secret settings are cut out (as sent, percent-encoded, and in
the escaped forms ``repr()`` and JSON give them), credential-shaped patterns
are masked, and control characters are escaped so that a value can neither
start a new line nor colour a terminal. The two structlog processors here do
the same for any event; the CLI uses them, and a host may add them to its own
chain (docs/security.md).

They run for every log line, so they are built to cost little on the events
they usually see (benchmarks/bench_logs.py): a cheap test before the
credential regex, memo tables for keys and for text already found plain, and
fast paths for exact str, numbers, None, lists and tuples; anything else takes
the general path. tests/test_log_fast_paths.py checks that the result is
exactly what the straightforward code gives (tests/_logs_reference.py).
"""

from __future__ import annotations

import dataclasses
import json
import re
from contextvars import ContextVar
from typing import Any, Iterable, MutableMapping
from urllib.parse import quote, quote_plus

from structlog.processors import format_exc_info

__all__ = ["SECRET_KEYS", "CURRENT", "scrub", "cut", "secret_forms", "escape_control", "redact_secrets",
           "escape_control_chars", "flatten_exceptions", "secret_values", "strings_of", "is_secret_key",
           "mask_patterns"]

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
_SCHEMES = r"basic|bearer|dpop|digest|negotiate"
# name=value, name: value, 'name': 'value', "name": ["value"] ... : the value up to its closing quote
# when quoted (escapes included), else up to the next delimiter; a Cookie header to the end of the line;
# the credentials after an HTTP authentication scheme.
_QUOTED = r"'(?:[^'\\]|\\.)*'?|\"(?:[^\"\\]|\\.)*\"?"
_PATTERNS = re.compile(
    rf"(?i)(?<![A-Za-z0-9])(?P<param>(?:{_NAMES})['\"]?\s*+[=:]\s*+(?!\[redacted\])[\[(]?\s*+)"
    rf"(?:{_QUOTED}|[^&\s'\",;)}}\]]+)"
    rf"|(?<![A-Za-z0-9])(?P<cookie>(?:set[-_])?cookie['\"]?\s*+[=:]\s*+(?!\[redacted\]))(?:{_QUOTED}|[^\r\n'\"]+)"
    rf"|(?<![A-Za-z0-9])(?P<scheme>(?:{_SCHEMES})\s++)(?!\[redacted\])[A-Za-z0-9._~+/=\-]+"
)
# What every match of _PATTERNS holds, for the cheap test in _credential_free: each of its three branches starts
# with a word of _NAMES, "cookie" or a word of _SCHEMES, followed by '=' or ':' (a name, a cookie) or by
# whitespace (a scheme). Keep it so when adding a branch. _WORDS are those words without the ones that hold
# another (client_secret holds secret): finding the shorter finds both.
_TRIGGERS = (*_NAMES.split("|"), "cookie", *_SCHEMES.split("|"))
_WORDS = tuple(word for word in _TRIGGERS if not any(other != word and other in word for other in _TRIGGERS))


def _key(name: Any) -> str:
    key = (name.decode("latin-1") if isinstance(name, bytes) else str(name)).lower().replace("-", "_")
    return key[5:] if key.startswith("http_") else key  # WSGI environ: HTTP_AUTHORIZATION, HTTP_COOKIE


# Memo tables for the processors, which meet the same few keys and values in every event. Bounded: a table
# that reaches _MEMO_SIZE entries is emptied, and text longer than _MEMO_TEXT is never kept (so a table holds
# at most 256k characters: recent short keys and values that were logged anyway, nothing masked). Exact str
# only: a subclass may hash and compare as it likes, so it would find another string's entry. Threads share
# them: each get, add and clear is atomic, and a race can only make a table forget an entry.
_MEMO_SIZE = 2048
_MEMO_TEXT = 128
_SECRET_KEY_MEMO: dict[str, bool] = {}


def _remember(memo: dict[str, Any], text: str, value: Any) -> None:
    if len(text) <= _MEMO_TEXT:
        if len(memo) >= _MEMO_SIZE:
            memo.clear()
        memo[text] = value


def is_secret_key(name: Any) -> bool:
    """True for a field name whose value is a credential (``Authorization``, ``HTTP_COOKIE``, ...)."""
    if type(name) is not str:
        return _key(name) in SECRET_KEYS
    secret = _SECRET_KEY_MEMO.get(name)
    if secret is None:
        secret = _key(name) in SECRET_KEYS
        _remember(_SECRET_KEY_MEMO, name, secret)
    return secret


def _mask(match: re.Match[str]) -> str:
    return (match.group("param") or match.group("cookie") or match.group("scheme")) + REDACTED


def _credential_free(text: str) -> bool:
    """True only when ``_PATTERNS`` cannot match ``text`` (an exact ``str``): a cheap test that spares most
    text the regular expression, which costs ~0.1 µs a character. False means "maybe": run it.

    * Printable text without ``=``, ``:`` or a space cannot match: every match needs ``=``/``:`` after a name
      or whitespace after a scheme, and the only whitespace ``str.isprintable()`` allows is the space.
    * ASCII text whose ``lower()`` holds none of ``_WORDS`` cannot match: every match holds one, and on ASCII
      text ``(?i)`` is ``lower()``. Other text may fold differently (``(?i)`` matches ``ſ`` to ``s`` and
      the Kelvin sign to ``k``), so it always goes to the regular expression.

    tests/test_log_fast_paths.py checks both premises over every code point.
    """
    if text.isprintable() and ":" not in text and "=" not in text and " " not in text:
        return True
    if text.isascii():
        lowered = text.lower()
        for word in _WORDS:
            if word in lowered:
                return False
        return True
    return False


def mask_patterns(text: str) -> str:
    """Mask credential-shaped text: ``password=...``, ``'code': '...'``, ``Cookie: ...``, ``Bearer ...``.

    Text with nothing to mask comes back as the same object when it is an exact ``str``; a ``str`` subclass
    always comes back as a plain ``str`` (its own methods, ``__repr__`` included, never reach a renderer).
    """
    if type(text) is str and _credential_free(text):
        return text
    return _PATTERNS.sub(_mask, text)


def escape_control(text: str) -> str:
    """Escape C0, C1, DEL, Unicode line separators and bidi controls as ``\\xNN`` / ``\\uNNNN``."""
    if type(text) is str and text.isprintable():  # none of _CONTROL is printable (checked by the tests)
        return text
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


def secret_forms(secrets: Iterable[str]) -> tuple[str, ...]:
    """Every form of every secret (``_forms``), longest first: cutting in that order, no form leaves
    part of another behind."""
    return tuple(sorted({form for value in secrets if value for form in _forms(value) if form},
                        key=len, reverse=True))


def cut(text: str, forms: tuple[str, ...]) -> str:
    """``text`` with each of ``forms`` (from ``secret_forms``) replaced by ``[redacted]``."""
    for form in forms:
        if form in text:
            text = text.replace(form, REDACTED)
    return text


def scrub(text: str, secrets: Iterable[str] = (), limit: int = 4000) -> str:
    """Text fit for a log line: secrets cut, credential patterns masked, one line."""
    text = cut(text, secret_forms(secrets))
    text = mask_patterns(text)
    text = escape_control(text)
    return text if len(text) <= limit else text[:limit] + "...[truncated]"


def secret_values(settings: Any) -> tuple[str, ...]:
    """The values of a settings object's ``authrules.secret()`` fields, at any depth: in nested settings
    dataclasses, and in dataclasses held by lists, tuples, sets and dicts."""
    found: list[str] = []
    _collect_secrets(settings, found)
    return tuple(found)


def _collect_secrets(value: Any, found: list[str]) -> None:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            item = getattr(value, f.name, None)
            if f.metadata.get("secret"):
                _collect(item, found)
            else:
                _collect_secrets(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            _collect_secrets(item, found)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _collect_secrets(item, found)


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
    elif isinstance(value, dict):  # the keys too: a secret mapping's keys may be the secret part
        for key, item in value.items():
            _collect(key, found)
            _collect(item, found)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _collect(item, found)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):  # all of a secret dataclass is secret
        for f in dataclasses.fields(value):
            _collect(getattr(value, f.name, None), found)


# Exact types _clean returns as they are (subclasses go the long way, as they always did).
_ATOMS = frozenset({int, float, bool, type(None)})
# Exact str text that mask_patterns and escape_control both leave as it is, remembered (see _MEMO_SIZE): the
# scopes, audiences and URLs of every event pay the credential regex once, not twice a line.
_PLAIN_MEMO: dict[str, bool] = {}


def _clean_text(text: str, escape: bool) -> str:
    """``_clean`` for an exact ``str``: ``text`` itself when there is nothing to mask or escape."""
    if text in _PLAIN_MEMO:
        return text
    masked = mask_patterns(text)
    if masked is text and (text.isprintable() or _CONTROL.search(text) is None):
        _remember(_PLAIN_MEMO, text, True)
        return text
    return escape_control(masked) if escape else masked


def _clean(value: Any, escape: bool = True) -> Any:
    """A value fit for a log line: credential keys and header pairs masked at any depth, credential-shaped
    text masked, and (``escape``) control characters escaped; other objects become their cleaned repr."""
    kind = type(value)
    if kind is str:
        return _clean_text(value, escape)
    if kind in _ATOMS:
        return value
    if kind is list or kind is tuple:  # the common containers first; the same code as for their subclasses
        return _clean_sequence(value, escape)
    if isinstance(value, str):
        value = mask_patterns(value)
        return escape_control(value) if escape else value
    if isinstance(value, (bytes, bytearray)):
        return _clean(bytes(value).decode("utf-8", "backslashreplace"), escape)
    if isinstance(value, (list, tuple)):
        return _clean_sequence(value, escape)
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


def _plain_sequence(value: list[Any] | tuple[Any, ...]) -> bool:
    """True when ``_clean_sequence`` would give back ``value``'s items as they are: all exact str in
    ``_PLAIN_MEMO``, and not a header pair (two items, a secret name first)."""
    for item in value:
        if type(item) is not str or item not in _PLAIN_MEMO:
            return False
    return len(value) != 2 or not is_secret_key(value[0])


def _clean_sequence(value: list[Any] | tuple[Any, ...], escape: bool) -> list[Any]:
    """``_clean`` for a list or tuple: a list, with a header pair's value masked."""
    # A header list, WSGI or ASGI style: ("authorization", "Basic ...") pairs.
    if len(value) == 2 and isinstance(value[0], (str, bytes)) and is_secret_key(value[0]):
        return [_clean(value[0], escape), REDACTED]
    cleaned = list(value)
    for index, item in enumerate(cleaned):
        if type(item) is not str or item not in _PLAIN_MEMO:
            cleaned[index] = _clean(item, escape)
    return cleaned


_LEAVE = frozenset({"exc_info", "stack_info"})
# How both processors treat a top-level key: clean its value, mask it (a secret), or leave it (structlog's
# exc_info and stack_info). _VALUE_KEY_MEMO remembers the keys of the first kind that are exact str and need
# no escaping: nearly every key of every event, found with one lookup.
_VALUE, _SECRET, _LEFT = 0, 1, 2
_VALUE_KEY_MEMO: dict[str, bool] = {}


def _key_kind(key: Any) -> int:
    """How to treat a top-level key (tested in the order the processors always did); remembered if it can be."""
    if key in _LEAVE:
        return _LEFT
    if is_secret_key(key):
        return _SECRET
    if type(key) is str and escape_control(key) is key:
        _remember(_VALUE_KEY_MEMO, key, True)
    return _VALUE


#: The decision being made in this thread or task, as ``[decision id, request, its secret forms or None]``:
#: set by ``Runner.evaluate`` for the length of one decision (``current_decision_id`` reads it), so that
#: ``redact_secrets`` can cut that request's credentials out of whatever is logged meanwhile, a rule's own
#: events included, however they are worded.
CURRENT: ContextVar[list[Any] | None] = ContextVar("authrules_current", default=None)


#: The events authrules logs while it decides, built from fields it checked: no request credential in them.
#: (Exact names: a rule's own event is cut whatever it is called, ``authrules.``-prefixed or not.)
_OWN_EVENTS = frozenset({"authrules.decision", "authrules.rule"})


def _cut_request_secrets(event: MutableMapping[str, Any], current: list[Any]) -> None:
    forms = current[2]
    if forms is None:  # worked out once per request, and only if something is logged during it
        forms = current[2] = secret_forms(current[1].secrets)
    if not forms:
        return
    for key, value in event.items():
        if key not in _LEAVE:
            event[key] = _cut_value(value, forms)


def _cut_value(value: Any, forms: tuple[str, ...]) -> Any:
    kind = type(value)
    if kind is str:
        return cut(value, forms)
    if value is None or kind in _ATOMS:
        return value
    if isinstance(value, (list, tuple)):
        return [_cut_value(item, forms) for item in value]
    if isinstance(value, dict):
        return {_cut_value(k, forms) if isinstance(k, str) else k: _cut_value(v, forms) for k, v in value.items()}
    text = str(value) if isinstance(value, str) else repr(value)  # what the renderers would print
    cut_text = cut(text, forms)
    return value if cut_text == text and not isinstance(value, str) else cut_text


#: Keys structlog's ConsoleRenderer prints on lines of their own, and the names they are given instead.
_OWN_LINE_KEYS = (("exception", "exception_text"), ("stack", "stack_text"))


def flatten_exceptions(logger: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: tracebacks as text fields the other two processors can clean, one line each.

    ``exc_info`` becomes ``exception_text`` (``format_exc_info``'s text), and
    ``exception`` and ``stack`` fields are renamed ``exception_text`` and
    ``stack_text``: as they are, ``redact_secrets`` and ``escape_control_chars``
    never look inside ``exc_info`` (it is an object, formatted later), and the
    console renderer prints ``exception`` and ``stack`` on lines of their own
    whatever their text holds. Put it first of the three, in place of
    ``format_exc_info``.
    """
    if event.get("exc_info"):
        event = format_exc_info(logger, method, event)
    else:
        event.pop("exc_info", None)
    for key, renamed in _OWN_LINE_KEYS:
        if key in event:
            event[renamed] = event.pop(key)
    return event


def redact_secrets(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask credentials in an event, at any depth.

    Values of keys named like credentials (``password``, ``Authorization``,
    ``HTTP_COOKIE``, ...), the value of a ``("authorization", ...)`` header
    pair, and credential-shaped text (``password=...``, ``Bearer ...``). An
    event logged while a runner decides a request (by a rule, say) also has
    that request's credentials cut out, in every form ``scrub`` knows;
    authrules' own events are built from checked fields and skip this.
    """
    current = CURRENT.get()
    if current is not None:
        name = event.get("event")
        if name not in _OWN_EVENTS:
            _cut_request_secrets(event, current)
    plain_memo, value_keys = _PLAIN_MEMO, _VALUE_KEY_MEMO  # locals: this loop runs for every key of every line
    for key, value in event.items():
        if type(key) is not str or key not in value_keys:
            kind = _key_kind(key)
            if kind == _SECRET:
                event[key] = REDACTED
            if kind != _VALUE:
                continue
        vtype = type(value)
        if vtype is str:
            if value not in plain_memo:
                event[key] = _clean_text(value, escape=False)
        elif value is None or vtype in _ATOMS:
            pass
        elif vtype is tuple:
            event[key] = list(value) if _plain_sequence(value) else _clean_sequence(value, escape=False)
        elif vtype is list:
            if not _plain_sequence(value):  # else the same items: no need for a copy
                event[key] = _clean_sequence(value, escape=False)
        else:  # numbers of other types come back from _clean as they are
            event[key] = _clean(value, escape=False)
    return event


def escape_control_chars(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: one event, one line, no secret-shaped text, no terminal escapes.

    Every string in the event (keys too, at any depth) has its control
    characters escaped and ``password=...``-shaped text masked; header pairs
    and mappings with credential keys are masked; other objects become their
    cleaned ``repr``.
    """
    plain_memo, value_keys = _PLAIN_MEMO, _VALUE_KEY_MEMO
    changed = []
    for key, value in event.items():
        if type(key) is not str or key not in value_keys:
            if type(key) is not str or escape_control(key) is not key:
                return _escape_renaming_keys(event)  # a key to escape, or not an exact str
            kind = _key_kind(key)
            if kind == _SECRET:
                changed.append((key, REDACTED))
            if kind != _VALUE:
                continue
        vtype = type(value)
        if vtype is str:
            if value in plain_memo:
                continue
            cleaned = _clean_text(value, escape=True)
            if cleaned is value:
                continue
        elif value is None or vtype in _ATOMS:
            continue
        elif vtype is list or vtype is tuple:
            if _plain_sequence(value):
                if vtype is list:
                    continue  # the same items: no need for a copy
                cleaned = list(value)
            else:
                cleaned = _clean_sequence(value, escape=True)
        else:
            cleaned = _clean(value)
        changed.append((key, cleaned))
    for key, cleaned in changed:  # in place: no key changes, so order and identity stay
        event[key] = cleaned
    return event


def _escape_renaming_keys(event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """``escape_control_chars`` for an event with a key to escape: rebuilt in order, a later key winning
    over an earlier one that escapes to the same name."""
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
