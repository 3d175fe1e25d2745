"""``tlsdiff server --www``: answer an HTTP request with a small HTTP/1.0 status page, as ``openssl s_server -www``.

One request per connection (HTTP/1.0): the server reads the request head (at most
``MAX_REQUEST_HEAD`` bytes, all within the timeout), answers, sends close_notify and
waits, at most the timeout again, for the client's. The page says what the handshake negotiated, in
the words of the handshake trace. Everything taken from the request is escaped before
it is put in the page.
"""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass

from engine.connection import ConnectionInfo
from tlsdiff.net_session import Session, TimedOutError
from tlsdiff.net_trace import summary_lines

__all__ = ["MAX_REQUEST_HEAD", "Request", "read_request", "response_for"]

MAX_REQUEST_HEAD = 16384
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_REQUEST_LINE = re.compile(rb"([A-Z]{1,16}) (\S{1,8000}) HTTP/(\d)\.(\d)")


@dataclass(frozen=True)
class Request:
    """The request head a client sent (maybe cut short), and why reading stopped."""

    head: bytes
    too_long: bool = False  # cut at MAX_REQUEST_HEAD before the blank line that ends a head

    @property
    def request_line(self) -> bytes:
        """The first line, without its line end."""
        return self.head.split(b"\n", 1)[0].rstrip(b"\r")


def read_request(session: Session, timeout: float) -> Request | None:
    """Read until the blank line that ends an HTTP request head, or ``MAX_REQUEST_HEAD`` bytes;
    None when the peer closes first (there is no one to answer).

    The whole head must come within ``timeout`` seconds, however it is dripped (else ``TimedOutError``).
    """
    deadline = time.monotonic() + timeout
    head = bytearray()
    try:
        while (end := _HEAD_END.search(head)) is None:
            if len(head) > MAX_REQUEST_HEAD:
                return Request(bytes(head[:MAX_REQUEST_HEAD]), too_long=True)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimedOutError(f"no complete HTTP request in {timeout:g} s")
            session.settimeout(remaining)
            try:
                data = session.receive()
            except TimedOutError:  # each implementation words its own timeout; the limit is this one
                raise TimedOutError(f"no complete HTTP request in {timeout:g} s") from None
            if data is None:
                return None
            head += data
    finally:
        session.settimeout(timeout)
    return Request(bytes(head[: end.end()]))


def _page(request: Request, info: ConnectionInfo, implementation: str, connection: str) -> bytes:
    request_line = request.request_line.decode("latin-1")
    lines = [
        f"tlsdiff server ({implementation}): {connection}",
        f"request: {request_line}",
        "",
        *(line.strip() for line in summary_lines(info, implementation)),
        "",
    ]
    body = "\n".join(html.escape(line) for line in lines)
    return f'<html><body bgcolor="#ffffff">\n<pre>\n{body}</pre>\n</body></html>\n'.encode()


def _response(status: str, body: bytes, *, head_only: bool = False) -> bytes:
    header = f"HTTP/1.0 {status}\r\nContent-Type: text/html\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    return header.encode("ascii") + (b"" if head_only else body)


def response_for(request: Request, info: ConnectionInfo, implementation: str, connection: str) -> bytes:
    """The whole HTTP/1.0 response to ``request``: the status page for GET (headers only for HEAD),
    405 for another method, 400 for what is not an HTTP request, 431 for a head over the limit.

    >>> info = ConnectionInfo("TLSv1.3", "TLS_AES_128_GCM_SHA256", "x25519", "ecdsa_secp256r1_sha256",
    ...                       "NEGOTIATED|FULL_HANDSHAKE", "APPLICATION_DATA", None, None, 0, 0)
    >>> response_for(Request(b"BREW /pot HTTP/1.0\\r\\n\\r\\n"), info, "engine", "peer").split(b"\\r\\n")[0]
    b'HTTP/1.0 405 Method Not Allowed'
    """
    if request.too_long:
        return _response("431 Request Header Fields Too Large", b"request head too long\n")
    match = _REQUEST_LINE.fullmatch(request.request_line)
    if match is None:
        return _response("400 Bad Request", b"not an HTTP request\n")
    method = match.group(1)
    if method not in (b"GET", b"HEAD"):
        return _response("405 Method Not Allowed", b"only GET and HEAD\n")
    return _response("200 ok", _page(request, info, implementation, connection), head_only=method == b"HEAD")
