"""Request parsing takes shortcuts for the usual input; each must give what the general path gives.

Every shortcut below is checked against its general path (forced by switching
the shortcut off) or against the code it replaced, on generated input biased
towards the characters that decide which path is taken. Results and problem
texts must be equal; nothing here is timed.
"""

from __future__ import annotations

import re
from dataclasses import FrozenInstanceError, fields
from types import MappingProxyType
from urllib.parse import quote, quote_plus, unquote

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from authrules import Limits, Request, RequestError
from authrules import _http, _params, _request, _uri

NEVER = re.compile(r"(?!)")  # a pattern that matches nothing: switches a regex shortcut off


def outcome(call, *args):
    try:
        result = call(*args)
    except (RequestError, ValueError) as exc:
        return type(exc).__name__, str(exc), getattr(exc, "status", None)
    return "ok", list(result.items()) if hasattr(result, "items") else result


# -- URL-encoded text: decoded whole, or pair by pair --------------------------------------------

PAIR_PARTS = ["a", "b", "client_id", "Client_Id", "audience", "resource", "scope", "x[]", "=", "&", "+", "%41",
              "%26", "%3D", "%3d", "%00", "%C3%A9", "%C3", "%ZZ", "%", ";", "~", "é", "a" * 7]
TEXTS = st.lists(st.sampled_from(PAIR_PARTS), max_size=12).map("".join)
LIMITS = st.builds(Limits, max_params=st.integers(1, 6), max_value_length=st.integers(1, 8))


@settings(max_examples=600, deadline=None)
@given(TEXTS, LIMITS)
@example("a=%26&a=%3d", Limits())
@example("a=%C3&b=%A9", Limits())
@example("x=%00", Limits())
def test_urlencoded_text_decoded_whole_reads_as_decoded_pair_by_pair(text, limits):
    whole = outcome(lambda: _params.parse_query(text, _params._Counter(limits)))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_params, "_decoded_whole", lambda text, limits, room: None)
        by_pair = outcome(lambda: _params.parse_query(text, _params._Counter(limits)))
    assert whole == by_pair


def test_registered_names_pass_the_name_checks_they_skip():
    for name in _params._KNOWN_NAMES:
        _params._check_name(name, Limits(max_value_length=1))
        assert "[" not in name and "]" not in name


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "resource", "audience"]),
                          st.lists(st.sampled_from(["", "x", "y"]), min_size=1, max_size=3).map(tuple)),
                max_size=4))
def test_merge_of_one_clean_source_is_the_general_merge(items):
    source = dict(items)
    assert outcome(_params.merge, MappingProxyType(source)) == outcome(_params.merge, source)  # a dict: no shortcut


# -- the request head ------------------------------------------------------------------------------

HEAD_PARTS = ["Host: a", "X-Y:  v \t", "Bad Name: v", ":v", "novalue", " folded", "\tfolded", "v\x01", "v\x7f",
              "\r\n", "\n", "\r", "\r\r\n", "GET / HTTP/1.1"]


def lines_as_before(text):
    """_head_lines before its one-split shortcut."""
    lines = text.split("\n")
    if any(line.endswith("\r") is False and "\r" in line for line in lines):
        raise RequestError("the request head holds a bare CR")
    return [line[:-1] if line.endswith("\r") else line for line in lines]


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(HEAD_PARTS), max_size=10).map("".join))
def test_head_lines_and_fields_read_as_line_by_line(text):
    assert outcome(_http._head_lines, text) == outcome(lines_as_before, text)
    lines = text.replace("\r\n", "\n").split("\n")
    checked_at_once = outcome(_http._fields, lines)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_http, "_FIELD_LINES", NEVER)
        assert checked_at_once == outcome(_http._fields, lines)


# -- audiences, paths, headers ---------------------------------------------------------------------

def joined(separator, parts, max_size=4):
    return st.lists(st.sampled_from(parts), max_size=max_size).map(separator.join)


URLS = st.tuples(st.sampled_from(["http://", "https://", "HTTP://", "http:", "http:///", "urn:", ""]),
                 joined(".", ["a", "B", "0", "-", "", "%41", "x@y", "127", "0x7f", "09", "xn--fa-hia", "XN--A",
                              "xn--a", "%EF%BD%81"]),
                 st.sampled_from(["", ":80", ":443", ":8080", ":x", ":"]),
                 joined("", ["/", "/a", "/B", "/.", "/..", "/%41", "/a.b", "/_~-"]),
                 st.sampled_from(["", "?x", "#f", "/"])).map("".join)


@settings(max_examples=1000, deadline=None)
@given(URLS)
@example("http://a/.")
@example("http://a/b/..")
@example("http://B/")
@example("https://a.:443/")
@example("http://127.1")
@example("http://2130706433/x")
@example("http://a.0x7f")
@example("http://xn--a.b")
def test_plain_url_audience_key_is_the_normalised_key(value):
    plain = outcome(_uri.audience_key, value)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_uri, "_PLAIN_URL", NEVER)
        assert plain == outcome(_uri.audience_key, value)


def endpoint_as_before(path):
    segments = []
    for raw in path.split("/"):
        for seg in unquote(raw.split(";", 1)[0], errors="replace").split("/"):
            if seg == "..":
                if segments:
                    segments.pop()
            elif seg not in ("", "."):
                segments.append(seg)
    last = segments[-1].lower() if segments else ""
    return last if last in _request._ENDPOINTS else "other"


@settings(max_examples=600, deadline=None)
@given(joined("/", ["", "token", "TOKEN", "authorize", ".", "..", "token;x", "%74oken", "a%2Ftoken", "é", "v1.0"]))
@example("/oauth/token/.")
@example("/oauth/%74oken")
@example("/oauth/token;x")
def test_endpoint_reads_as_before(path):
    assert _request._endpoint(path) == endpoint_as_before(path)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["Host", "host", "A", "b", "Content-Type"]), st.sampled_from(["1", "2"])),
                max_size=6), st.integers(1, 7))
def test_headers_grouped_at_once_as_one_by_one(items, most):
    assert outcome(_request._grouped_headers, items, most) == outcome(_request._grouped_headers, iter(items), most)


# -- what a resolved Request holds -----------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=12))
@example("a b")
@example("Tr0ub4dor&3")
@example("s3cr3t-Value_.~")
@example("é")
def test_secret_forms_are_the_value_and_both_encodings(value):
    assert set(_request._secret_forms(value)) == {value, quote_plus(value, safe=""), quote(value, safe="")}


def test_request_built_through_its_slots_is_the_constructed_one():
    raw = (b"POST /oauth/token HTTP/1.1\r\nHost: as\r\nContent-Type: application/x-www-form-urlencoded\r\n"
           b"Content-Length: 51\r\n\r\ngrant_type=client_credentials&client_id=c&scope=a+b")
    built = Request.from_http(raw)
    values = {f.name: getattr(built, f.name) for f in fields(Request)}
    constructed = Request(**values)
    assert type(built) is Request and built.problem is None
    assert all(getattr(built, name) is getattr(constructed, name) for name in values)
    with pytest.raises(FrozenInstanceError):
        built.client_id = "other"  # type: ignore[misc]
