"""Raw HTTP/1.1 request bytes to method, target, headers and body (RFC 9112).

Only what a single request may hold is accepted: anything that two HTTP
implementations could read two ways (conflicting Content-Length, Content-Length
beside Transfer-Encoding, Transfer-Encoding in HTTP/1.0, obsolete line folding,
bytes after the body) is a
``RequestError``, since a rule that reads a request differently from the server
behind it is a rule that can be bypassed.
"""

from __future__ import annotations

import re

from ._errors import RequestError
from ._limits import Limits

__all__ = ["parse_http"]

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_REQUEST_LINE = re.compile(r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([^ ]+) HTTP/(1\.[01])")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e]*")
# Header lines that all pass _fields' checks, each ended by LF. Possessive (++, *+): a name ends at
# its colon and a line at its LF, which neither class holds, so backtracking could only take time.
_FIELD_LINES = re.compile(r"(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]++:[\t\x20-\x7e]*+\n)*+")
_HEX = re.compile(r"[0-9A-Fa-f]{1,16}")

Headers = list[tuple[str, str]]


def _split_head(raw: bytes) -> tuple[bytes, bytes]:
    """Split at the first empty line; CRLF or bare LF line ends (RFC 9112 2.2)."""
    raw = raw.lstrip(b"\r\n")  # empty lines before the request line are ignored
    crlf = raw.find(b"\r\n\r\n")
    lf = raw.find(b"\n\n")
    if crlf == -1 and lf == -1:
        if raw.endswith(b"\r\n"):
            return raw[:-2], b""
        if raw.endswith(b"\n"):
            return raw[:-1], b""
        raise RequestError("the request has no end of headers")
    if lf == -1 or (crlf != -1 and crlf < lf):
        return raw[:crlf], raw[crlf + 4:]
    return raw[:lf], raw[lf + 2:]


_CHUNK_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})(?:[ \t]*;[^\r\n]*)?")


def _dechunk(data: bytes, limit: int) -> bytes:
    """Decode a chunked body strictly (RFC 9112 7.1): CRLF line ends, no whitespace before a chunk size,
    no trailer fields. Servers differ on anything looser (h11 and waitress refuse a bare LF there, some
    proxies accept it), and a body two parsers split differently is a smuggled request."""
    out = bytearray()
    pos = 0
    while True:
        end = data.find(b"\r\n", pos)
        if end == -1:
            raise RequestError("the chunked body is truncated")
        match = _CHUNK_LINE.fullmatch(data, pos, end)
        if match is None:
            raise RequestError("the chunked body has a bad chunk size line")
        size = int(match.group(1), 16)
        pos = end + 2
        if size == 0:
            if data[pos:pos + 2] != b"\r\n" or data[pos + 2:].strip(b"\r\n"):
                raise RequestError("the chunked body has trailer fields or bytes after it")
            return bytes(out)
        if len(out) + size > limit:
            raise RequestError("the request body is too large", 413)
        chunk = data[pos:pos + size]
        if len(chunk) != size:
            raise RequestError("the chunked body is truncated")
        out += chunk
        pos += size
        if data[pos:pos + 2] != b"\r\n":
            raise RequestError("the chunked body is malformed")
        pos += 2


def parse_http(raw: bytes, limits: Limits) -> tuple[str, str, Headers, bytes]:
    """Return ``(method, target, headers, body)`` from one raw HTTP/1.x request."""
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise TypeError("a raw HTTP request must be bytes")
    raw = bytes(raw)
    head, rest = _split_head(raw)
    if len(head) > limits.max_header_bytes:
        raise RequestError("the request head is too large", 431)
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        raise RequestError("the request head holds bytes that are not ASCII") from None
    lines = _head_lines(text)
    match = _REQUEST_LINE.fullmatch(lines[0])
    if match is None:
        raise RequestError("the request line is malformed")
    method, target, _version = match.groups()
    if len(lines) - 1 > limits.max_headers:
        raise RequestError("the request has too many header fields", 431)
    headers = _fields(lines[1:])
    names = [name for name, _ in headers]
    hosts = names.count("host")
    # RFC 9112 3.2: a server MUST answer 400 to a request with more than one Host line, or none in HTTP/1.1;
    # two hosts could route the request to one tenant and authorize it for another.
    if hosts > 1:
        raise RequestError("the request has more than one Host header field")
    if hosts == 0 and _version == "1.1":
        raise RequestError("the HTTP/1.1 request has no Host header field")
    return method, target, headers, _body(headers, names, rest, limits, _version)


def _fields(lines: list[str]) -> Headers:
    """``(lower-case name, value)`` of each header line; a malformed line is a ``RequestError``.

    Most heads are well-formed: one match over all lines checks them at once,
    and only a head that fails it is walked line by line to name the problem.
    """
    if _FIELD_LINES.fullmatch("\n".join(lines) + "\n"):
        fields = [line.partition(":") for line in lines]
        return [(name.lower(), value.strip(" \t")) for name, _, value in fields]
    headers: Headers = []
    for line in lines:
        if line[:1] in (" ", "\t"):
            raise RequestError("the request uses obsolete header line folding")
        name, sep, value = line.partition(":")
        if not sep or _TOKEN.fullmatch(name) is None:
            raise RequestError("a header field is malformed")
        value = value.strip(" \t")
        if _FIELD_VALUE.fullmatch(value) is None:
            raise RequestError(f"header {name.lower()} holds a control character")
        headers.append((name.lower(), value))
    return headers


def _head_lines(text: str) -> list[str]:
    """The head's lines without their CRLF or LF ends.

    A line holding a CR but not ending in one is a bare CR: ``RequestError``.
    A line ending in a CR keeps any other CR it holds, for the request-line and
    field checks to refuse.
    """
    if text.count("\r\n") == text.count("\r") == text.count("\n"):  # CRLF line ends only: split in one go
        return text.split("\r\n")
    lines = text.split("\n")
    if any(line.endswith("\r") is False and "\r" in line for line in lines):
        raise RequestError("the request head holds a bare CR")
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _body(headers: Headers, names: list[str], rest: bytes, limits: Limits, version: str = "1.1") -> bytes:
    lengths = {v for n, v in headers if n == "content-length"} if "content-length" in names else set()
    codings = [v for n, v in headers if n == "transfer-encoding"] if "transfer-encoding" in names else []
    if codings:
        if version == "1.0":  # RFC 9112 6.1: framing of an HTTP/1.0 message with Transfer-Encoding is faulty
            raise RequestError("the request has Transfer-Encoding in HTTP/1.0")
        if lengths:
            raise RequestError("the request has both Transfer-Encoding and Content-Length")
        if len(codings) != 1 or codings[0].lower() != "chunked":
            raise RequestError("the request uses a transfer coding other than chunked", 501)
        return _dechunk(rest, limits.max_body_bytes)
    if len(lengths) > 1:
        raise RequestError("the request has conflicting Content-Length headers")
    if lengths:
        (text,) = lengths
        if not text.isdigit() or not text.isascii():
            raise RequestError("the Content-Length header is not a number")
        digits = text.lstrip("0") or "0"
        if len(digits) > 18:  # past any limit; and int() refuses a string of over 4,300 digits
            raise RequestError("the request body is too large", 413)
        length = int(digits)
        if length > limits.max_body_bytes:
            raise RequestError("the request body is too large", 413)
        if len(rest) < length:
            raise RequestError("the request body is shorter than its Content-Length")
        if rest[length:].strip(b"\r\n"):
            raise RequestError("the request has bytes after its body")
        return rest[:length]
    if rest.strip(b"\r\n"):
        raise RequestError("the request has a body but no Content-Length")
    return b""
