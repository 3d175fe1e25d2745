"""A blocking socket API over the sans-IO ``TLSConnection``.

    with socket.create_connection(("127.0.0.1", port)) as raw:
        tls = TLSSocket(raw, TLSConnection(config, client=True, server_name="localhost"))
        tls.do_handshake()
        tls.sendall(b"hello")
        reply = tls.recv(5)
        tls.close()

Every byte written and read is also kept in ``wire`` (direction, bytes) when
``record_wire`` is set, so a TCP run can be compared with an in-memory transcript.
"""

from __future__ import annotations

import socket

from engine.connection import ConnectionClosed, DataReceived, Event, TLSConnection

__all__ = ["TLSSocket"]

_READ_SIZE = 65536


class TLSSocket:
    """A connected socket and the TLS connection running over it."""

    def __init__(self, sock: socket.socket, connection: TLSConnection, *, record_wire: bool = False) -> None:
        self.sock = sock
        self.connection = connection
        self.wire: list[tuple[str, bytes]] | None = [] if record_wire else None
        self._buffer = bytearray()
        self.peer_closed = False

    def _direction(self, outgoing: bool) -> str:
        client = self.connection.is_client
        return "client->server" if outgoing == client else "server->client"

    def _flush(self) -> None:
        data = self.connection.data_to_send()
        if data:
            if self.wire is not None:
                self.wire.append((self._direction(True), data))
            self.sock.sendall(data)

    def _read_events(self) -> list[Event]:
        data = self.sock.recv(_READ_SIZE)
        if not data:
            raise ConnectionError("the peer closed the TCP connection")
        if self.wire is not None:
            self.wire.append((self._direction(False), data))
        events = self.connection.receive_data(data)
        for event in events:
            if isinstance(event, DataReceived):
                self._buffer += event.data
            elif isinstance(event, ConnectionClosed):
                self.peer_closed = True
        self._flush()
        return events

    def do_handshake(self) -> None:
        """Run the handshake to completion (a TLSError propagates after its alert is sent)."""
        self.connection.start()
        self._flush()
        while not self.connection.handshake_complete:
            try:
                self._read_events()
            finally:
                self._flush()

    def sendall(self, data: bytes) -> None:
        """Send application data."""
        self.connection.send(data)
        self._flush()

    def recv(self, size: int) -> bytes:
        """Exactly ``size`` bytes of application data, or fewer if the peer closes first."""
        while len(self._buffer) < size and not self.peer_closed:
            self._read_events()
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def close(self) -> None:
        """Send close_notify and wait for the peer's (or for it to hang up)."""
        self.connection.close()
        self._flush()
        while not self.peer_closed:
            try:
                self._read_events()
            except ConnectionError:
                break
