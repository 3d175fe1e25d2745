"""One TLS session over a real socket, whichever implementation runs it: the interface and its errors.

``tlsdiff client`` and ``tlsdiff server`` drive a ``Session`` and never ask which
implementation is behind it (``tlsdiff.net_engine`` for the Python engine,
``tlsdiff.net_s2n`` for C s2n-tls). Each implementation turns its own failures into the
few ``NetError`` kinds below, so the command prints the same line for the same event:
a peer's alert during the handshake is ``handshake refused``, a close during it too
(never a clean close), a failure this side detected is ``handshake failed``, and so on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from engine.connection import ConnectionInfo

__all__ = [
    "CLIENT_TO_SERVER",
    "SERVER_TO_CLIENT",
    "AlertReceivedError",
    "ConnectFailedError",
    "ConnectionLostError",
    "HandshakeFailedError",
    "HandshakeRefusedError",
    "NetError",
    "Session",
    "TimedOutError",
    "TruncatedError",
    "UsageError",
    "Wire",
    "directions",
]

CLIENT_TO_SERVER, SERVER_TO_CLIENT = "client->server", "server->client"


def directions(*, client: bool) -> tuple[str, str]:
    """``(outgoing, incoming)`` wire directions for one side."""
    return (CLIENT_TO_SERVER, SERVER_TO_CLIENT) if client else (SERVER_TO_CLIENT, CLIENT_TO_SERVER)


Transfer = tuple[str, bytes]  # (direction, the bytes that crossed the socket)


def _nobody() -> None:
    pass


class Wire(list[Transfer]):
    """Every transfer of one connection as it crosses the socket; ``observer`` is called after each.

    The command's trace observes it, so each message is printed when it is sent or received,
    not when the handshake is over (a stalled peer shows where it stalled).
    """

    def __init__(self) -> None:
        super().__init__()
        self.observer: Callable[[], None] = _nobody

    def append(self, transfer: Transfer, /) -> None:
        """Keep ``transfer``, then tell the observer."""
        super().append(transfer)
        self.observer()


class UsageError(Exception):
    """Bad flags or files: the command says why in one line and exits with status 2."""


class NetError(Exception):
    """A connection that ended badly; ``kind`` and the message make the one line the user sees (status 1)."""

    kind = "connection failed"


class ConnectFailedError(NetError):
    """No TCP connection: refused, unreachable, a name that does not resolve, no answer in time."""

    kind = "cannot connect"


class HandshakeRefusedError(NetError):
    """The peer ended the handshake: an alert, a close_notify or a closed socket before it completed."""

    kind = "handshake refused"


class HandshakeFailedError(NetError):
    """This side refused what the peer sent during the handshake (and told it so, if it could)."""

    kind = "handshake failed"


class AlertReceivedError(NetError):
    """The peer sent a fatal alert after the handshake."""

    kind = "connection ended"


class TruncatedError(NetError):
    """The peer closed its socket without close_notify after the handshake."""

    kind = "connection truncated"


class ConnectionLostError(NetError):
    """The transport failed (reset, refused writes), or a TLS error after the handshake."""

    kind = "connection lost"


class TimedOutError(NetError):
    """The peer said nothing for the whole ``--timeout``."""

    kind = "timed out"


class Session(Protocol):
    """A TLS connection on a connected socket, driven by the command line.

    Every verb raises a ``NetError`` when the connection ends badly. ``wire`` gets every
    transfer ``(direction, bytes)`` as it crosses the socket and ``key_log`` every NSS
    key-log line of this connection, for the trace (``tlsdiff.net_trace``).
    """

    implementation: str
    wire: Wire
    key_log: list[bytes]

    def handshake(self) -> None:
        """Run the handshake to completion."""

    def send(self, data: bytes) -> None:
        """Send application data."""

    def receive(self, *, wait: bool = True) -> bytes | None:
        """The application data that has arrived, maybe ``b""``; None once the peer has closed with
        close_notify (this side may still send until its own ``close_send``).

        Data already read from the socket comes first, without waiting (``select`` cannot see it:
        always ask with ``wait=False`` before waiting on ``fileno()``). Otherwise, with ``wait``,
        the socket is read: at least once, at most until some data arrives or the timeout passes.
        """

    def close_send(self) -> None:
        """Send close_notify (this side has nothing more to say) and keep reading."""

    def settimeout(self, seconds: float | None) -> None:
        """Bound each wait on the socket from now on (None: wait for ever)."""

    def fileno(self) -> int:
        """The socket's file descriptor, to wait on with ``selectors``."""

    def info(self) -> ConnectionInfo:
        """What was negotiated, in s2n's names."""

    def close(self) -> None:
        """Free the connection and close the socket (no close_notify: use ``close_send`` first)."""
