"""The blocking API's errors over real loopback sockets: peers' alerts at every step, hang-ups, stalls, close().

Raw peers write crafted bytes (a plaintext alert before the ClientHello, an alert in answer to it or
mid-handshake, nothing at all); engine peers break off in the ways a real peer does. Every error is an
``EngineError``, and no call waits for a peer that has already said no.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509

from engine import (
    AlertDescription,
    Compat,
    ConfigurationError,
    EngineConfig,
    PeerAlertError,
    TLSConnection,
    TLSError,
    TLSSocket,
    TLSTimeoutError,
    TransportError,
    accept,
    connect,
)
from engine.errors import BadCertificateError, UnexpectedEOFError
from engine.instrument import PlaintextRecord
from tests.engine.socket_peers import JOIN_TIMEOUT, Peer, client_config, loopback, port_of, server_config
from tlsdiff.certs import trust_anchors

_ALERT = 21
_PLAINTEXT_HANDSHAKE_FAILURE = bytes([_ALERT, 3, 3, 0, 2, 2, AlertDescription.HANDSHAKE_FAILURE])
_PLAINTEXT_BAD_CERTIFICATE = bytes([_ALERT, 3, 3, 0, 2, 2, AlertDescription.BAD_CERTIFICATE])
_PLAINTEXT_CLOSE_NOTIFY = bytes([_ALERT, 3, 3, 0, 2, 1, AlertDescription.CLOSE_NOTIFY])
_TIMEOUT = 10.0  # generous: these tests must never fail on a slow machine, only on a hang


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise AssertionError(f"EOF after {len(data)} of {size} bytes")
        data += chunk
    return bytes(data)


def _read_record(sock: socket.socket) -> bytes:
    header = _read_exactly(sock, 5)
    return header + _read_exactly(sock, int.from_bytes(header[3:5], "big"))


def _wait_for_eof(sock: socket.socket) -> bytes:
    """Everything the other side sends until it closes."""
    received = bytearray()
    while chunk := sock.recv(65536):
        received += chunk
    return bytes(received)


def _raw_server(listener: socket.socket, script: Callable[[socket.socket], object]) -> Peer[bytes]:
    """A peer that accepts, runs ``script`` on the raw socket, then reads until the client hangs up."""

    def run() -> bytes:
        sock, _ = listener.accept()
        with sock:
            sock.settimeout(JOIN_TIMEOUT)
            script(sock)
            return _wait_for_eof(sock)

    return Peer(run)


def _raw_client(listener: socket.socket, script: Callable[[socket.socket], object]) -> Peer[bytes]:
    """A peer that connects, runs ``script`` on the raw socket, then reads until the server hangs up."""

    def run() -> bytes:
        with socket.create_connection(("127.0.0.1", port_of(listener)), timeout=JOIN_TIMEOUT) as sock:
            script(sock)
            return _wait_for_eof(sock)

    return Peer(run)


def _client_hello(directory: Path) -> bytes:
    client = TLSConnection(client_config(directory), client=True, server_name="localhost")
    client.start()
    return client.data_to_send()


# ---- a peer's alert, at every step ----


def test_an_alert_before_the_first_client_hello_is_reported_by_the_server(tmp_path: Path) -> None:
    with loopback() as listener, _raw_client(listener, lambda sock: sock.sendall(_PLAINTEXT_HANDSHAKE_FAILURE)) as peer:
        with pytest.raises(PeerAlertError, match=r"peer sent alert handshake_failure \(40\)") as error:
            accept(listener, server_config(tmp_path), timeout=_TIMEOUT)
        assert error.value.received is AlertDescription.HANDSHAKE_FAILURE
        assert peer.result() == b""  # nothing sent back, and the accepted socket is closed


def test_an_alert_answering_the_client_hello_is_reported_without_waiting_for_eof(tmp_path: Path) -> None:
    def refuse(sock: socket.socket) -> None:
        assert _read_record(sock)[0] == 22  # the ClientHello; the raw server keeps the TCP connection open
        sock.sendall(_PLAINTEXT_HANDSHAKE_FAILURE)

    with loopback() as listener, _raw_server(listener, refuse) as peer:
        with pytest.raises(PeerAlertError, match=r"handshake_failure \(40\) during the handshake") as error:
            connect("localhost", port_of(listener), client_config(tmp_path), timeout=_TIMEOUT)
        assert error.value.received == AlertDescription.HANDSHAKE_FAILURE
        peer.result()


def test_an_alert_mid_handshake_is_reported_by_the_server(tmp_path: Path) -> None:
    def reject_the_certificate(sock: socket.socket) -> None:
        sock.sendall(_client_hello(tmp_path))
        assert _read_record(sock)[0] == 22  # the ServerHello: the server now waits for our Finished
        sock.sendall(_PLAINTEXT_BAD_CERTIFICATE)  # as a client that failed on the certificate does

    with loopback() as listener, _raw_client(listener, reject_the_certificate) as peer:
        with pytest.raises(PeerAlertError, match=r"bad_certificate \(42\) during the handshake"):
            accept(listener, server_config(tmp_path), timeout=_TIMEOUT)
        peer.result()


def test_a_close_notify_during_the_handshake_is_reported_as_the_peers_alert(tmp_path: Path) -> None:
    # s2n-tls (and the engine by default, Compat.generic_close_notify) answers a failure with close_notify.
    def give_up(sock: socket.socket) -> None:
        _read_record(sock)
        sock.sendall(_PLAINTEXT_CLOSE_NOTIFY)

    with loopback() as listener, _raw_server(listener, give_up) as peer:
        with pytest.raises(PeerAlertError, match="close_notify") as error:
            connect("localhost", port_of(listener), client_config(tmp_path), timeout=_TIMEOUT)
        assert error.value.received is AlertDescription.CLOSE_NOTIFY
        peer.result()


def test_an_engine_client_refusing_the_certificate_and_the_server_hearing_why(tmp_path: Path) -> None:
    stranger = tuple(x509.load_pem_x509_certificate(pem) for pem in trust_anchors("stranger", "ecdsa-p256"))
    client = EngineConfig(trust_anchors=stranger, compat=Compat.rfc())  # the specific alert, not close_notify
    with loopback() as listener:
        config = server_config(tmp_path)
        with Peer(lambda: accept(listener, config, timeout=_TIMEOUT)) as server:
            with pytest.raises(BadCertificateError):
                connect("localhost", port_of(listener), client, timeout=_TIMEOUT)
            with pytest.raises(PeerAlertError) as error:
                server.result()
    assert error.value.received is AlertDescription.BAD_CERTIFICATE


def _seal_alert(tls: TLSSocket, description: AlertDescription) -> None:
    """Send a fatal alert under the connection's current keys, as a peer that failed after the handshake does."""
    connection = tls.connection
    tls.sock.sendall(
        connection.seal_records(
            [PlaintextRecord(_ALERT, bytes([2, description]), protection=connection.write_protection)]
        )
    )


def _engine_pair(
    tmp_path: Path, listener: socket.socket, server_side: Callable[[TLSSocket], object]
) -> tuple[Peer[None], Callable[[], TLSSocket]]:
    config = server_config(tmp_path)

    def serve() -> None:
        tls = accept(listener, config, timeout=_TIMEOUT)
        try:
            server_side(tls)
        finally:
            tls.close(timeout=0)

    return Peer(serve), lambda: connect("localhost", port_of(listener), client_config(tmp_path), timeout=_TIMEOUT)


def test_an_alert_after_the_handshake_is_reported_and_sticks(tmp_path: Path) -> None:
    with loopback() as listener:
        peer, dial = _engine_pair(tmp_path, listener, lambda tls: _seal_alert(tls, AlertDescription.INTERNAL_ERROR))
        with peer, dial() as tls:
            with pytest.raises(PeerAlertError, match=r"^peer sent alert internal_error \(80\)$"):
                tls.recv_available()
            with pytest.raises(PeerAlertError):
                tls.sendall(b"too late")
            tls.close()  # already failed: nothing to say, nothing raised
            peer.result()


def test_an_alert_answering_our_close_notify_is_reported_by_close(tmp_path: Path) -> None:
    def answer_close_with_an_alert(tls: TLSSocket) -> None:
        assert tls.recv_available() == b""  # the client's close_notify
        _seal_alert(tls, AlertDescription.DECODE_ERROR)

    with loopback() as listener:
        peer, dial = _engine_pair(tmp_path, listener, answer_close_with_an_alert)
        with peer:
            tls = dial()
            with pytest.raises(PeerAlertError, match=r"decode_error \(50\)"):
                tls.close(timeout=_TIMEOUT)
            assert tls.sock.fileno() == -1  # closed all the same
            peer.result()


# ---- the transport: hang-ups, stalls, timeouts ----


def test_the_peer_hanging_up_mid_handshake_is_a_transport_error(tmp_path: Path) -> None:
    def hang_up(sock: socket.socket) -> None:
        _read_record(sock)  # the ClientHello, then FIN
        sock.shutdown(socket.SHUT_RDWR)

    with loopback() as listener, _raw_server(listener, hang_up) as peer:
        with pytest.raises(TransportError, match="during the handshake") as error:
            connect("localhost", port_of(listener), client_config(tmp_path), timeout=_TIMEOUT)
        assert isinstance(error.value.__cause__, UnexpectedEOFError)
        assert not isinstance(error.value, TLSTimeoutError)
        peer.result()


def _vanish(tls: TLSSocket) -> None:
    """Say something, then hang up TCP without close_notify."""
    tls.sendall(b"partial")
    tls.sock.shutdown(socket.SHUT_RDWR)


def test_a_truncated_stream_is_a_transport_error_and_close_still_returns(tmp_path: Path) -> None:
    with loopback() as listener:
        peer, dial = _engine_pair(tmp_path, listener, _vanish)
        with peer, dial() as tls:
            assert tls.recv(7) == b"partial"
            with pytest.raises(TransportError, match="without close_notify"):
                tls.recv_available()
            tls.close(timeout=_TIMEOUT)  # the peer already left: no error, no wait
            peer.result()


def test_close_does_not_wait_long_for_a_peer_that_vanishes(tmp_path: Path) -> None:
    gone = threading.Event()

    def vanish_after_handshake(tls: TLSSocket) -> None:
        tls.sock.shutdown(socket.SHUT_RDWR)
        gone.set()

    with loopback() as listener:
        peer, dial = _engine_pair(tmp_path, listener, vanish_after_handshake)
        with peer:
            tls = dial()
            assert gone.wait(JOIN_TIMEOUT)
            tls.close(timeout=_TIMEOUT)  # returns on the EOF, well before the timeout
            peer.result()


def test_close_gives_up_on_a_silent_peer(tmp_path: Path) -> None:
    release = threading.Event()
    with loopback() as listener:
        peer, dial = _engine_pair(tmp_path, listener, lambda tls: release.wait(JOIN_TIMEOUT))
        with peer:
            tls = dial()
            tls.close(timeout=0.2)  # no close_notify comes back: the wait ends, nothing is raised
            assert tls.sock.fileno() == -1
            release.set()
            peer.result()


def test_a_stalled_server_times_out(tmp_path: Path) -> None:
    release = threading.Event()
    with loopback() as listener, _raw_server(listener, lambda sock: release.wait(JOIN_TIMEOUT)) as peer:
        with pytest.raises(TLSTimeoutError):
            connect("localhost", port_of(listener), client_config(tmp_path), timeout=0.3)
        release.set()
        peer.result()


def test_accept_times_out_without_a_client(tmp_path: Path) -> None:
    with loopback() as listener:
        with pytest.raises(TLSTimeoutError):
            accept(listener, server_config(tmp_path), timeout=0.1)
        assert listener.gettimeout() is None  # the listener's own timeout is left as it was


def test_a_read_timeout_loses_nothing_and_can_be_retried(tmp_path: Path) -> None:
    ready = threading.Event()

    def answer_late(tls: TLSSocket) -> None:
        assert ready.wait(JOIN_TIMEOUT)
        tls.sendall(b"late")
        assert tls.recv_available() == b""

    with loopback() as listener:
        peer, dial = _engine_pair(tmp_path, listener, answer_late)
        with peer, dial() as tls:
            tls.settimeout(0.1)
            with pytest.raises(TLSTimeoutError):
                tls.recv_available()
            ready.set()
            tls.settimeout(_TIMEOUT)
            assert tls.gettimeout() == _TIMEOUT
            assert tls.recv(4) == b"late"
        peer.result()


def test_the_engines_own_error_goes_out_as_an_alert_first(tmp_path: Path) -> None:
    def send_a_broken_server_hello(sock: socket.socket) -> None:
        _read_record(sock)
        sock.sendall(bytes([22, 3, 3, 0, 4, 2, 0, 0, 0]))  # a ServerHello with an empty body

    with loopback() as listener, _raw_server(listener, send_a_broken_server_hello) as peer:
        with pytest.raises(TLSError) as error:
            connect("localhost", port_of(listener), client_config(tmp_path), timeout=_TIMEOUT)
        assert not isinstance(error.value, PeerAlertError)
        answer = peer.result()
    assert answer[:1] == bytes([_ALERT])  # the engine's alert (close_notify, as s2n), then the socket closed


def test_connecting_to_a_closed_port_is_a_transport_error(tmp_path: Path) -> None:
    with loopback() as listener:
        port = port_of(listener)
    with pytest.raises(TransportError, match=f"127.0.0.1:{port}"):
        connect("127.0.0.1", port, client_config(tmp_path), timeout=_TIMEOUT)


def test_a_server_without_certificates_is_refused_before_accepting() -> None:
    with loopback() as listener, pytest.raises(ConfigurationError):
        accept(listener, EngineConfig(), timeout=0.1)


def test_calls_after_close_raise_a_transport_error(tmp_path: Path) -> None:
    with loopback() as listener:
        peer, dial = _engine_pair(tmp_path, listener, lambda tls: None)
        with peer:
            tls = dial()
            tls.close(timeout=_TIMEOUT)
            tls.close()  # a second close does nothing
            for call in (lambda: tls.sendall(b"x"), tls.recv_available, tls.do_handshake):
                with pytest.raises(TransportError, match="closed"):
                    call()
            peer.result()


def test_a_half_close_keeps_the_read_side_open(tmp_path: Path) -> None:
    def answer_after_our_close_notify(tls: TLSSocket) -> None:
        assert tls.recv_available() == b"question"
        assert tls.recv_available() == b""  # the client's close_notify
        tls.sendall(b"answer after it")  # TLS 1.3: this side may still write

    with loopback() as listener:
        peer, dial = _engine_pair(tmp_path, listener, answer_after_our_close_notify)
        with peer, dial() as tls:
            tls.sendall(b"question")
            tls.send_close_notify()
            assert tls.recv(15) == b"answer after it"
            assert tls.recv_available() == b""  # then the server's close_notify (its close())
            with pytest.raises(TLSError):  # no more data after our own close_notify
                tls.sendall(b"more")
            peer.result()
