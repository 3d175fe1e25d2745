"""Over real TCP sockets, both directions: the engine's blocking API against s2n on a file descriptor.

The engine side records every byte it writes and reads; cut into records, they must
equal the in-memory transcript of the same scenario (tlsdiff.scenario).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

import pytest

from engine.socket_api import TLSSocket
from s2n_bridge import Connection, Mode
from tests.engine.lockstep import engine_connection
from tlsdiff.harness import Role, Setup, s2n_config
from tlsdiff.scenario import CLIENT_DATA, SERVER_DATA, run_pair
from tlsdiff.transcript import split_records

pytestmark = pytest.mark.openssl_engine
POLICY, CERT, SEED = "default_tls13", "rsa-pss-2048", 11


def _s2n_read(connection: Connection, size: int) -> bytes:
    received = bytearray()
    while len(received) < size:
        chunk = connection.recv(size - len(received))
        assert chunk, "the peer closed early"
        received += chunk
    return bytes(received)


def _s2n_send(connection: Connection, data: bytes) -> None:
    offset = 0
    while offset < len(data):
        offset += connection.send(data[offset:])


def _s2n_server(sock: socket.socket) -> None:
    sock.setblocking(True)  # s2n drives the fd itself: a Python timeout would make it non-blocking
    config = s2n_config(Setup(Role.SERVER, POLICY, CERT, SEED))
    with Connection(config, Mode.SERVER, seed=SEED, fd=sock.fileno()) as server:
        while not server.negotiate():
            pass
        assert _s2n_read(server, len(CLIENT_DATA)) == CLIENT_DATA
        _s2n_send(server, SERVER_DATA)
        assert server.recv() == b""
        server.shutdown()


def _s2n_client(sock: socket.socket) -> None:
    sock.setblocking(True)  # s2n drives the fd itself: a Python timeout would make it non-blocking
    config = s2n_config(Setup(Role.CLIENT, POLICY, CERT, SEED))
    with Connection(config, Mode.CLIENT, seed=SEED, server_name="localhost", fd=sock.fileno()) as client:
        while not client.negotiate():
            pass
        _s2n_send(client, CLIENT_DATA)
        assert _s2n_read(client, len(SERVER_DATA)) == SERVER_DATA
        client.shutdown()


def _run(engine_is_client: bool, peer: Callable[[socket.socket], None]) -> TLSSocket:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        errors: list[BaseException] = []

        def serve_or_connect(sock: socket.socket) -> None:
            try:
                peer(sock)
            except BaseException as error:  # handed to the test thread
                errors.append(error)

        port = listener.getsockname()[1]
        if engine_is_client:
            thread = threading.Thread(target=lambda: serve_or_connect(listener.accept()[0]), daemon=True)
            thread.start()
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        else:
            thread = threading.Thread(
                target=lambda: serve_or_connect(socket.create_connection(("127.0.0.1", port), timeout=30)), daemon=True
            )
            thread.start()
            sock = listener.accept()[0]
        with sock:
            sock.settimeout(30)  # a hang becomes a failure
            tls = TLSSocket(sock, engine_connection(POLICY, CERT, SEED, client=engine_is_client), record_wire=True)
            tls.do_handshake()
            if engine_is_client:
                tls.sendall(CLIENT_DATA)
                assert tls.recv(len(SERVER_DATA)) == SERVER_DATA
            else:
                assert tls.recv(len(CLIENT_DATA)) == CLIENT_DATA
                tls.sendall(SERVER_DATA)
                assert tls.recv(1) == b""
            tls.close()
        thread.join(30)
        assert not errors, errors
        return tls


def test_engine_client_to_s2n_server_over_tcp() -> None:
    tls = _run(True, _s2n_server)
    assert tls.wire is not None
    assert split_records(tls.wire) == run_pair("engine", "s2n", POLICY, CERT, SEED).records


def test_s2n_client_to_engine_server_over_tcp() -> None:
    tls = _run(False, _s2n_client)
    assert tls.wire is not None
    assert split_records(tls.wire) == run_pair("s2n", "engine", POLICY, CERT, SEED).records
