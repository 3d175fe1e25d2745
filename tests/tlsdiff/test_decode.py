"""Decoding whole conversations with the NSS key log, as a passive observer."""

from __future__ import annotations

from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.connection import TLSConnection
from tlsdiff.decode import (
    CLIENT_TO_SERVER,
    SERVER_TO_CLIENT,
    DecodedRecord,
    KeyLog,
    decode_conversation,
    decode_stream,
    describe_record,
)
from tlsdiff.harness import Role, Setup, open_engine
from tlsdiff.scenario import CLIENT_DATA, SERVER_DATA, PairResult, run_pair

Transfers = list[tuple[str, bytes]]


@cache
def _pair() -> PairResult:
    return run_pair("engine", "engine", "default_tls13", "ecdsa-p256", 7)


def _transfers(result: PairResult) -> Transfers:
    return [(record.direction, record.data) for record in result.records]


def _messages(records: list[DecodedRecord], direction: str) -> list[int]:
    return [msg_type for record in records if record.direction == direction for msg_type, _ in record.messages]


def _application_data(records: list[DecodedRecord], direction: str) -> bytes:
    return b"".join(
        record.plaintext or b"" for record in records if record.direction == direction and record.inner_type == 23
    )


def test_every_record_of_a_real_conversation_decrypts() -> None:
    result = _pair()
    records = decode_conversation(_transfers(result), result.client_key_log)
    assert [record.raw for record in records] == [record.data for record in result.records]
    protected = [record for record in records if record.protected]
    assert protected and all(record.decrypted and record.plaintext is not None for record in protected)
    assert _messages(records, CLIENT_TO_SERVER) == [1, 20]
    assert _messages(records, SERVER_TO_CLIENT) == [2, 8, 11, 15, 20]
    assert _application_data(records, CLIENT_TO_SERVER) == CLIENT_DATA
    assert _application_data(records, SERVER_TO_CLIENT) == SERVER_DATA
    assert [len(record.plaintext or b"") for record in records if record.inner_type == 23] == [5120, 8087, 8087, 3826]
    alerts = [record for record in records if record.protected and record.inner_type == 21]
    assert [(alert.direction, alert.plaintext) for alert in alerts] == [
        (CLIENT_TO_SERVER, b"\x01\x00"),
        (SERVER_TO_CLIENT, b"\x01\x00"),
    ]
    labels = {record.key_label for record in protected}
    assert labels == {
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
    }
    assert [record.index for record in records if record.direction == CLIENT_TO_SERVER] == [0, 1, 2, 3, 4]
    assert describe_record(records[3]).startswith("server->client #2 application_data (handshake)")


def test_server_key_log_and_one_direction_alone() -> None:
    result = _pair()
    with_server_log = decode_conversation(_transfers(result), result.server_key_log)
    assert all(record.decrypted for record in with_server_log if record.protected)
    server_bytes = b"".join(data for direction, data in _transfers(result) if direction == SERVER_TO_CLIENT)
    alone = decode_stream(SERVER_TO_CLIENT, server_bytes, result.client_key_log)
    assert _messages(alone, SERVER_TO_CLIENT) == [2, 8, 11, 15, 20]
    assert _application_data(alone, SERVER_TO_CLIENT) == SERVER_DATA


@st.composite
def _resplit(draw: st.DrawFn, transfers: Transfers) -> Transfers:
    chunks: Transfers = []
    for direction, data in transfers:
        cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=3)))
        for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True):
            chunks.append((direction, data[start:end]))
    return chunks


@settings(max_examples=15, deadline=None)
@given(st.data())
def test_any_split_of_the_streams_decodes_the_same(data: st.DataObject) -> None:
    result = _pair()
    reference = decode_conversation(_transfers(result), result.client_key_log)
    assert decode_conversation(data.draw(_resplit(_transfers(result))), result.client_key_log) == reference


def _key_update_conversation() -> tuple[Transfers, list[bytes]]:
    """A handshake, then the client updates its keys twice (asking the server to update once) and both send data."""
    client_end = open_engine(Setup(Role.CLIENT, "default_tls13", "ecdsa-p256", 3))
    client, server = client_end.connection, open_engine(Setup(Role.SERVER, "default_tls13", "ecdsa-p256", 3)).connection
    transfers: Transfers = []

    def move(sender: TLSConnection, receiver: TLSConnection, direction: str) -> None:
        data = sender.data_to_send()
        if data:
            transfers.append((direction, data))
            receiver.receive_data(data)

    client.start()
    while not (client.handshake_complete and server.handshake_complete):
        move(client, server, CLIENT_TO_SERVER)
        move(server, client, SERVER_TO_CLIENT)
    client.key_update(request_peer=True)
    client.send(b"first")
    move(client, server, CLIENT_TO_SERVER)
    server.send(b"reply")
    move(server, client, SERVER_TO_CLIENT)
    client.key_update()
    client.send(b"second")
    move(client, server, CLIENT_TO_SERVER)
    return transfers, client_end.key_log


def test_key_updates_move_each_sender_to_the_next_secret() -> None:
    transfers, key_log = _key_update_conversation()
    records = decode_conversation(transfers, key_log)
    assert all(record.decrypted for record in records if record.protected)
    application = [
        (record.direction, record.key_label, record.plaintext) for record in records if record.inner_type == 23
    ]
    assert application == [
        (CLIENT_TO_SERVER, "CLIENT_TRAFFIC_SECRET_1", b"first"),
        (SERVER_TO_CLIENT, "SERVER_TRAFFIC_SECRET_1", b"reply"),
        (CLIENT_TO_SERVER, "CLIENT_TRAFFIC_SECRET_2", b"second"),
    ]
    assert _messages(records, CLIENT_TO_SERVER).count(24) == 2
    assert _messages(records, SERVER_TO_CLIENT).count(24) == 1


def test_hello_retry_request_and_sha384_suite() -> None:
    result = run_pair("engine", "engine", "default_tls13", "ecdsa-p384", 5, server_policy="20250211")
    records = decode_conversation(_transfers(result), result.client_key_log)
    assert all(record.decrypted for record in records if record.protected)
    assert _messages(records, CLIENT_TO_SERVER)[:2] == [1, 1]
    assert _messages(records, SERVER_TO_CLIENT)[:2] == [2, 2]
    assert _application_data(records, SERVER_TO_CLIENT) == SERVER_DATA


def test_damage_and_missing_keys_do_not_stop_the_decoder() -> None:
    result = _pair()
    transfers = _transfers(result)
    certificate = 4
    direction, data = transfers[certificate]
    transfers[certificate] = (direction, data[:-1] + bytes([data[-1] ^ 1]))
    records = decode_conversation(transfers, result.client_key_log)
    broken = records[certificate]
    assert broken.protected and not broken.decrypted and broken.plaintext is None and broken.messages == ()
    assert all(record.decrypted for record in records[certificate + 1 :] if record.protected)
    without_keys = decode_conversation(_transfers(result), [b"# nothing", b"CLIENT_RANDOM zz zz"])
    assert [record.messages for record in without_keys[:2]] == [
        ((1, result.records[0].data[5:]),),
        ((2, result.records[1].data[5:]),),
    ]
    assert all(record.plaintext is None for record in without_keys if record.protected)


def test_a_cut_stream_ends_with_an_incomplete_record() -> None:
    result = _pair()
    transfers = _transfers(result)[:4]
    direction, data = transfers[-1]
    transfers[-1] = (direction, data[:-3])
    records = decode_conversation([*transfers, (CLIENT_TO_SERVER, b"\x17\x03")], result.client_key_log)
    tails = [record for record in records if not record.complete]
    assert [(tail.direction, tail.content_type, tail.length) for tail in tails] == [
        (CLIENT_TO_SERVER, 0x17, None),
        (SERVER_TO_CLIENT, 0x17, len(data) - 5),
    ]
    assert all(tail.plaintext is None for tail in tails)
    assert "incomplete" in describe_record(tails[0])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from([CLIENT_TO_SERVER, SERVER_TO_CLIENT, "sideways"]), st.binary(max_size=80))),
    st.lists(st.binary(max_size=100), max_size=3),
)
def test_garbage_never_raises_and_keeps_every_byte(transfers: Transfers, key_log: list[bytes]) -> None:
    records = decode_conversation(transfers, key_log)
    for direction in {direction for direction, _ in transfers}:
        sent = b"".join(data for name, data in transfers if name == direction)
        assert b"".join(record.raw for record in records if record.direction == direction) == sent
    for record in records:
        describe_record(record)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_damaged_real_conversation_never_raises(data: st.DataObject) -> None:
    result = _pair()
    transfers = _transfers(result)
    index = data.draw(st.integers(0, len(transfers) - 1))
    direction, payload = transfers[index]
    position = data.draw(st.integers(0, len(payload) - 1))
    damaged = payload[:position] + data.draw(st.binary(max_size=6)) + payload[position + 1 :]
    transfers[index] = (direction, damaged)
    records = decode_conversation(transfers, result.client_key_log)
    for name in (CLIENT_TO_SERVER, SERVER_TO_CLIENT):
        sent = b"".join(payload for sender, payload in transfers if sender == name)
        assert b"".join(record.raw for record in records if record.direction == name) == sent


def test_key_log_parsing_is_lenient() -> None:
    random = bytes(range(32))
    line = b"EXPORTER_SECRET " + random.hex().encode() + b" abcd\n"
    log = KeyLog.parse([line + b"junk line\n", "CLIENT_TRAFFIC_SECRET_0 " + random.hex() + " 0102", b"\xff\xfe x y"])
    assert log.secret("EXPORTER_SECRET", random) == bytes.fromhex("abcd")
    assert log.secret("CLIENT_TRAFFIC_SECRET_0", random) == b"\x01\x02"
    assert log.client_randoms == (random,)
    assert KeyLog.parse(line).secrets == KeyLog.parse([line]).secrets
