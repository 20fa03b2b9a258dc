"""RFC 3986 character checks and a comparison key for audience URIs.

Audience rules compare what a client asked for with what the config names. Two
strings that RFC 3986 section 6 calls equivalent (scheme and host case, default
port, percent-encoding of unreserved characters, dot segments) get the same key.
The key also drops what could only make a deny miss: a trailing slash, a
userinfo part, a fragment, a trailing dot on the host. It never splits one
resource into two, so normalising can only widen a deny, never loosen it.
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
    aside.
    """
    scheme, authority, path, query, _fragment = _SPLIT.fullmatch(value).groups()  # type: ignore[union-attr]
    if scheme is None or _SCHEME.fullmatch(scheme) is None:
        return _normalize_percent(value).rstrip("/")
    scheme = scheme.lower()
    key = scheme + ":"
    if authority is not None:
        hostport = authority.rpartition("@")[2]
        if hostport.startswith("["):
            host, _, rest = hostport.partition("]")
            host += "]"
            port = rest[1:] if rest.startswith(":") else rest
        else:
            host, _, port = hostport.partition(":")
        host = _normalize_percent(host).lower().rstrip(".")
        if port.isdigit() and port.isascii():  # compared as text: int() of a huge port raises
            port = port.lstrip("0") or "0"
            port = "" if port == _DEFAULT_PORTS.get(scheme) else port
        key += "//" + host + (":" + port if port else "")
        path = _remove_dot_segments(_normalize_percent(path))
    else:
        path = _normalize_percent(path)
    key += path.rstrip("/")
    if query:
        key += "?" + _normalize_percent(query)
    return key
