"""OAuth parameters from a query string, a form body or a JSON body.

Each source keeps every value as sent. ``merge`` then builds the one view rules
read and refuses what is ambiguous: RFC 6749 section 3.1 says a parameter must
not be sent twice, so two different values for it (in one source, or in the
query and the body) is ``invalid_request``, and so is what other parsers split
into more or other parameters than authrules does (a raw ``;``, bracketed
names). RFC 8707 lets ``resource`` repeat,
and a JSON array names several ``audience`` or ``resource`` values at once.
A parameter given once and empty (or only ever empty) counts as omitted (RFC
6749 section 3.1), but the empty string is a value: beside a non-empty one,
even of ``resource``, it is a conflict, since a parser that keeps the last
value reads "not sent" and falls back to a default (an empty JSON array is an
empty value here).

All work here is linear in the input and stops at the first limit it passes.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from types import MappingProxyType
from typing import Any, Mapping
from urllib.parse import unquote_to_bytes

from ._errors import RequestError
from ._limits import Limits

__all__ = ["parse_query", "parse_form", "parse_json", "parse_json_value", "parse_request_object", "merge",
           "MULTI_VALUED", "ARRAY_VALUED", "JSON_VALUED", "RESOLVED"]

Params = Mapping[str, tuple[str, ...]]

MULTI_VALUED = frozenset({"resource"})
ARRAY_VALUED = frozenset({"audience", "resource"})
#: Parameters whose value is JSON text (RFC 9396); a JSON body or request object may give the JSON itself.
JSON_VALUED = frozenset({"authorization_details"})
#: Parameters the core resolves for rules: in a request object these must be strings (or arrays).
RESOLVED = frozenset({"client_id", "audience", "resource", "scope", "grant_type", "response_type",
                      "redirect_uri", "request_uri", "state", "client_assertion", "authorization_details"})
#: Names that must not arrive in another case: what rules read, and what decides the auth method.
_CASE_GUARDED = GUARDED_NAMES = RESOLVED | {"client_secret", "request"}
#: RFC 7519 registered claims: in a request object they describe the JWT, not the request.
_JWT_CLAIMS = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti"})

# RFC 3986 query characters: what a form serializer or a URI may send unescaped.
_QUERY_TEXT = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# Parameter names: RFC 6749 A.1-style visible ASCII, no space.
_NAME = re.compile(r"[\x21-\x7e]+")
# No value may hold NUL or a lone surrogate (it could not be logged or re-encoded).
_FORBIDDEN = re.compile(r"[\x00\ud800-\udfff]")
_NONE: Params = MappingProxyType({})


# Parameter names a description may quote: registered OAuth 2.0 / OpenID Connect names. Any other
# name came from the client and could hold anything ('"' is not RFC 6749 error text, a secret could
# be sent as a name), so it is "a parameter" in descriptions.
_KNOWN_NAMES = frozenset("""
    client_id client_secret response_type response_mode redirect_uri scope state code error
    error_description error_uri grant_type access_token token_type expires_in username password
    refresh_token nonce display prompt max_age ui_locales claims_locales id_token_hint login_hint
    acr_values claims registration request request_uri id_token assertion client_assertion
    client_assertion_type code_verifier code_challenge code_challenge_method resource audience
    requested_token_type subject_token subject_token_type actor_token actor_token_type device_code
    user_code authorization_details dpop_jkt token token_type_hint organization invitation connection
    screen_hint otp mfa_token oob_code binding_code realm auth_req_id login_hint_token
    binding_message requested_expiry new_password iss sub aud exp nbf iat jti
""".split())


def _shown(name: str) -> str:
    """How a description names a parameter: by name only when the name is a registered one."""
    return f"parameter {name}" if name in _KNOWN_NAMES else "a parameter"


class _Counter:
    __slots__ = ("n", "limits")

    def __init__(self, limits: Limits) -> None:
        self.n = 0
        self.limits = limits

    def take(self, count: int = 1) -> None:
        self.n += count
        if self.n > self.limits.max_params:
            raise RequestError("the request has too many parameters")

    def room(self) -> int:
        """How many more parameters the limit allows."""
        return self.limits.max_params - self.n


def _check_value(name: str, value: str, limits: Limits) -> str:
    if len(value) > limits.max_value_length:
        raise RequestError(f"{_shown(name)} is too long")
    if _FORBIDDEN.search(value):
        raise RequestError(f"{_shown(name)} holds a forbidden character")
    return value


_PHP_NAME = str.maketrans({".": "_", " ": "_", "[": "_"})


def _reads_as_guarded(name: str) -> bool:
    """True when some server reads ``name`` as a name authrules resolves, though it is not one.

    ASP.NET Core binds names case-insensitively (``Client_Id``); PHP turns '.'
    and ' ' into '_' (``client.id``, so Laravel Passport and league/oauth2-server
    read ``client_id``); URLSearchParams, in Node and every fetch-based server,
    drops a leading '?' from a body (``?client_id``); model binders take the
    part after a prefix (``request.client_id``).
    """
    folded = name.lower()
    bare = folded.lstrip("?")
    return any(alias in _CASE_GUARDED for alias in (
        folded, bare, folded.translate(_PHP_NAME), bare.translate(_PHP_NAME), folded.rpartition(".")[2]))


def _check_name(name: str, limits: Limits) -> str:
    if len(name) > 128 or _NAME.fullmatch(name) is None:
        raise RequestError("a parameter name is malformed")
    if name not in _CASE_GUARDED and _reads_as_guarded(name):
        raise RequestError("a parameter name differs from a registered one only in case, punctuation or a "
                           "leading '?', which some servers read as that parameter")
    return name


def _form_decoded(raw: str) -> str | None:
    """``unquote_plus(raw, errors="strict")`` for ASCII ``raw``, or None where the bytes are not UTF-8.

    ``unquote_plus`` splits its input into ASCII and non-ASCII runs first; an
    ASCII text is one run, so decoding its bytes directly gives the same string
    in half the time.
    """
    text = raw.replace("+", " ")
    if "%" not in text:
        return text
    try:
        return unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _unquote(raw: str, where: str) -> str:
    """``_form_decoded``, where bytes that are not UTF-8 are a ``RequestError``."""
    text = _form_decoded(raw)
    if text is None:
        raise RequestError(f"the {where} is not valid UTF-8 once decoded")
    return text


def _decode_urlencoded(text: str, where: str, counter: _Counter) -> Params:
    """Every name and value of a URL-encoded text, as sent; checks run pair by pair, in order.

    The text is checked whole first (RFC 3986 characters only, so it is
    ASCII), and most texts are then decoded in one go (``_decoded_whole``).
    Only a ``%00`` decodes to a forbidden character (strict UTF-8 never yields
    a surrogate), and a registered name needs no name checks.
    """
    limits = counter.limits
    if _QUERY_TEXT.fullmatch(text) is None or ("%" in text and _BAD_PERCENT.search(text)):
        raise RequestError(f"the {where} holds characters a URL-encoded form may not hold")
    if ";" in text:  # a separator for Rack before 3, Python before 3.9.2 and others; encoded it is %3B
        raise RequestError(f"the {where} holds a ';', which some servers read as a parameter separator")
    if not text:
        return _NONE
    whole = _decoded_whole(text, limits, counter.room())
    pairs = [pair for pair in (text if whole is None else whole).split("&") if pair]
    max_length = limits.max_value_length
    out: dict[str, tuple[str, ...]] = {}
    repeated: dict[str, list[str]] = {}  # every value of a name given more than once
    # Only the pairs the parameter limit allows are read; it is passed (below) where one more would be.
    for pair in pairs[:counter.room()]:
        name, _, value = pair.partition("=")
        if whole is None:
            name, value = _decoded_pair(name, value, where, limits)
        if name not in _KNOWN_NAMES:  # registered names are well-formed, lower case and bracket-free
            _check_name(name, limits)
            if "[" in name or "]" in name:  # PHP, Rack and Express's qs read a[]=x as the parameter a
                raise RequestError("a parameter name holds brackets, which some servers read as an array")
        if len(value) > max_length or "\x00" in value:
            _check_value(name, value, limits)
        if name not in out:
            out[name] = (value,)
        elif name in repeated:
            repeated[name].append(value)
        else:
            repeated[name] = [*out[name], value]
    counter.take(len(pairs))
    if repeated:
        for name in out:  # in the order names were first given, as the problem names the first
            if name in repeated:
                if _conflicting(name, repeated[name]):
                    raise RequestError(f"{_shown(name)} is given more than once with different values")
                out[name] = tuple(repeated[name])
    return MappingProxyType(out)


def _decoded_whole(text: str, limits: Limits, room: int) -> str | None:
    """``text`` decoded in one go when that gives the names and values decoding each part gives,
    and no check on a part as sent can fail; else None, and each pair is decoded on its own.

    That holds when no escape decodes to a separator (``%26`` is '&', ``%3D``
    '='), when the text is valid UTF-8 once decoded (then so is each part:
    '&' and '=' never occur inside a multi-byte character), and when it is too
    short for any value to pass the limit on a value as sent. A text with more
    pairs than the parameter limit leaves ``room`` for is decoded pair by pair,
    so that decoding stops at the limit.
    """
    if (len(text) > 3 * limits.max_value_length or text.count("&") >= room
            or "%26" in text or "%3D" in text or "%3d" in text):
        return None
    return _form_decoded(text)


def _decoded_pair(raw_name: str, raw_value: str, where: str, limits: Limits) -> tuple[str, str]:
    """One pair's name and value decoded, its value checked as sent first (decoding can only shrink it)."""
    if len(raw_value) > 3 * limits.max_value_length:
        raise RequestError("a parameter value is too long")
    return _unquote(raw_name, where), _unquote(raw_value, where)


def _conflicting(name: str, values: list[str] | tuple[str, ...]) -> bool:
    """Two different values, the empty string counting as one; ``resource`` may hold distinct non-empty ones."""
    distinct = set(values)
    return len(distinct) > 1 and (name not in MULTI_VALUED or "" in distinct)


def _freeze(values: dict[str, list[str]]) -> Params:
    return MappingProxyType({k: tuple(v) for k, v in values.items()})


def parse_query(query: str, counter: _Counter) -> Params:
    return _decode_urlencoded(query, "query string", counter)


def parse_form(body: bytes, counter: _Counter) -> Params:
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise RequestError("the form body holds bytes a URL-encoded form may not hold") from None
    return _decode_urlencoded(text, "form body", counter)


class _Pairs(list):  # type: ignore[type-arg]
    """A JSON object kept as its list of pairs, so duplicate keys stay visible."""


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _depth(value: Any, limit: int) -> None:
    """Raise when any value sits deeper than ``limit`` (the document is depth 1); one level at a time."""
    level, depth = [value], 1
    while level:
        if depth > limit:
            raise RequestError("the JSON body is nested too deeply")
        below: list[Any] = []
        for item in level:
            if isinstance(item, _Pairs):
                below.extend(v for _, v in item)
            elif isinstance(item, list):
                below.extend(item)
        level, depth = below, depth + 1


def _plain(value: Any) -> Any:
    """JSON as parsed with ``_Pairs`` back to dicts and lists; a repeated key is ambiguous."""
    if isinstance(value, _Pairs):
        keys = [k for k, _ in value]
        if len(set(keys)) != len(keys):
            raise RequestError("a JSON object in the request repeats a key")
        return {k: _plain(v) for k, v in value}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def parse_json_value(text: str, what: str) -> Any:
    """A JSON parameter value (e.g. ``authorization_details``), strictly: no NaN, no repeated keys."""
    try:
        return _plain(json.loads(text, object_pairs_hook=_Pairs, parse_constant=_reject_constant))
    except (ValueError, RecursionError):
        raise RequestError(f"{what} is not JSON") from None


def parse_json(body: bytes, counter: _Counter, *, what: str = "body") -> Params:
    """Parameters from a JSON object: string values, or arrays of strings for ``audience``/``resource``.

    ``what="request object"`` reads the claims of an RFC 9101 request object:
    JWT claims (``iss``, ``aud``, ``exp``...) are not parameters, and claims
    authrules does not resolve may hold other JSON (``max_age``, ``claims``).
    """
    limits = counter.limits
    try:
        text = body.decode("utf-8")
        document = json.loads(text, object_pairs_hook=_Pairs, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        if what == "body":
            raise RequestError("the body is not the JSON its Content-Type says") from None
        raise RequestError(f"the {what} is not JSON") from None
    if not isinstance(document, _Pairs):
        raise RequestError(f"the JSON {what} is not an object")
    _depth(document, limits.max_json_depth)
    claims = what != "body"
    out: dict[str, list[str]] = {}
    given: dict[str, tuple[str, ...]] = {}
    for name, value in document:
        counter.take()
        if name not in _KNOWN_NAMES:  # registered names are well-formed and lower case
            _check_name(name, limits)
        if claims and (name in _JWT_CLAIMS or (not isinstance(value, str) and name not in RESOLVED)):
            continue
        if isinstance(value, str):
            values: tuple[str, ...] = (value,)
        elif name in JSON_VALUED and isinstance(value, list) and not isinstance(value, _Pairs):
            values = (json.dumps(_plain(value)),)  # the parameter's value is this JSON, as text
        elif isinstance(value, list) and name in ARRAY_VALUED:
            if not all(isinstance(v, str) for v in value):
                raise RequestError(f"{_shown(name)} must be a string or an array of strings")
            values = tuple(value)
            for _ in values[1:]:
                counter.take()
        else:
            raise RequestError(f"{_shown(name)} must be a string")
        for v in values:
            _check_value(name, v, limits)
        # A key given twice is a parameter given twice (one occurrence may be an array); an empty
        # array is an empty value, and an empty value beside a non-empty one is a conflict.
        occurrence = values if len(values) == 1 else tuple(dict.fromkeys(values)) or ("",)
        first = given.setdefault(name, occurrence)
        if (len(occurrence) > 1 and "" in occurrence) or (first != occurrence and (
                name not in MULTI_VALUED or "" in first or "" in occurrence)):
            raise RequestError(f"{_shown(name)} is given more than once with different values")
        kept = out.get(name)
        if kept is None:
            out[name] = list(values)
        else:
            kept.extend(values)
    return _freeze(out)


def parse_request_object(token: str, counter: _Counter) -> Params:
    """The authorization request parameters inside an RFC 9101 request object.

    A server that supports request objects reads its parameters from there, so
    rules must see them too. The JWT is read, not verified (the server verifies
    it); an encrypted one (JWE) cannot be read here and is refused.
    """
    parts = token.split(".")
    if len(parts) == 5:
        raise RequestError("the request object is encrypted, so authrules cannot read its parameters")
    if len(parts) != 3:
        raise RequestError("the request object is not a JWT")
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
    except (binascii.Error, ValueError):
        raise RequestError("the request object is not a JWT") from None
    return parse_json(payload, counter, what="request object")


def merge(*sources: Params, arrays: Params | None = None) -> Params:
    """One value per parameter (several for ``resource``), empty values dropped.

    A parameter with two different values, in one source or across sources, is
    ambiguous and raises ``RequestError``; an empty value (or an empty JSON
    array) beside a non-empty one counts as different. JSON arrays arrive as one
    occurrence: ``{"audience": ["a", "b"]}`` names two audiences at once.
    """
    given = [source for source in sources if source]
    if len(given) == 1 and isinstance(given[0], MappingProxyType) and all(
            len(values) == 1 and values[0] for values in given[0].values()):
        return given[0]  # one source, one non-empty value per parameter: already the merged view
    merged: dict[str, tuple[str, ...]] = {}
    empty: set[str] = set()  # names given, so far, only empty
    for source in given:
        for name, values in source.items():
            if len(values) == 1:  # the common case, without building a dict
                kept = values if values[0] else ()
            else:
                kept = tuple(dict.fromkeys(v for v in values if v))
            if not kept:
                if name in merged:
                    raise RequestError(f"{_shown(name)} is given more than once with different values")
                empty.add(name)
                continue
            if name in empty or len(kept) != len(values) and "" in values:
                raise RequestError(f"{_shown(name)} is given more than once with different values")
            seen = merged.get(name)
            if seen is None:
                merged[name] = kept
            elif name in MULTI_VALUED:
                merged[name] = tuple(dict.fromkeys(seen + kept))
            elif seen != kept:
                raise RequestError(f"{_shown(name)} is given more than once with different values")
    return MappingProxyType(merged)
