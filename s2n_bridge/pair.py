"""Two s2n connections talking to each other: in memory (pumped) or over loopback TCP.

``InMemoryPair`` moves each side's writes to the other, records every transfer
with its direction (the raw material of a transcript), and drives handshake,
data and close. ``tcp_handshake`` runs the same over a real socket pair.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from s2n_bridge.connection import Connection

__all__ = ["Direction", "HandshakeStalledError", "InMemoryPair", "Transfer", "tcp_handshake"]


class Direction(Enum):
    """Who wrote the bytes."""

    CLIENT_TO_SERVER = "client->server"
    SERVER_TO_CLIENT = "server->client"


@dataclass(frozen=True)
class Transfer:
    """One write of one side, delivered to the other."""

    direction: Direction
    data: bytes


class HandshakeStalledError(RuntimeError):
    """Neither side can make progress (both blocked, nothing in flight)."""


class InMemoryPair:
    """A client and a server connection wired together in memory.

    With ``record_transfers`` (the default) every write is kept in ``transfers``;
    turn it off for long runs (benchmarks, fuzz loops) so memory stays flat.
    """

    def __init__(self, client: Connection, server: Connection, *, record_transfers: bool = True) -> None:
        self.client = client
        self.server = server
        self.record_transfers = record_transfers
        self.transfers: list[Transfer] = []

    def pump(self) -> int:
        """Deliver everything written so far, both ways; return how many bytes moved."""
        moved = 0
        for sender, receiver, direction in (
            (self.client, self.server, Direction.CLIENT_TO_SERVER),
            (self.server, self.client, Direction.SERVER_TO_CLIENT),
        ):
            for write in sender.outgoing:
                if self.record_transfers:
                    self.transfers.append(Transfer(direction, write))
                receiver.feed(write)
                moved += len(write)
            sender.outgoing.clear()
        return moved

    def _drive(self, client_step: Callable[[], bool], server_step: Callable[[], bool], what: str) -> None:
        client_done = server_done = False
        for _ in range(256):
            client_done = client_step() if not client_done else True
            moved = self.pump()
            server_done = server_step() if not server_done else True
            moved += self.pump()
            if client_done and server_done:
                return
            if moved == 0:
                raise HandshakeStalledError(f"{what} stalled: both sides blocked with nothing in flight")
        raise HandshakeStalledError(f"{what} did not finish in 256 rounds")

    def handshake(self) -> None:
        """Run both sides' handshakes to completion (or raise the first side's error)."""
        self._drive(self.client.negotiate, self.server.negotiate, "handshake")

    def send(self, sender: Connection, data: bytes) -> bytes:
        """Send ``data`` from one side and read all of it on the other; return what arrived."""
        receiver = self.server if sender is self.client else self.client
        offset = 0
        received = bytearray()
        while offset < len(data) or len(received) < len(data):
            if offset < len(data):
                offset += sender.send(data[offset:])
            self.pump()
            chunk = receiver.recv(len(data) - len(received))
            if chunk == b"":
                raise HandshakeStalledError("peer closed while data was in flight")
            if chunk is not None:
                received += chunk
        return bytes(received)

    def close(self) -> None:
        """Close both sides with close_notify: the client first, then the server answers."""

        def server_step() -> bool:
            if self.server.recv() == b"":
                return self.server.shutdown()
            return False

        self._drive(self.client.shutdown, server_step, "close")


def tcp_handshake(client: Callable[[int], Connection], server: Callable[[int], Connection]) -> tuple[bytes, bytes]:
    """Handshake over loopback TCP and echo one message each way; return what each side received.

    ``client`` and ``server`` build a connection on the socket file descriptor they are given.
    """
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        server_result: list[bytes] = []
        server_error: list[BaseException] = []

        def serve() -> None:
            try:
                accepted, _ = listener.accept()
                with accepted, server(accepted.fileno()) as connection:
                    _blocking(connection.negotiate)
                    server_result.append(_read_exactly(connection, 5))
                    connection.send(b"pong!")
                    _blocking(connection.shutdown)
            except BaseException as error:  # handed to the main thread
                server_error.append(error)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.settimeout(None)
            with client(sock.fileno()) as connection:
                _blocking(connection.negotiate)
                connection.send(b"ping!")
                client_result = _read_exactly(connection, 5)
                _blocking(connection.shutdown)
        thread.join(30)
        if server_error:
            raise server_error[0]
        return client_result, server_result[0]


def _blocking(step: Callable[[], bool]) -> None:
    while not step():
        pass


def _read_exactly(connection: Connection, size: int) -> bytes:
    received = bytearray()
    while len(received) < size:
        chunk = connection.recv(size - len(received))
        if chunk == b"":
            raise ConnectionError("peer closed early")
        received += chunk or b""
    return bytes(received)
