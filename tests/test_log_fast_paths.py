"""The log-safety processors' fast paths change nothing: same output as the straightforward code they replace.

``redact_secrets``, ``escape_control_chars`` and ``mask_patterns`` skip work for text that cannot need it
(cheap tests before the regular expression, memoised keys and plain strings, fast paths for common types).
A fast path that is wrong lets a credential or a control character through, so:

* the premises the cheap tests rest on are checked over every code point;
* generated events (credential-shaped text, Unicode case folds, control characters, bytes, nested
  containers, header pairs, ``str`` subclasses and objects with hostile methods) give exactly what the
  reference gives: tests/_logs_reference.py, the code as it was before it was made fast;
* the edges each fast path introduces are pinned one by one.
"""

from __future__ import annotations

import copy
import math
import re
from collections import namedtuple
from typing import Any

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import _logs_reference as reference
from authrules import _logs, escape_control_chars, redact_secrets
from authrules._logs import REDACTED

FORBIDDEN = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
EVERY_CHAR = "".join(map(chr, range(0x110000)))  # surrogates included: str allows them


# -- the premises of the cheap tests --------------------------------------------------------------

def test_no_control_character_is_printable():
    """escape_control returns printable text as it is: none of _CONTROL may be printable."""
    assert [hex(ord(c)) for c in _logs._CONTROL.findall(EVERY_CHAR) if c.isprintable()] == []


def test_the_only_printable_whitespace_is_the_space():
    """_credential_free looks for " " as the whitespace a scheme needs, in printable text."""
    spaces = re.findall(r"(?i)\s", EVERY_CHAR)  # \s as _PATTERNS reads it (Unicode, case-insensitive)
    assert [hex(ord(c)) for c in spaces if c.isprintable()] == ["0x20"]


def test_on_ascii_text_ignorecase_is_lower():
    """_credential_free looks for _WORDS in text.lower() when the text is ASCII."""
    for letter in sorted(set("".join(_logs._TRIGGERS))):
        for code in range(128):
            folds = re.fullmatch(f"(?i){re.escape(letter)}", chr(code)) is not None
            assert folds == (chr(code).lower() == letter), (letter, chr(code))


def test_every_branch_of_the_patterns_starts_with_a_trigger_word():
    """_WORDS stands for every branch of _PATTERNS: each starts with a word of _TRIGGERS and needs a
    delimiter after it. A new branch must keep that, or _credential_free must learn about it."""
    branches = _logs._PATTERNS.pattern.removeprefix("(?i)").split("|(?<![A-Za-z0-9])")
    starts = [rf"""(?P<param>(?:{_logs._NAMES})['\"]?\s*+[=:]""", r"""(?P<cookie>(?:set[-_])?cookie['\"]?\s*+[=:]""",
              rf"(?P<scheme>(?:{_logs._SCHEMES})\s++)"]
    assert len(branches) == len(starts)
    for branch, start in zip(branches, starts):
        assert branch.removeprefix("(?<![A-Za-z0-9])").startswith(start), branch
    assert all(any(word in trigger for word in _logs._WORDS) for trigger in _logs._TRIGGERS)


# -- generated text and events: the same output as the reference -----------------------------------

FRAGMENTS = [
    "password", "PassWord", "pa\u017f\u017fword", "client_secret", "Client-Secret", "code", "CODE", "code_verifier",
    "token", "refresh_token", "id_token_hint", "api_key", "api_\u212aey", "assertion", "secret", "cookie",
    "Set-Cookie", "set_cookie", "basic", "Bearer", "BEARER", "dpop", "Digest", "negotiate", "http_", "HTTP_",
    "authorization", "=", ":", " ", "  ", "\t", "'", '"', "[", "(", ")", "]", "}", ",", ";", "&", "[redacted]",
    "hunter2", "aHVudGVyMg==", "abc", "x1", "https://as.example/cb", "/", "\n", "\r\n", "\x1b[31m", "\x00", "\x7f",
    "\x85", "\x9b", "\xa0", "\u2003", "\u2028", "\u2029", "\u200e", "\u202e", "\u2066", "\ufeff", "\\", "\\x0a",
    "\u00fc", "\u0130", "\u0131", "\U0001f600", "\ud800",
]
texts = st.one_of(st.lists(st.sampled_from(FRAGMENTS), max_size=8).map("".join), st.text(max_size=20),
                  st.sampled_from(FRAGMENTS))


class HostileStr(str):
    """A str whose own methods lie: a fast path must read the characters, never ask the object."""

    def isprintable(self) -> bool:
        return True

    def isascii(self) -> bool:
        return True

    def lower(self) -> str:
        return "plain"

    def __contains__(self, item: object) -> bool:
        return False

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return hash("event")

    def __repr__(self) -> str:
        return "'\n\x1b[31mforged'"

    __str__ = __repr__


class Shown:
    """An object whose repr() is the given text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


Pair = namedtuple("Pair", "name value")

keys = st.one_of(texts, st.sampled_from(["event", "Authorization", "HTTP_COOKIE", "proxy-authorization",
                                         "exc_info", "stack_info", "x\ny", "pass\u2028word"]),
                 texts.map(HostileStr), texts.map(lambda t: t.encode("utf-8", "surrogatepass")), st.integers(-2, 2))
atoms = st.one_of(texts, texts.map(lambda t: t.encode("utf-8", "surrogatepass")), st.integers(), st.floats(),
                  st.booleans(), st.none(), texts.map(HostileStr), texts.map(Shown),
                  st.binary(max_size=8).map(bytearray))
values = st.recursive(
    atoms,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.lists(inner, max_size=4).map(tuple),
        st.tuples(st.sampled_from(["authorization", b"Cookie", "accept", b"host", "code"]), inner),
        st.tuples(inner, inner).map(lambda t: Pair(*t)),
        st.dictionaries(keys, inner, max_size=4)),
    max_leaves=12)
events = st.dictionaries(keys, values, max_size=8)


def shape(value: Any) -> Any:
    """What a renderer sees, exactly: types (str vs subclass, list vs tuple) and contents."""
    if isinstance(value, dict):
        return (type(value).__name__, [(shape(k), shape(v)) for k, v in value.items()])
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [shape(v) for v in value])
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    if isinstance(value, (str, bytes, bytearray, int, float)) or value is None:
        return (type(value).__name__, str.__str__(value) if isinstance(value, str) else value)
    return (type(value).__name__, id(value))


def fresh(event: dict[Any, Any]) -> dict[Any, Any]:
    """A copy to hand to a processor (which changes its event in place), sharing only the ``Shown`` objects."""
    return {k: copy.deepcopy(v, {id(s): s for s in _shown(v)}) for k, v in event.items()}


def _shown(value: Any) -> list[Any]:
    """Objects that must stay the same object in both copies (compared by identity in ``shape``)."""
    if isinstance(value, Shown):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_shown(k), *_shown(v))]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _shown(v)]
    return []


def run(processors: list[Any], event: dict[Any, Any]) -> Any:
    event = fresh(event)
    for processor in processors:
        event = processor(None, "info", event)
    return shape(event)


CHAINS = {
    "redact": ([redact_secrets], [reference.redact_secrets]),
    "escape": ([escape_control_chars], [reference.escape_control_chars]),
    "both": ([redact_secrets, escape_control_chars], [reference.redact_secrets, reference.escape_control_chars]),
}
GENERATED = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@GENERATED
@given(texts)
def test_mask_patterns_and_escape_control_match_the_reference(text):
    for function in ("mask_patterns", "escape_control", "scrub"):
        ours, theirs = getattr(_logs, function)(text), getattr(reference, function)(text)
        assert ours == theirs and type(ours) is type(theirs), (function, text)


@GENERATED
@given(events)
def test_processors_match_the_reference(event):
    for chain, (ours, theirs) in CHAINS.items():
        try:
            expected = run(theirs, event)
        except Exception as exc:  # noqa: BLE001 - the reference may raise (e.g. hostile keys); so must we
            with pytest.raises(type(exc)):
                run(ours, event)
            continue
        assert run(ours, event) == expected, chain


@GENERATED
@given(events)
def test_processors_match_the_reference_when_seen_again(event):
    """The memo tables: a second pass over the same keys and text (now remembered) gives the same."""
    for chain, (ours, theirs) in CHAINS.items():
        try:
            expected = run(theirs, event)
        except Exception:  # noqa: BLE001
            continue
        assert run(ours, event) == expected == run(ours, event), chain


# -- the edges, one by one ----------------------------------------------------------------------

def render_both(event: dict[str, Any]) -> tuple[str, str]:
    lines = []
    for renderer in (structlog.processors.JSONRenderer(), structlog.dev.ConsoleRenderer(colors=False)):
        e = escape_control_chars(None, "info", redact_secrets(None, "info", fresh(event)))
        lines.append(renderer(None, "info", e))
    return lines[0], lines[1]


@pytest.mark.parametrize("text", [
    "password=hunter2", "PASSWORD: hunter2", "pa\u017f\u017fword=hunter2", "api_\u212aey=hunter2",
    "Bearer hunter2", "bearer\thunter2", "Bearer\xa0hunter2", "Bearer\u2003hunter2", "BEARER\u3000hunter2",
    "x=1&code=hunter2", "{'refresh_token': 'hunter2'}", "Set-Cookie: sid=hunter2", "note\nclient_secret=hunter2",
    "\u0130d_token=hunter2 id_token=hunter2",
])
@pytest.mark.parametrize("where", ["value", "nested", "list", "bytes", "dict-key"])
def test_credential_shaped_text_only_the_regex_sees_is_masked(text, where):
    """Text the cheap tests must hand to the regex: Unicode folds and spaces, tabs, several lines."""
    event = {"value": {"event": "e", "note": text}, "nested": {"event": "e", "a": {"b": [text]}},
             "list": {"event": "e", "items": (text, "x")}, "bytes": {"event": "e", "raw": text.encode()},
             "dict-key": {"event": "e", "d": {text: 1}}}[where]
    for line in render_both(event):
        assert "hunter2" not in line, line
        assert REDACTED in line


def test_a_str_subclass_with_lying_methods_is_masked_and_escaped():
    for text in ("password=hunter2", "ok\n\x1b[31mforged", "Bearer hunter2"):
        event = {"event": "e", "value": HostileStr(text), "items": [HostileStr(text)], HostileStr(text): 1,
                 "d": {HostileStr(text): HostileStr(text)}}
        for line in render_both(event):
            assert "hunter2" not in line and "\n" not in line and FORBIDDEN.search(line) is None, repr(line)


def test_a_str_subclass_never_reaches_the_renderer():
    """Even plain text: its __repr__ would write what it likes on a console line."""
    event = redact_secrets(None, "info", {"event": "e", "a": HostileStr("plain"), "b": [HostileStr("x")]})
    assert type(event["a"]) is str and type(event["b"][0]) is str
    event = escape_control_chars(None, "info", {"event": "e", "a": HostileStr("plain")})
    assert type(event["a"]) is str


class LookalikeStr(str):
    """A str that claims to equal (and hashes like) ``event``, a key any memo of plain keys holds."""

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return hash("event")


def test_a_key_that_claims_to_equal_a_remembered_plain_key_is_still_tested_itself():
    for processor in (redact_secrets, escape_control_chars):
        processor(None, "info", {"event": "remember me", "d": {"event": 1}, "h": [("event", "x")]})
        event = processor(None, "info", {LookalikeStr("password"): "hunter2", "d": {LookalikeStr("Cookie"): "hunter2"},
                                         "h": [(LookalikeStr("authorization"), "hunter2")]})
        assert "hunter2" not in repr(list(event.values())), processor
        assert list(event.values())[0] == REDACTED


@pytest.mark.parametrize("key", ["user\n", "pass\u2028word", "a\x1b[31m", "\u202eevent"])
def test_control_characters_in_keys_are_escaped_after_the_key_was_seen_plain(key):
    escape_control_chars(None, "info", {"event": "e", "user": 1})
    for line in render_both({"event": "e", key: 1, "d": {key: 2}}):
        assert FORBIDDEN.search(line) is None and "\n" not in line, repr(line)


def test_text_remembered_as_plain_is_still_plain_after_the_memo_is_full():
    many = {f"k{i}": f"https://as.example/{i}" for i in range(3 * 4096)}
    escape_control_chars(None, "info", dict(many))
    for line in render_both({"event": "e", "k": "password=hunter2", "h": [("authorization", "Basic hunter2")]}):
        assert "hunter2" not in line


def test_secret_keys_and_header_pairs_are_redacted_after_being_seen():
    for _ in range(3):
        for line in render_both({"event": "e", "Authorization": "Basic hunter2", "HTTP_COOKIE": "sid=hunter2",
                                 "headers": [(b"authorization", b"Basic hunter2"), ("Cookie", "sid=hunter2")],
                                 "scopes": ("code", "hunter2")}):
            assert "hunter2" not in line, line


def test_objects_with_hostile_repr_become_clean_text():
    event = {"event": "e", "thing": Shown("<T password=hunter2>\n\x1b[31m"), "list": [Shown("Bearer hunter2")],
             "pair": Pair("authorization", "Basic hunter2")}
    for line in render_both(event):
        assert "hunter2" not in line and FORBIDDEN.search(line) is None and "\n" not in line, repr(line)


def test_long_text_with_and_without_trigger_words():
    """A traceback: many lines, spaces and colons; masked exactly where the regex says, escaped throughout."""
    tb = "Traceback (most recent call last):\n" + "  File \"/srv/x.py\", line 3, in f\n    call(url)\n" * 50
    for text in (tb, tb + "KeyError: token\n", tb + "ValueError: password='hunter2'\n"):
        assert _logs.mask_patterns(text) == reference.mask_patterns(text)
        for line in render_both({"event": "e", "traceback": text}):
            assert "hunter2" not in line and "\n" not in line


def test_the_memo_tables_stay_bounded():
    tables = [value for name, value in vars(_logs).items() if name.endswith("_MEMO") and isinstance(value, dict)]
    assert tables
    for i in range(3 * _logs._MEMO_SIZE):
        redact_secrets(None, "info", {f"key-{i}": f"value: {i}", "d": {f"k{i}": 1}})
        escape_control_chars(None, "info", {f"key-{i}": f"value: {i}", "x" * (_logs._MEMO_TEXT + i): 1})
    for table in tables:
        assert 0 < len(table) <= _logs._MEMO_SIZE
        assert all(type(text) is str and len(text) <= _logs._MEMO_TEXT for text in table)


def test_threads_sharing_tiny_memo_tables_get_the_reference_output(monkeypatch):
    """Memo tables emptied every few entries while eight threads log: every line still as the reference."""
    import threading

    monkeypatch.setattr(_logs, "_MEMO_SIZE", 4)
    samples = [{"event": "e", "n": i, "url": f"https://as.example/{i % 7}", "note": note,
                "scopes": ("openid", f"s{i % 3}"), "headers": [("Authorization", "Basic hunter2")], "key\n": i,
                "d": {"password": "hunter2", "x": [note]}}
               for i, note in enumerate(["ok", "password=hunter2", "a\x1b[31mb", "Bearer hunter2", "plain text"] * 8)]
    expected = [run(CHAINS["both"][1], event) for event in samples]
    failures: list[Any] = []

    def work() -> None:
        for _ in range(20):
            for event, want in zip(samples, expected):
                if run(CHAINS["both"][0], event) != want:
                    failures.append(event)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
