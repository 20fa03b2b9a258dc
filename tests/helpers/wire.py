"""Raw HTTP/1.1 requests: captured from real clients on a loopback socket, or written by hand.

``CaptureServer`` is a real HTTP/1.1 server on 127.0.0.1 (h11 parses, the
socket is real): a client library sends to it, the server keeps the exact bytes
that arrived, and answers with a token response so OAuth clients are content.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from typing import Iterable

import h11

TOKEN_RESPONSE = json.dumps({"access_token": "at-not-real", "token_type": "Bearer", "expires_in": 3600}).encode()


class CaptureServer:
    """Accepts one request per connection, records its raw bytes, answers 200 with a token."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.captured: list[bytes] = []
        self._errors: list[BaseException] = []
        self._closing = False
        self._thread = threading.Thread(target=self._serve, name="capture-server", daemon=True)
        self._thread.start()

    def __enter__(self) -> "CaptureServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closing = True
        # accept() does not return when another thread closes the socket: wake it with a connection
        with socket.create_connection(("127.0.0.1", self.port), timeout=5):
            pass
        self._thread.join(5)
        self._sock.close()
        assert not self._thread.is_alive(), "the capture server did not stop"
        if self._errors:
            raise self._errors[0]

    def take(self) -> bytes:
        """The bytes of the one request captured since the last ``take``."""
        assert len(self.captured) == 1, f"expected one captured request, got {len(self.captured)}"
        return self.captured.pop()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            if self._closing:
                conn.close()
                return
            try:
                with conn:
                    self._handle(conn)
            except Exception as exc:  # recorded and raised by close(), so a broken capture fails the test
                self._errors.append(exc)

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        parser = h11.Connection(h11.SERVER)
        raw = bytearray()
        while True:
            event = parser.next_event()
            if event is h11.NEED_DATA:
                data = conn.recv(65536)
                raw += data
                parser.receive_data(data)
                continue
            if isinstance(event, h11.EndOfMessage):
                break
            if isinstance(event, h11.ConnectionClosed):
                return
        self.captured.append(bytes(raw))
        headers = [("content-type", "application/json"), ("content-length", str(len(TOKEN_RESPONSE))),
                   ("cache-control", "no-store"), ("connection", "close")]
        conn.sendall(parser.send(h11.Response(status_code=200, headers=headers)))
        conn.sendall(parser.send(h11.Data(data=TOKEN_RESPONSE)))
        conn.sendall(parser.send(h11.EndOfMessage()))


# -- hand-written requests -----------------------------------------------------------------

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def head(method: str, target: str, headers: Iterable[tuple[str, str]] = (), eol: bytes = b"\r\n") -> bytes:
    lines = [f"{method} {target} HTTP/1.1".encode(), b"Host: login.example.com"]
    lines += [f"{k}: {v}".encode("latin-1") for k, v in headers]
    return eol.join(lines) + eol + eol


def get(target: str, headers: Iterable[tuple[str, str]] = ()) -> bytes:
    return head("GET", target, headers)


def post(body: bytes | str, content_type: str | None = FORM, headers: Iterable[tuple[str, str]] = (),
         target: str = "/oauth/token") -> bytes:
    """A POST with a correct Content-Length (and the Content-Type given, unless None)."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    fields = list(headers)
    if content_type is not None:
        fields.append(("Content-Type", content_type))
    fields.append(("Content-Length", str(len(body))))
    return head("POST", target, fields) + body


def post_json(document: object, headers: Iterable[tuple[str, str]] = ()) -> bytes:
    return post(json.dumps(document), JSON, headers)


def chunked(body: bytes, sizes: Iterable[int], content_type: str = FORM, ext: bytes = b"",
            eol: bytes = b"\r\n") -> bytes:
    """A POST whose body is sent chunked, in chunks of the given sizes (the rest in one last chunk)."""
    out = bytearray(head("POST", "/oauth/token", [("Content-Type", content_type),
                                                  ("Transfer-Encoding", "chunked")], eol))
    pos = 0
    for size in [*sizes, len(body)]:
        piece = body[pos:pos + size]
        if not piece:
            continue
        out += f"{len(piece):x}".encode() + ext + eol + piece + eol
        pos += len(piece)
    out += b"0" + eol + eol
    return bytes(out)


def basic(user: str, password: str, scheme: str = "Basic", sep: str = " ") -> tuple[str, str]:
    """An Authorization header with ``user:password`` base64-encoded exactly as given."""
    token = base64.b64encode(f"{user}:{password}".encode("utf-8")).decode("ascii")
    return ("Authorization", f"{scheme}{sep}{token}")


def to_bare_lf(raw: bytes) -> bytes:
    """The same request with every CRLF of the head written as a bare LF (RFC 9112 2.2)."""
    end = raw.find(b"\r\n\r\n")
    assert end != -1, "not a CRLF request"
    return raw[:end].replace(b"\r\n", b"\n") + b"\n\n" + raw[end + 4:]
