"""Arbitrary bytes fed to a connection at any point of the handshake: only TLSError escapes."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.connection import TLSConnection
from engine.errors import TLSError
from tests.engine.lockstep import engine_connection

_RECORD_TYPES = st.sampled_from([20, 21, 22, 23, 24, 0])


def _connections_at(step: int) -> tuple[TLSConnection, TLSConnection]:
    """An engine client and server, advanced by ``step`` flights of a real handshake."""
    client = engine_connection("default_tls13", "ecdsa-p256", 1, client=True)
    server = engine_connection("default_tls13", "ecdsa-p256", 1, client=False)
    client.start()
    for flight in range(step):
        sender, receiver = (client, server) if flight % 2 == 0 else (server, client)
        if data := sender.data_to_send():  # receive_data(b"") would mean EOF
            receiver.receive_data(data)
    return client, server


def _records(draw: st.DrawFn) -> bytes:
    records = b""
    for _ in range(draw(st.integers(1, 3))):
        body = draw(st.binary(max_size=300))
        length = draw(st.one_of(st.just(len(body)), st.integers(0, 0xFFFF)))
        records += bytes([draw(_RECORD_TYPES), 3, draw(st.sampled_from([1, 3]))]) + length.to_bytes(2, "big") + body
    return records


@st.composite
def _inputs(draw: st.DrawFn) -> tuple[int, bool, bytes]:
    step = draw(st.integers(0, 4))
    to_client = draw(st.booleans())
    data = draw(st.binary(max_size=400))
    structured = _records(draw)
    return step, to_client, draw(st.sampled_from([data, structured, structured + data]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_inputs())
def test_only_tls_errors_escape(case: tuple[int, bool, bytes]) -> None:
    step, to_client, data = case
    client, server = _connections_at(step)
    target = client if to_client else server
    try:
        target.receive_data(data)
        target.receive_data(data)  # and again, whatever state the first call left
    except TLSError:
        pass
