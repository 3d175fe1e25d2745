"""The fuzzing harness's hooks (engine/instrument.py): message_hook and defer_sealing.

A message hook's output is what the transcript hashes, so a mutated message still leads
to a completed handshake when the peer accepts the mutation (s2n and the engine alike).
With defer_sealing the records wait unsealed; sealing them unchanged gives the bytes a
normal connection writes, and the harness may cut, pad or oversize them.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine.connection import AlertReceived, ConnectionClosed, DataReceived, TLSConnection
from engine.errors import RecordOverflowError, UnexpectedMessageError
from engine.instrument import Instrumentation, PlaintextRecord, UnframeableRecordError, seal_record
from engine.wire.extensions import Extension
from engine.wire.handshake import ClientHello, HandshakeType, decode_handshake, encode_handshake
from tests.engine.lockstep import engine_connection, handshake
from tlsdiff.harness import Role, Setup, Status, open_endpoint, open_engine

POLICY = "default_tls13"
CCS = 20
ALERT = 21
HANDSHAKE = 22
APPLICATION_DATA = 23


def _instrumented(client: bool, instrumentation: Instrumentation, seed: int = 1) -> TLSConnection:
    """The harness's engine connection (``open_engine``), with ``instrumentation``."""
    setup = Setup(Role.CLIENT if client else Role.SERVER, POLICY, "ecdsa-p256", seed)
    return open_engine(setup, instrumentation=instrumentation).connection


def _add_unknown_extension(msg_type: int, encoded: bytes) -> bytes:
    if msg_type != HandshakeType.CLIENT_HELLO:
        return encoded
    hello = decode_handshake(encoded)
    assert isinstance(hello, ClientHello)
    return encode_handshake(replace(hello, extensions=(*hello.extensions, Extension(0x7777, b"fuzz"))))


def _engine_handshake(client: TLSConnection, server: TLSConnection) -> list[bytes]:
    """Run the handshake; return every flight (both directions, in order)."""
    client.start()
    flights: list[bytes] = []
    for _ in range(8):
        for sender, receiver in ((client, server), (server, client)):
            if data := sender.data_to_send():
                flights.append(data)
                receiver.receive_data(data)
        if client.handshake_complete and server.handshake_complete:
            return flights
    raise AssertionError("the handshake did not finish")


# ---- message_hook ----


def test_a_hooked_client_hello_enters_the_transcript_engine_server() -> None:
    seen: list[int] = []

    def hook(msg_type: int, encoded: bytes) -> bytes:
        seen.append(msg_type)
        return _add_unknown_extension(msg_type, encoded)

    client = _instrumented(True, Instrumentation(message_hook=hook))
    server = engine_connection(POLICY, "ecdsa-p256", 1, client=False)
    flights = _engine_handshake(client, server)
    assert b"\x77\x77\x00\x04fuzz" in flights[0]
    assert seen == [HandshakeType.CLIENT_HELLO, HandshakeType.FINISHED]  # the Finished MAC covers the mutation


def test_a_hooked_client_hello_completes_against_s2n() -> None:
    hooked = Instrumentation(message_hook=_add_unknown_extension)
    client = open_engine(Setup(Role.CLIENT, POLICY, "ecdsa-p256", 1), instrumentation=hooked)
    with open_endpoint(Setup(Role.SERVER, POLICY, "ecdsa-p256", 1), "s2n") as server:
        assert [outcome.status for outcome in handshake(client, server)] == [Status.COMPLETE] * 2


def test_the_hook_sees_each_server_message_and_may_return_any_bytes() -> None:
    seen: list[int] = []

    def hook(msg_type: int, encoded: bytes) -> bytes:
        seen.append(msg_type)
        # Two messages for one: an EncryptedExtensions the client has to read before the real one.
        return encoded + encoded if msg_type == HandshakeType.ENCRYPTED_EXTENSIONS else encoded

    server = _instrumented(False, Instrumentation(message_hook=hook))
    client = engine_connection(POLICY, "ecdsa-p256", 1, client=True)
    client.start()
    server.receive_data(client.data_to_send())
    assert seen == [2, 8, 11, 15, 20]
    with pytest.raises(UnexpectedMessageError):  # the client expected a Certificate
        client.receive_data(server.data_to_send())


def test_the_hook_sees_key_update() -> None:
    seen: list[bytes] = []

    def hook(msg_type: int, encoded: bytes) -> bytes:
        if msg_type == HandshakeType.KEY_UPDATE:
            seen.append(encoded)
        return encoded

    client = _instrumented(True, Instrumentation(message_hook=hook))
    server = engine_connection(POLICY, "ecdsa-p256", 1, client=False)
    _engine_handshake(client, server)
    client.key_update(request_peer=True)
    client.send(b"after")
    assert server.receive_data(client.data_to_send()) == [DataReceived(b"after")]
    assert seen == [bytes([24, 0, 0, 1, 1])]


# ---- defer_sealing ----


def _conversation(client: TLSConnection, server: TLSConnection) -> list[bytes]:
    """Handshake, data both ways, a key update, close both ways: every flight."""
    flights = _engine_handshake(client, server)
    client.send(b"ping" * 3000)
    client.key_update(request_peer=True)
    client.send(b"after the update")
    server.send(b"pong")
    server.close()
    for sender, receiver in ((client, server), (server, client), (client, server)):
        if data := sender.data_to_send():
            flights.append(data)
            events = receiver.receive_data(data)
            if ConnectionClosed() in events:
                receiver.close()
    return flights


def test_defer_sealing_without_interception_writes_the_same_bytes() -> None:
    deferred = Instrumentation(defer_sealing=True)
    reference = _conversation(_instrumented(True, Instrumentation()), _instrumented(False, Instrumentation()))
    assert _conversation(_instrumented(True, deferred), _instrumented(False, deferred)) == reference


def test_sealing_taken_records_unchanged_writes_the_same_bytes() -> None:
    deferred = Instrumentation(defer_sealing=True)
    plain_client, plain_server = _instrumented(True, Instrumentation()), _instrumented(False, Instrumentation())
    client, server = _instrumented(True, deferred), _instrumented(False, deferred)
    plain_client.start()
    client.start()
    records = client.take_plaintext_records()
    assert [(r.content_type, r.legacy_version, r.protection) for r in records] == [(HANDSHAKE, 0x0301, None)]
    assert client.data_to_send() == b""  # taken: nothing left to seal
    hello = client.seal_records(records)
    assert hello == plain_client.data_to_send()
    plain_server.receive_data(hello)
    server.receive_data(hello)
    records = server.take_plaintext_records()
    kinds = [(r.content_type, r.protection is not None) for r in records]
    assert kinds == [(HANDSHAKE, False), (CCS, False)] + [(HANDSHAKE, True)] * 4  # SH, CCS, EE, Cert, CV, Fin
    assert server.seal_records(records) == plain_server.data_to_send()
    assert server.info().wire_bytes_out == plain_server.info().wire_bytes_out


def _split(record: PlaintextRecord, at: int) -> list[PlaintextRecord]:
    return [replace(record, content=record.content[:at]), replace(record, content=record.content[at:])]


def test_split_records_complete_against_s2n() -> None:
    # The engine client's ClientHello (plaintext) and Finished (protected) each cut in two records.
    client = _instrumented(True, Instrumentation(defer_sealing=True))
    with open_endpoint(Setup(Role.SERVER, POLICY, "ecdsa-p256", 1), "s2n") as server:
        client.start()
        (hello,) = client.take_plaintext_records()
        answer = server.deliver(client.seal_records(_split(hello, 40)))
        assert answer.status is Status.WAITING
        client.receive_data(answer.output)
        ccs, finished = client.take_plaintext_records()
        assert ccs == PlaintextRecord(CCS, b"\x01", 0x0303, None)
        assert server.deliver(client.seal_records([ccs, *_split(finished, 3)], padding=7)).status is Status.COMPLETE
    assert client.handshake_complete


def test_split_records_complete_against_the_engine() -> None:
    # The engine server's Certificate cut in two protected records, then sealed with padding.
    server = _instrumented(False, Instrumentation(defer_sealing=True))
    client = engine_connection(POLICY, "ecdsa-p256", 1, client=True)
    client.start()
    server.receive_data(client.data_to_send())
    records = server.take_plaintext_records()
    certificate = records[3]
    assert certificate.protection is not None and certificate.content[0] == HandshakeType.CERTIFICATE
    flight = [*records[:3], *_split(certificate, 100), *records[4:]]
    client.receive_data(server.seal_records(flight, padding=1))
    server.receive_data(client.data_to_send())
    assert client.handshake_complete and server.handshake_complete


def test_alerts_and_application_data_wait_too_and_any_length_is_sealed() -> None:
    deferred = Instrumentation(defer_sealing=True)
    client, server = _instrumented(True, deferred), _instrumented(False, deferred)
    _engine_handshake(client, server)
    client.close()
    (close_notify,) = client.take_plaintext_records()
    assert (close_notify.content_type, close_notify.content) == (ALERT, b"\x01\x00")
    assert close_notify.protection is not None
    sequence = close_notify.protection.sequence
    oversized = replace(close_notify, content_type=APPLICATION_DATA, content=bytes(2**14 + 1))
    empty = replace(close_notify, content_type=APPLICATION_DATA, content=b"")
    wire = client.seal_records([empty, oversized])
    assert wire[3:5] == (1 + 16).to_bytes(2, "big")  # inner type and tag only
    assert close_notify.protection.sequence == sequence + 2
    with pytest.raises(RecordOverflowError):
        server.receive_data(wire)


def test_a_record_built_by_hand_with_the_current_protection() -> None:
    client, server = _instrumented(True, Instrumentation()), _instrumented(False, Instrumentation())
    assert client.write_protection is None
    _engine_handshake(client, server)
    alert = PlaintextRecord(ALERT, bytes([2, 40]), protection=client.write_protection)
    assert server.receive_data(client.seal_records([alert])) == [AlertReceived(40)]


def test_unframeable_records_are_refused() -> None:
    with pytest.raises(UnframeableRecordError):
        seal_record(PlaintextRecord(HANDSHAKE, bytes(2**16)))
    with pytest.raises(UnframeableRecordError):
        seal_record(PlaintextRecord(256, b""))
    assert seal_record(PlaintextRecord(HANDSHAKE, bytes(2**14 + 1), 0x0301))[:5] == bytes.fromhex("1603014001")
    assert seal_record(PlaintextRecord(HANDSHAKE, b"")) == bytes.fromhex("1603030000")


def test_without_defer_sealing_nothing_waits() -> None:
    client = engine_connection(POLICY, "ecdsa-p256", 1, client=True)
    client.start()
    assert client.take_plaintext_records() == []
    assert client.data_to_send().startswith(b"\x16\x03\x01")
