"""RFC 3986 character checks and a comparison key for audience URIs.

Audience rules compare what a client asked for with what the config names. Two
strings that RFC 3986 section 6 calls equivalent (scheme and host case, default
port, percent-encoding of unreserved characters, dot segments) get the same key,
and so do the spellings the WHATWG URL standard (browsers, Node's ``new URL``)
reads alike: ``http:api``, ``http:/api`` and ``http:///api`` all mean
``http://api/`` for its special schemes (http, https, ws, wss, ftp). Their hosts
are read as its host parser reads them: percent-decoded as UTF-8, mapped by IDNA
(UTS 46: fullwidth ``ａ`` is ``a``, U+3002 ``。`` is ``.``, a soft hyphen is
nothing, ``faß`` is ``xn--fa-hia``), IPv4 in any of its spellings (``127.1``,
``0x7f.0.0.1`` and ``2130706433`` are ``127.0.0.1``), IPv6 compressed
(``[0:0::1]`` is ``[::1]``). Other schemes keep their hosts opaque. ``urn:`` and
the namespace id compare without case (RFC 8141). The key also drops what could
only make a deny miss: a trailing slash, a fragment, a trailing dot on the host,
URN r/q/f components. It never splits one resource into two, so normalising can
only widen a deny, never loosen it.

Some values name no single resource, and a server could read them as another
one: a port that is no number from 0 to 65535 (``:65616`` wraps to 80 in
16-bit parsers, ``:80:80`` splits either way), a userinfo part (RFC 9110 4.2.4
forbids it in http(s) URIs; it also carries passwords into logs), and a
special-scheme host that the WHATWG host parser refuses (invalid UTF-8 once
decoded, a character no host may hold, a number that is no IPv4 address, no
IPv6 address in brackets) or that the ``idna`` package cannot map: these fail
closed. :func:`audience_key` raises :class:`ValueError` for them, and the
request is refused as ``invalid_request``.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import unquote_to_bytes

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
# Nothing in it is normalised, so its key is itself without trailing slashes. The host's last label
# starts with a letter or '-' (one starting with a digit may be an IPv4 number: 127.1, 0x7f) and no
# label starts with "xn--" (an IDNA A-label, which is checked). Possessive (++, *+): no class holds
# the '.' or '/' after it, so giving characters back could never help, only take time.
_PLAIN_URL = re.compile(r"https?://(?:(?!xn--)[a-z0-9\-]++\.)*+(?!xn--)[a-z\-][a-z0-9\-]*+(?:/[A-Za-z0-9_~\-]*+)*+")
# WHATWG URL "forbidden domain code points": no host of a special scheme holds one once decoded.
_FORBIDDEN_DOMAIN = re.compile(r"[\x00-\x20#%/:<>?@\[\\\]^|\x7f]")
# WHATWG IPv4 numbers: decimal, 0x-hex (digits optional: "0x" is 0) or 0-octal.
_IPV4_NUMBER = re.compile(r"0[xX](?P<hex>[0-9A-Fa-f]*)|0(?P<oct>[0-7]+)|(?P<dec>0|[1-9][0-9]*)")
_ACE_LABEL = re.compile(r"(?:^|\.)xn--", re.I)
# DNS names are at most 253 octets and an A-label is longer than its U-label: a longer host names
# nothing, and IDNA's work (Punycode is quadratic) stays bounded.
_MAX_IDNA_HOST = 253
_IPV6_TEXT = re.compile(r"[0-9A-Fa-f:.]+")  # no zone id ("%25eth0"), no IPvFuture ("v7.x")


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


def _ipv4_number(text: str) -> int | None:
    """The value of a WHATWG IPv4 number (decimal, 0x-hex, 0-octal), or None when ``text`` is none.

    A number too long for any IPv4 part comes back as 2**32, which fails every range
    check, so that int() never converts thousands of digits.
    """
    match = _IPV4_NUMBER.fullmatch(text)
    if match is None:
        return None
    if match["hex"] is not None:
        radix, digits = 16, match["hex"]
    elif match["oct"] is not None:
        radix, digits = 8, match["oct"]
    else:
        radix, digits = 10, match["dec"]
    digits = digits.lstrip("0")
    return 2**32 if len(digits) > 11 else int(digits or "0", radix)


def _ipv4(domain: str) -> str:
    """WHATWG IPv4 parser: 1 to 4 numbers, the last filling the bytes left; dotted-decimal out."""
    parts = domain.split(".")
    numbers = [_ipv4_number(part) for part in parts]
    if len(parts) > 4 or None in numbers:
        raise ValueError("has a host that ends in a number but is no IPv4 address")
    *leading, last = numbers  # type: ignore[misc]
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        raise ValueError("has a host that ends in a number but is no IPv4 address")
    address = last + sum(n << (8 * (3 - i)) for i, n in enumerate(leading))
    return ".".join(str(byte) for byte in address.to_bytes(4, "big"))


def _ipv6(literal: str) -> str:
    """An IPv6 literal (without brackets) as WHATWG serializes it.

    Lower-case hex without leading zeros, the first longest run of two or more zero
    pieces as "::", an embedded IPv4 part in hex: written out here rather than taken
    from ``str(IPv6Address)``, whose form for IPv4-mapped addresses differs between
    Python versions.
    """
    try:
        if _IPV6_TEXT.fullmatch(literal) is None:
            raise ValueError
        packed = ipaddress.IPv6Address(literal).packed
    except ValueError:  # ipaddress's text quotes the value
        raise ValueError("has an IP literal that is no IPv6 address") from None
    text = ":".join(f"{int.from_bytes(packed[i:i + 2], 'big'):x}" for i in range(0, 16, 2))
    zero_runs = re.finditer(r"(?:^|:)0(?::0)+(?=:|$)", text)  # two or more "0" pieces in a row
    longest = max(zero_runs, key=lambda run: len(run.group()), default=None)  # max keeps the first
    if longest is None:
        return text
    return text[:longest.start()] + "::" + text[longest.end():].lstrip(":")


def _ace_label(label: str) -> str:
    """One label of a UTS 46-mapped host as its ASCII form: an IDNA A-label ("xn--...").

    A label already "xn--..." is decoded, checked and encoded again, as UTS 46 does; one that
    decodes to ASCII only is refused (UTS 46 since Unicode 15.1). The checks are IDNA 2008's
    (the ``idna`` package): stricter than WHATWG's in places (no emoji, no "--" in 3rd and 4th
    place), so some hosts browsers accept are refused here, never read as another host.
    """
    import idna  # on first use: most hosts are plain ASCII, and cold start is budgeted (docs/performance.md)

    if label.isascii():
        unicode = idna.ulabel(label)
        if unicode.isascii():
            raise ValueError
        label = unicode
    return idna.alabel(label).decode("ascii")


def _domain_to_ascii(domain: str) -> str:
    """WHATWG "domain to ASCII": UTS 46 mapping, non-transitional, without STD3 rules.

    Maps case and compatibility forms (fullwidth letters, U+3002 and the other dots),
    drops what maps to nothing (soft hyphen), keeps ß and ς (non-transitional), and
    writes labels that are not ASCII as A-labels. Raises :class:`ValueError` when
    the host cannot be mapped, and for U+1E9E (capital sharp s), which UTS 46 maps to
    "ss" before Unicode 15.1 and to "ß" since: servers on either side of that change
    read it as two different hosts, so no key can stand for it.
    """
    import idna  # see _ace_label

    try:
        if len(domain) > _MAX_IDNA_HOST or "\u1e9e" in domain:
            raise ValueError
        mapped = idna.uts46_remap(domain, std3_rules=False)
        labels = [label if label.isascii() and not label.startswith("xn--") else _ace_label(label)
                  for label in mapped.split(".")]
        ascii_domain = ".".join(labels)
        if not ascii_domain:  # all of it mapped to nothing
            raise ValueError
    except ValueError:  # IDNAError is one; its text quotes the host
        raise ValueError("has a host that IDNA cannot map to a domain name") from None
    return ascii_domain


def _special_host(host: str) -> str:
    """The host of a special-scheme URL as the WHATWG host parser reads it, trailing dots dropped.

    Percent-decoded and read as UTF-8; an ASCII host is lower-cased, any other (or one
    with an "xn--" label) goes through IDNA (:func:`_domain_to_ascii`); a host ending in
    a number is an IPv4 address in any of its spellings (``127.1``, ``0x7f.0.0.1``,
    ``2130706433``). Raises :class:`ValueError` where WHATWG fails (the URL names no
    host), and for a host the ``idna`` package refuses.
    """
    try:
        domain = unquote_to_bytes(host).decode("utf-8")
    except ValueError:  # the codec's text shows the bytes
        raise ValueError("has a host that is not UTF-8 once percent-decoded") from None
    if domain.isascii() and not _ACE_LABEL.search(domain):
        domain = domain.lower()
    else:
        domain = _domain_to_ascii(domain)
    if _FORBIDDEN_DOMAIN.search(domain):
        raise ValueError("has a host holding a character no host may hold")
    # Dropped before the IPv4 check, so that "127.1.." is 127.0.0.1 as "127.1." is: a key
    # only merges spellings, never splits them.
    domain = domain.rstrip(".")
    last = domain.rpartition(".")[2]
    if last and (last.isdigit() or _ipv4_number(last) is not None):  # WHATWG "ends in a number"
        return _ipv4(domain)
    return domain


def audience_key(value: str) -> str:
    """Comparison key for an audience or RFC 8707 resource value.

    Absolute URIs are normalised as the module docstring says; a value with no
    scheme (an opaque API identifier) is compared as written, percent-encoding
    aside. Raises :class:`ValueError` (whose text never quotes ``value``) for
    a bad port, a userinfo part, or a special-scheme host that names no host.
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
            literal, bracket, rest = hostport[1:].partition("]")
            if rest and not rest.startswith(":"):
                raise ValueError("has text after an IP literal that is not a port")
            port = rest[1:]
            if scheme in _SPECIAL:
                if not bracket:
                    raise ValueError("has an IP literal without its closing bracket")
                host = "[" + _ipv6(literal) + "]"
            else:
                host = "[" + _normalize_percent(literal).lower() + "]"
        else:
            host, _, port = hostport.partition(":")
            host = _special_host(host) if scheme in _SPECIAL else _normalize_percent(host).lower().rstrip(".")
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
