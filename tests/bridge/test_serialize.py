"""s2n connection serialization through the bridge: snapshot an established TLS 1.3
connection, restore fresh copies that keep talking, and get typed errors for misuse and bad blobs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from s2n_bridge import (
    Config,
    Connection,
    InMemoryPair,
    Mode,
    RecordSize,
    S2NClosedError,
    S2NProtocolError,
    S2NUsageError,
    ServerCertificate,
)
from tlsdiff.certs import certificate_for

# default_tls13 settles on TLS_AES_128_GCM_SHA256 (32-byte secrets), 20190801 on
# TLS_AES_256_GCM_SHA384 (48-byte secrets): both secret sizes of the V1 format.
POLICIES = ("default_tls13", "20190801")
# Offsets in a V1 blob (tls/s2n_connection_serialize.c:160-172): version u64, protocol 2,
# cipher suite 2, client sequence 8, server sequence 8, fragment length u16, then the secrets.
_FRAGMENT_LENGTH = slice(28, 30)
_FIRST_SECRET_BYTE = 30


@dataclass
class Configs:
    """A serializable server config and the client config that trusts it."""

    server: Config
    client: Config


@contextmanager
def configs(policy: str = "default_tls13", *, serializable: bool = True) -> Iterator[Configs]:
    certificate = certificate_for("ecdsa-p256")
    served = ServerCertificate(certificate.chain_pem, certificate.key_pem)
    with (
        Config(policy, certificates=[served], system_trust=False, serializable=serializable) as server_config,
        Config(policy, trust_pem=certificate.ca_pem, serializable=serializable) as client_config,
    ):
        yield Configs(server_config, client_config)


@contextmanager
def handshaken(
    both: Configs, *, seed: int = 5, server_record_size: RecordSize = RecordSize.DEFAULT
) -> Iterator[InMemoryPair]:
    with (
        Connection(both.client, Mode.CLIENT, seed=seed, server_name="localhost") as client,
        Connection(both.server, Mode.SERVER, seed=seed, record_size=server_record_size) as server,
    ):
        pair = InMemoryPair(client, server)
        pair.handshake()
        yield pair


@contextmanager
def restored(both: Configs, client_blob: bytes, server_blob: bytes, *, seed: int = 9) -> Iterator[InMemoryPair]:
    with (
        Connection.deserialize(both.client, Mode.CLIENT, client_blob, seed=seed) as client,
        Connection.deserialize(both.server, Mode.SERVER, server_blob, seed=seed) as server,
    ):
        yield InMemoryPair(client, server)


def snapshot(pair: InMemoryPair) -> tuple[bytes, bytes]:
    return pair.client.serialize(), pair.server.serialize()


@pytest.mark.parametrize("policy", POLICIES)
def test_restored_copies_exchange_data_key_updates_and_close_notify(policy: str) -> None:
    with configs(policy) as both:
        with handshaken(both) as original:
            before = original.client.info()
            client_blob, server_blob = snapshot(original)
        with restored(both, client_blob, server_blob) as copy:
            # s2n marks a deserialized connection as handshaken (tls/s2n_handshake_io.c:1645-1650).
            assert copy.client.negotiate() and copy.server.negotiate()
            assert copy.client.outgoing == copy.server.outgoing == []
            assert copy.send(copy.client, b"ping" * 5000) == b"ping" * 5000
            assert copy.send(copy.server, b"pong" * 5000) == b"pong" * 5000
            copy.client.request_key_update()
            assert copy.send(copy.client, b"after client update") == b"after client update"
            copy.server.request_key_update()
            assert copy.send(copy.server, b"after server update") == b"after server update"
            after = copy.client.info(), copy.server.info()
            copy.close()
    for info in after:
        # Only the record layer comes back: protocol and cipher, not the handshake's story.
        assert (info.protocol, info.cipher) == (before.protocol, before.cipher)
        assert (info.handshake_type, info.last_message, info.group) == ("INITIAL", "CLIENT_HELLO", "NONE")


def test_a_snapshot_restores_to_identical_bytes() -> None:
    with configs() as both:
        with handshaken(both) as original:
            client_blob, server_blob = snapshot(original)
        with restored(both, client_blob, server_blob) as first, restored(both, client_blob, server_blob) as second:
            outputs = []
            for copy in (first, second):
                copy.client.send(b"request")
                copy.client.request_key_update()
                copy.client.send(b"second request")
                outputs.append(copy.client.take_outgoing())
            assert outputs[0] == outputs[1]
            replies = []
            for copy in (first, second):
                copy.server.feed(outputs[0])
                received = b"".join(iter(copy.server.recv, None))
                copy.server.send(b"reply to " + received)
                copy.server.shutdown_send()
                replies.append((received, copy.server.take_outgoing()))
            assert replies[0] == replies[1]
            assert replies[0][0] == b"requestsecond request"


def test_snapshot_mid_stream_continues_the_sequence_numbers() -> None:
    with configs() as both:
        with handshaken(both) as original:
            original.send(original.client, b"x" * 40000)
            original.client.request_key_update()
            original.send(original.client, b"under the second key")
            original.send(original.server, b"y" * 100)
            client_blob, server_blob = snapshot(original)
        # Non-zero sequence numbers: on AWS-LC s2n primes the AEAD's nonce check here
        # (tls/s2n_connection_serialize.c:309-369).
        assert client_blob[12:20] != bytes(8) and server_blob[20:28] != bytes(8)
        with restored(both, client_blob, server_blob) as copy:
            assert copy.send(copy.client, b"still in step") == b"still in step"
            assert copy.send(copy.server, b"so am I") == b"so am I"
            copy.close()


def test_a_restored_copy_can_be_snapshot_again() -> None:
    with configs() as both:
        with handshaken(both) as original:
            client_blob, server_blob = snapshot(original)
        with restored(both, client_blob, server_blob) as first:
            first.send(first.client, b"one")
            client_blob, server_blob = snapshot(first)
        with restored(both, client_blob, server_blob) as second:
            assert second.send(second.client, b"two") == b"two"


@pytest.mark.parametrize(
    ("record_size", "plaintext"),
    [(RecordSize.DEFAULT, 16384), (RecordSize.LOW_LATENCY, 1435)],
)
def test_restore_keeps_the_snapshot_record_size_unless_told_otherwise(record_size: RecordSize, plaintext: int) -> None:
    with configs() as both:
        with handshaken(both, server_record_size=RecordSize.THROUGHPUT) as original:
            server_blob = original.server.serialize()
        assert server_blob[_FRAGMENT_LENGTH] == (16384).to_bytes(2, "big")
        with Connection.deserialize(both.server, Mode.SERVER, server_blob, seed=1, record_size=record_size) as server:
            server.send(bytes(40000))
            records = server.outgoing
    # Application data records: 5-byte header, plaintext, 1 content-type byte, 16-byte tag.
    assert max(len(record) for record in records) == plaintext + 22


def test_a_serialized_connection_refuses_every_call_with_a_closed_error() -> None:
    with configs() as both, handshaken(both) as original:
        original.server.serialize()
        calls: dict[str, Callable[[], object]] = {
            "send": lambda: original.server.send(b"x"),
            "recv": original.server.recv,
            "negotiate": original.server.negotiate,
            "key update": original.server.request_key_update,
            # s2n itself would write a plaintext close_notify here (its keys are wiped).
            "shutdown_send": original.server.shutdown_send,
            "info": original.server.info,
            "serialize": original.server.serialize,
        }
        for name, call in calls.items():
            with pytest.raises(S2NClosedError) as raised:
                call()
            assert raised.value.name == "S2N_ERR_CLOSED", name
        assert original.server.take_outgoing() == b""
        original.server.close()
        original.server.close()


def test_serializing_before_the_handshake_completes_is_a_typed_error() -> None:
    with (
        configs() as both,
        Connection(both.client, Mode.CLIENT, seed=1, server_name="localhost") as client,
        Connection(both.server, Mode.SERVER, seed=1) as server,
    ):
        with pytest.raises(S2NUsageError) as raised:
            client.serialize()
        assert raised.value.name == "S2N_ERR_HANDSHAKE_NOT_COMPLETE"
        pair = InMemoryPair(client, server)
        client.negotiate()
        pair.pump()
        server.negotiate()  # the server's flight is written, the client's Finished not yet read
        with pytest.raises(S2NUsageError) as raised:
            server.serialize()
        assert raised.value.name == "S2N_ERR_HANDSHAKE_NOT_COMPLETE"
        # A refused snapshot leaves the connection as it was.
        pair.handshake()
        assert pair.send(client, b"still usable") == b"still usable"
        assert len(server.serialize()) > 0


def test_a_connection_of_a_non_serializable_config_refuses_to_serialize() -> None:
    with configs(serializable=False) as both, handshaken(both) as pair:
        with pytest.raises(S2NUsageError) as raised:
            pair.server.serialize()
        assert raised.value.name == "S2N_ERR_INVALID_STATE"
        assert pair.send(pair.server, b"still usable") == b"still usable"


def test_bytes_fed_but_not_read_refuse_a_snapshot() -> None:
    with configs() as both, handshaken(both) as pair:
        pair.client.send(b"in flight")
        pair.pump()
        with pytest.raises(S2NUsageError) as raised:
            pair.server.serialize()
        assert raised.value.name == "S2N_ERR_INVALID_STATE"
        assert pair.server.recv() == b"in flight"
        assert len(pair.server.serialize()) > 0


def _garbage_blobs(blob: bytes) -> dict[str, bytes]:
    return {
        "empty": b"",
        "text": b"garbage",
        "zeros": bytes(len(blob)),
        "truncated": blob[:-1],
        "header only": blob[:12],
        "version 2": bytes(7) + b"\x02" + blob[8:],
        "protocol 9.9": blob[:8] + b"\x09\x09" + blob[10:],
        "TLS 1.2 body too short": blob[:8] + b"\x03\x03" + blob[10:],
        "unknown cipher suite": blob[:10] + b"\x13\x99" + blob[12:],
        "SHA-384 suite, SHA-256 secrets": blob[:10] + b"\x13\x02" + blob[12:],
    }


def test_garbage_blobs_are_typed_errors() -> None:
    with configs() as both:
        with handshaken(both) as original:
            blob = original.client.serialize()
        for name, garbage in _garbage_blobs(blob).items():
            with pytest.raises(S2NUsageError) as raised:
                Connection.deserialize(both.client, Mode.CLIENT, garbage, seed=1)
            assert raised.value.name == "S2N_ERR_INVALID_SERIALIZED_CONNECTION", name


def test_altered_but_parsable_blobs_fail_at_the_first_record() -> None:
    # s2n checks only the blob's format, not its integrity (api/s2n.h:4054-4061), and never reads past its end.
    with configs() as both:
        with handshaken(both) as original:
            client_blob, server_blob = snapshot(original)
        wrong_secret = bytearray(client_blob)
        wrong_secret[_FIRST_SECRET_BYTE] ^= 1
        with restored(both, bytes(wrong_secret), server_blob) as copy:
            copy.client.send(b"under the wrong key")
            copy.pump()
            with pytest.raises(S2NProtocolError) as raised:
                copy.server.recv()
            assert raised.value.name == "S2N_ERR_DECRYPT"
        with restored(both, client_blob + b"trailing", server_blob) as copy:
            assert copy.send(copy.client, b"trailing bytes are ignored") == b"trailing bytes are ignored"
        no_fragment = client_blob[: _FRAGMENT_LENGTH.start] + bytes(2) + client_blob[_FRAGMENT_LENGTH.stop :]
        with (
            Connection.deserialize(both.client, Mode.CLIENT, no_fragment, seed=1) as client,
            pytest.raises(S2NProtocolError) as raised,
        ):
            client.send(b"x")
        assert raised.value.name == "S2N_ERR_FRAGMENT_LENGTH_TOO_SMALL"


def _server_session(server: Connection, client_blob: bytes, both: Configs) -> tuple[bytes, bytes]:
    """A restored client's request into ``server``; what the server read and wrote back."""
    with Connection.deserialize(both.client, Mode.CLIENT, client_blob, seed=9) as client:
        client.send(b"request")
        client.request_key_update()
        client.send(b"more")
        server.feed(client.take_outgoing())
    received = b"".join(iter(server.recv, None))
    server.send(b"reply")
    return received, server.take_outgoing()


def test_a_wiped_connection_restores_as_a_new_one_would() -> None:
    with configs() as both:
        with handshaken(both) as original:
            client_blob, server_blob = snapshot(original)
        with Connection.deserialize(both.server, Mode.SERVER, server_blob, seed=3) as fresh:
            expected = _server_session(fresh, client_blob, both)
        with Connection(both.server, Mode.SERVER, seed=3) as reused:
            for _ in range(3):  # each round as on a new connection: nothing of the last one is left
                reused.restore(server_blob)
                assert _server_session(reused, client_blob, both) == expected
                reused.wipe()


def test_a_wiped_connection_handshakes_with_the_same_bytes_as_a_new_one() -> None:
    with configs() as both, Connection(both.server, Mode.SERVER, seed=11) as server:
        handshakes = []
        for _ in range(2):  # the second on the wiped server: its seeded stream starts again too
            with Connection(both.client, Mode.CLIENT, seed=11, server_name="localhost") as client:
                pair = InMemoryPair(client, server)
                pair.handshake()
                handshakes.append([transfer.data for transfer in pair.transfers])
            server.wipe()
        server.feed(b"\x16\x03\x01\x00\x05abcde")  # a broken ClientHello: a failed server is wiped as well
        with pytest.raises(S2NProtocolError):
            server.negotiate()
        server.wipe()
        with Connection(both.client, Mode.CLIENT, seed=11, server_name="localhost") as client:
            pair = InMemoryPair(client, server)
            pair.handshake()
            handshakes.append([transfer.data for transfer in pair.transfers])
    assert handshakes[0] == handshakes[1] == handshakes[2]


def test_restore_refuses_a_used_connection_and_wipe_a_socket_one() -> None:
    with configs() as both:
        with handshaken(both) as original:
            _, server_blob = snapshot(original)
        with Connection(both.server, Mode.SERVER, seed=3) as server:
            server.restore(server_blob)
            with pytest.raises(S2NUsageError, match="new or wiped"):
                server.restore(server_blob)
        with Connection(both.server, Mode.SERVER, fd=0) as on_socket, pytest.raises(S2NUsageError, match="in-memory"):
            on_socket.wipe()
