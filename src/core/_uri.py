"""RFC 3986 character checks and a comparison key for audience URIs.

Audience rules compare what a client asked for with what the config names. Two
strings that RFC 3986 section 6 calls equivalent (scheme and host case, default
port, percent-encoding of unreserved characters, dot segments) get the same key,
and so do the spellings the WHATWG URL standard (browsers, Node's ``new URL``)
reads alike: ``http:api``, ``http:/api`` and ``http:///api`` all mean
``http://api/`` for its special schemes. ``urn:`` and the namespace id compare
without case (RFC 8141). The key also drops what could only make a deny miss:
a trailing slash, a fragment, a trailing dot on the host, URN r/q/f components.
It never splits one resource into two, so normalising can only widen a deny,
never loosen it.

Some values name no single resource, and a server could read them as another
one: a port that is no number from 0 to 65535 (``:65616`` wraps to 80 in
16-bit parsers, ``:80:80`` splits either way) and a userinfo part (RFC 9110
4.2.4 forbids it in http(s) URIs; it also carries passwords into logs).
:func:`audience_key` raises :class:`ValueError` for those, and the request is
refused as ``invalid_request``.
"""

from __future__ import annotations

import re

__all__ = ["audience_key", "is_uri_text"]

# Every character RFC 3986 allows anywhere in a URI (unreserved, reserved, "%").
_URI_TEXT = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# RFC 3986 Appendix B.
_SPLIT = re.compile(r"(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?", re.S)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443", "ftp": "21"}
# WHATWG URL "special schemes" whose authority may follow any number of slashes ("file" has its own rules).
_SPECIAL = frozenset(_DEFAULT_PORTS)
# The usual audience: lower-case http(s), a host of dot-separated labels, a path without '.' or '%'.
# Nothing in it is normalised, so its key is itself without trailing slashes. Possessive (++, *+):
# no class holds the '.' or '/' after it, so giving characters back could never help, only take time.
_PLAIN_URL = re.compile(r"https?://[a-z0-9\-]++(?:\.[a-z0-9\-]++)*+(?:/[A-Za-z0-9_~\-]*+)*+")


def is_uri_text(value: str) -> bool:
    """True when ``value`` is non-empty and holds only characters a URI may hold."""
    return _URI_TEXT.fullmatch(value) is not None and _BAD_PERCENT.search(value) is None


def _percent(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


def _normalize_percent(text: str) -> str:
    return _PERCENT.sub(_percent, text) if "%" in text else text


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, over a list of segments."""
    if "." not in path:
        return path
    out: list[str] = []
    segments = path.split("/")
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == ".":
            if last:
                out.append("")
        elif seg == "..":
            if len(out) > 1 or (out and out[0] != ""):
                out.pop()
            if last:
                out.append("")
        else:
            out.append(seg)
    result = "/".join(out)
    if path.startswith("/") and not result.startswith("/"):
        result = "/" + result
    return result


def audience_key(value: str) -> str:
    """Comparison key for an audience or RFC 8707 resource value.

    Absolute URIs are normalised as the module docstring says; a value with no
    scheme (an opaque API identifier) is compared as written, percent-encoding
    aside. Raises :class:`ValueError` (whose text never quotes ``value``) for
    a bad port or a userinfo part.
    """
    if _PLAIN_URL.fullmatch(value):
        return value.rstrip("/")
    scheme, authority, path, query, _fragment = _SPLIT.fullmatch(value).groups()  # type: ignore[union-attr]
    if scheme is None or _SCHEME.fullmatch(scheme) is None:
        return _normalize_percent(value).rstrip("/")
    scheme = scheme.lower()
    if scheme in _SPECIAL and (authority is None or authority == ""):
        # WHATWG: after a special scheme, slashes are optional and any number of them is one "//".
        rest = value[len(scheme) + 1:].lstrip("/")
        _, authority, path, query, _fragment = _SPLIT.fullmatch("x://" + rest).groups()  # type: ignore[union-attr]
    if scheme == "urn" and authority is None:
        nid, colon, nss = path.partition(":")
        return "urn:" + nid.lower() + colon + _normalize_percent(nss).rstrip("/")  # RFC 8141 3.1: no r/q/f
    key = scheme + ":"
    if authority is not None:
        userinfo, at, hostport = authority.rpartition("@")
        if at:
            raise ValueError("holds a userinfo part, which may carry a password")
        if hostport.startswith("["):
            host, _, rest = hostport.partition("]")
            host += "]"
            if rest and not rest.startswith(":"):
                raise ValueError("has text after an IP literal that is not a port")
            port = rest[1:]
        else:
            host, _, port = hostport.partition(":")
        host = _normalize_percent(host).lower().rstrip(".")
        if port:
            if not (port.isascii() and port.isdigit()):
                raise ValueError("has a port that is not a number")
            port = port.lstrip("0") or "0"  # compared as text: int() of a 5000-digit port raises
            if len(port) > 5 or int(port) > 65535:
                raise ValueError("has a port above 65535")
            port = "" if port == _DEFAULT_PORTS.get(scheme) else port
        key += "//" + host + (":" + port if port else "")
        path = _remove_dot_segments(_normalize_percent(path))
    else:
        path = _normalize_percent(path)
    key += path.rstrip("/")
    if query:
        key += "?" + _normalize_percent(query)
    return key
