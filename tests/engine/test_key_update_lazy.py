"""KeyUpdate as s2n sends it: owed or asked for, it waits for the next record of data (tls/s2n_key_update.c).

``s2n_key_update_recv`` only sets ``key_update_pending`` for a KeyUpdate with
update_requested, as ``s2n_connection_request_key_update`` does for the application's
own request; ``s2n_send`` writes the one pending KeyUpdate before its next record
(``s2n_post_handshake_send``), and close_notify does not carry it. Every case runs the
engine and s2n side by side (tests/engine/conversation.py): same status, position and
bytes at every step, against an engine peer and against s2n itself.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine.config import Compat
from engine.connection import DataReceived, TLSConnection
from engine.errors import DecodeError
from engine.instrument import MessageHook, PlaintextRecord
from tests.engine.conversation import Conversation, Rewrite, Step, assert_lockstep, conversation, sides
from tests.engine.lockstep import engine_connection
from tlsdiff.fuzz_scenario import Action, Event, Peer, Scenario
from tlsdiff.harness import Role, Status
from tlsdiff.lockstep import run_scenario

pytestmark = pytest.mark.openssl_engine

APPLICATION_DATA = 23
_KEY_UPDATE_RECORD = 5 + 5 + 1 + 16  # header, the message, the inner type, the tag


@pytest.mark.parametrize("role", [Role.SERVER, Role.CLIENT])
@pytest.mark.parametrize("hrr", [False, True], ids=["1-rtt", "hrr"])
def test_a_requested_update_is_answered_with_the_next_data(role: Role, hrr: bool) -> None:
    policies = {"policy": "20250211", "peer_policy": "default_tls13"} if role is Role.SERVER else {
        "policy": "default_tls13", "peer_policy": "20250211"}  # fmt: skip
    extra = {**policies, "cert_type": "ecdsa-p384"} if hrr else {}
    events = (Event(Action.PEER_KEY_UPDATE, 1), Event(Action.TARGET_DATA, 100), Event(Action.PEER_DATA, 10))
    result = run_scenario(Scenario(role=role, events=events, **extra))  # type: ignore[arg-type]
    assert result.divergence is None
    assert result.handshake_complete


def test_with_s2n_as_the_peer_the_engine_servers_records_are_s2n_servers() -> None:
    # An s2n peer cannot ask for an update (S2N_ERR_INVALID_ARGUMENT); it updates, and then reads ours.
    events = (Event(Action.PEER_KEY_UPDATE, 0), Event(Action.TARGET_DATA, 100), Event(Action.TARGET_KEY_UPDATE, 0),
              Event(Action.PEER_DATA, 10), Event(Action.TARGET_DATA, 30))  # fmt: skip
    for role in (Role.SERVER, Role.CLIENT):
        result = run_scenario(Scenario(role=role, peer=Peer.S2N, events=events))
        assert result.divergence is None
        assert result.transfers["engine"] == result.transfers["s2n"]


def _peer_update(run: Conversation, *, request: bool, data: bytes = b"k") -> Step:
    update = run.peer.key_update(request_peer=request)
    sent = run.peer.send(data)
    return run.deliver("peer-update", update.output + sent.output)


def _targets_send(run: Conversation, data: bytes) -> Step:
    return run.step("send", run.engine.send(data), run.s2n.send(data))


def _targets_update(run: Conversation) -> Step:
    return run.step("update", run.engine.key_update(request_peer=False), run.s2n.key_update(request_peer=False))


def _records(data: bytes) -> list[int]:
    sizes, offset = [], 0
    while offset < len(data):
        size = 5 + int.from_bytes(data[offset + 3 : offset + 5], "big")
        sizes.append(size)
        offset += size
    return sizes


def _scripted(role: Role, script: str) -> list[Step]:
    """Handshake, then ``script``: P peer asks for an update, p peer updates, T targets ask, S targets send, C close."""
    with conversation(sides(role)) as run:
        run.handshake()
        for action in script:
            if action in "Pp":
                _peer_update(run, request=action == "P")
            elif action == "T":
                _targets_update(run)
            elif action == "S":
                _targets_send(run, b"d" * 100)
            else:
                run.step("close", run.engine.close(), run.s2n.close())
        steps = run.steps
    assert_lockstep(steps)
    return steps


@pytest.mark.parametrize("role", [Role.SERVER, Role.CLIENT])
@pytest.mark.parametrize(
    ("script", "sizes"),
    [
        # Asked for: nothing at once; the KeyUpdate in its own record, then the data.
        ("PS", [_KEY_UPDATE_RECORD, 5 + 100 + 17]),
        # Not asked for: no KeyUpdate.
        ("pS", [5 + 100 + 17]),
        # Asked twice before sending: one KeyUpdate.
        ("PPS", [_KEY_UPDATE_RECORD, 5 + 100 + 17]),
        # Ours pending when the peer asks: still one.
        ("TPS", [_KEY_UPDATE_RECORD, 5 + 100 + 17]),
        ("PTS", [_KEY_UPDATE_RECORD, 5 + 100 + 17]),
        # Asked, then close_notify: the KeyUpdate never goes (s2n_shutdown writes no post-handshake messages).
        ("PC", [5 + 2 + 17]),
        # Answered once: the next data goes alone.
        ("PSS", [5 + 100 + 17]),
    ],
)
def test_the_pending_key_update_goes_out_as_s2ns_does(role: Role, script: str, sizes: list[int]) -> None:
    steps = _scripted(role, script)
    last = steps[-1]
    assert _records(last.engine.output) == sizes
    assert all(not step.engine.output for step in steps if step.name in ("peer-update", "update"))


# ---- a KeyUpdate that is not quite one ----


def _key_update_rewritten(content: bytes) -> Rewrite:
    """The peer's KeyUpdate record (after the handshake) made ``content``, and the data after it dropped."""

    def rewrite(flight: int, connection: TLSConnection, records: list[PlaintextRecord]) -> list[PlaintextRecord]:
        if not connection.handshake_complete or records[0].content[:1] != b"\x18":
            return records
        return [replace(records[0], content=content)]

    return rewrite


@pytest.mark.parametrize(
    ("content", "accepted"),
    [
        (bytes([24, 0, 0, 2, 1, 7]), True),  # s2n reads the first byte and no further (Compat.lenient_key_update)
        (bytes([24, 0, 0, 1, 2]), False),  # neither 0 nor 1
        (bytes([24, 0, 0, 0]), False),  # no byte at all
        (bytes([24, 0, 0, 1, 1]) * 2, True),  # two in one record, read under the same keys, as s2n does
    ],
    ids=["trailing-byte", "bad-value", "empty", "two-in-one-record"],
)
def test_malformed_key_updates_are_read_as_s2n_reads_them(content: bytes, accepted: bool) -> None:
    with conversation(sides(Role.SERVER), rewrite=_key_update_rewritten(content)) as run:
        run.handshake()
        step = _peer_update(run, request=True)
        if accepted:
            _targets_send(run, b"after")  # one KeyUpdate, then the data
        steps = run.steps
    assert_lockstep(steps)
    assert (step.s2n.status is Status.FAILED) is not accepted
    assert step.s2n.last_message == "APPLICATION_DATA"


def test_data_inside_a_fragmented_key_update_is_refused_as_s2n_refuses_it() -> None:
    def rewrite(flight: int, connection: TLSConnection, records: list[PlaintextRecord]) -> list[PlaintextRecord]:
        if not connection.handshake_complete or records[0].content[:1] != b"\x18":
            return records
        update = records[0]
        head, tail = replace(update, content=update.content[:2]), replace(update, content=update.content[2:])
        return [head, PlaintextRecord(APPLICATION_DATA, b"x", protection=update.protection), tail, *records[1:]]

    with conversation(sides(Role.SERVER), rewrite=rewrite) as run:
        run.handshake()
        step = _peer_update(run, request=True)
        steps = run.steps
    assert_lockstep(steps)
    assert step.s2n.status is Status.FAILED


def test_a_key_update_split_over_two_records_is_read() -> None:
    def rewrite(flight: int, connection: TLSConnection, records: list[PlaintextRecord]) -> list[PlaintextRecord]:
        if not connection.handshake_complete or records[0].content[:1] != b"\x18":
            return records
        update = records[0]
        return [replace(update, content=update.content[:3]), replace(update, content=update.content[3:]), *records[1:]]

    with conversation(sides(Role.SERVER), rewrite=rewrite) as run:
        run.handshake()
        _peer_update(run, request=True)
        _targets_send(run, b"after")
        steps = run.steps
    assert_lockstep(steps)
    assert _records(steps[-1].engine.output)[0] == _KEY_UPDATE_RECORD


# ---- the engine's verbs alone ----


def _engine_pair(
    *, server_compat: Compat | None = None, client_hook: MessageHook | None = None
) -> tuple[TLSConnection, TLSConnection]:
    client = engine_connection("default_tls13", "ecdsa-p256", 4, client=True, message_hook=client_hook)
    server = engine_connection("default_tls13", "ecdsa-p256", 4, client=False, compat=server_compat)
    client.start()
    while not (client.handshake_complete and server.handshake_complete):
        server.receive_data(client.data_to_send())
        if answer := server.data_to_send():
            client.receive_data(answer)
    return client, server


def test_key_update_writes_nothing_until_data_is_sent() -> None:
    client, server = _engine_pair()
    old_write_keys = client.write_protection
    client.key_update(request_peer=True)
    assert client.data_to_send() == b""
    assert client.write_protection is old_write_keys
    client.send(b"")  # no bytes, no record: the KeyUpdate still waits
    assert client.data_to_send() == b""
    client.send(b"now")
    wire = client.data_to_send()
    assert _records(wire) == [_KEY_UPDATE_RECORD, 5 + 3 + 17]
    assert client.write_protection is not old_write_keys
    assert server.receive_data(wire) == [DataReceived(b"now")]
    assert server.data_to_send() == b""  # the server owes one now, and sends it with its next data
    server.send(b"reply")
    answer = server.data_to_send()
    assert _records(answer) == [_KEY_UPDATE_RECORD, 5 + 5 + 17]
    assert client.receive_data(answer) == [DataReceived(b"reply")]


def test_a_trailing_byte_in_a_key_update_is_a_decode_error_under_the_rfc() -> None:
    def trailing_byte(msg_type: int, encoded: bytes) -> bytes:
        return bytes([24, 0, 0, 2, encoded[4], 0]) if msg_type == 24 else encoded

    client, server = _engine_pair(server_compat=Compat.rfc(), client_hook=trailing_byte)
    client.key_update()
    client.send(b"x")
    wire = client.data_to_send()
    with pytest.raises(DecodeError):
        server.receive_data(wire)
