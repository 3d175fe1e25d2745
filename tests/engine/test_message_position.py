"""The engine's position in s2n's message sequences: ``info().last_message`` equals s2n's at every step.

s2n's "last message name" is the message at its position in the handshake type's
message sequence (tls/s2n_handshake_io.c ``ACTIVE_MESSAGE``): the one being read or
written, the next one expected while it waits, APPLICATION_DATA when the handshake is
over. The engine keeps the same position (``engine.handshake.sequence``); these tests
run the engine and s2n side by side (tests/engine/conversation.py) and compare status,
position, handshake type and output after every flight: normal handshakes (both roles,
with and without HelloRetryRequest, with an engine or an s2n peer, a client with and
without middlebox compatibility), rejections of broken messages in every flight, and the
peer's alerts, close_notify and end of stream in the middle of the handshake.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

import pytest

from engine.config import EngineConfig, MessageLayout
from engine.connection import TLSConnection
from engine.handshake.names import HandshakeFlags, Message
from engine.handshake.sequence import ACTIONS, SEQUENCES, HandshakePosition
from engine.instrument import PlaintextRecord
from engine.policies._generate import default_s2n_root
from engine.record.protection import RecordProtection
from engine.wire.extensions import ExtensionType
from tests.engine import test_hello_retry_input as retry_input
from tests.engine.conversation import Rewrite, Sides, assert_lockstep, conversation, positions, sides
from tlsdiff.fuzz_scenario import Mutation, Scenario, Stage
from tlsdiff.harness import Role, Setup, Status, engine_config
from tlsdiff.lockstep import run_scenario

pytestmark = pytest.mark.openssl_engine

CCS, ALERT = 20, 21
_FINISHED_OF_ZEROS = bytes([20, 0, 0, 32]) + bytes(32)
_KEY_UPDATE = bytes([24, 0, 0, 1, 0])

Change = Callable[[TLSConnection, list[PlaintextRecord]], list[PlaintextRecord]]


def _at(flight: int, change: Change) -> Rewrite:
    """Change the peer's records of one flight."""

    def rewrite(index: int, connection: TLSConnection, records: list[PlaintextRecord]) -> list[PlaintextRecord]:
        return change(connection, records) if index == flight else records

    return rewrite


def _run(setups: Sides, *, peer: str = "engine", rewrite: Rewrite | None = None, eof_at: int | None = None,
         mutations: tuple[Mutation, ...] = ()) -> list[str]:  # fmt: skip
    """The conversation in lockstep; s2n's position after each step (equal to the engine's)."""
    with conversation(setups, peer=peer, rewrite=rewrite, mutations=mutations) as run:
        steps = run.handshake(eof_at=eof_at)
    assert_lockstep(steps)
    return positions(steps)


# ---- the sequences are s2n's ----

_C_NAMES = {"TLS_HANDSHAKE": 22, "TLS_CHANGE_CIPHER_SPEC": 20, "TLS_APPLICATION_DATA": 23, "0": 0,
            "TLS_CLIENT_HELLO": 1, "TLS_SERVER_HELLO": 2, "TLS_ENCRYPTED_EXTENSIONS": 8, "TLS_CERTIFICATE": 11,
            "TLS_CERT_VERIFY": 15, "TLS_FINISHED": 20}  # fmt: skip


def _s2n_handshake_io() -> str:
    path = default_s2n_root() / "tls" / "s2n_handshake_io.c"
    if not path.exists():
        pytest.skip(f"no s2n source at {path}")
    return path.read_text()


def _block(source: str, start: str) -> str:
    begin = source.index(start)
    return source[begin : source.index("};", begin)]


def test_the_sequences_are_s2ns_tls13_handshakes_table() -> None:
    table = _block(_s2n_handshake_io(), "static message_type_t tls13_handshakes")
    entries = {
        frozenset(flag.strip() for flag in flags.split("|")): tuple(n.strip() for n in names.split(",") if n.strip())
        for flags, names in re.findall(r"\[([A-Z_| ]+)\]\s*=\s*\{([^}]*)\}", table)
    }
    for flags, sequence in SEQUENCES.items():
        names = {flag.name or "" for flag in HandshakeFlags if flag and flag in flags}
        key = frozenset(names if flags & HandshakeFlags.NEGOTIATED else names | {"INITIAL"})
        assert entries[key] == tuple(message.value for message in sequence), flags


def test_the_actions_are_s2ns_tls13_state_machine() -> None:
    table = _block(_s2n_handshake_io(), "static struct s2n_handshake_action tls13_state_machine")
    rows = {name: row for name, *row in re.findall(r"\[(\w+)\]\s*=\s*\{(\w+),\s*(\w+),\s*'(\w)'", table)}
    for message, action in ACTIONS.items():
        record, message_type, writer = rows[message.value]
        assert (_C_NAMES[record], _C_NAMES[message_type], writer) == (
            action.record_type,
            action.message_type,
            action.writer,
        ), message


def test_the_position_skips_the_peers_change_cipher_spec_and_keeps_the_flags_that_shaped_it() -> None:
    server = HandshakePosition(client=False)
    server.set_hello_retry()
    assert server.message is Message.CLIENT_HELLO and server.tls13_state_machine
    server.set_handshake_type(middlebox=True)
    assert server.flags == HandshakeFlags(0b110011)  # NEGOTIATED|FULL_HANDSHAKE|HELLO_RETRY_REQUEST|MIDDLEBOX_COMPAT
    walk = []
    while not server.complete:
        server.advance()
        walk.append((server.message.value, server.ours))
    assert walk == [
        ("HELLO_RETRY_MSG", True), ("SERVER_CHANGE_CIPHER_SPEC", True), ("CLIENT_HELLO", False),
        ("SERVER_HELLO", True), ("ENCRYPTED_EXTENSIONS", True), ("SERVER_CERT", True), ("SERVER_CERT_VERIFY", True),
        ("SERVER_FINISHED", True), ("CLIENT_FINISHED", False), ("APPLICATION_DATA", False),
    ]  # fmt: skip
    client = HandshakePosition(client=True)
    client.advance()
    client.set_handshake_type(middlebox=True)
    client.advance()  # past SERVER_HELLO, and past the server's optional CCS
    assert client.message is Message.ENCRYPTED_EXTENSIONS


# ---- normal handshakes: the position after every flight ----


@pytest.mark.parametrize("peer", ["engine", "s2n"])
@pytest.mark.parametrize(
    ("role", "hrr", "expected"),
    [
        (Role.SERVER, False, ["CLIENT_FINISHED", "APPLICATION_DATA"]),
        (Role.SERVER, True, ["CLIENT_HELLO", "CLIENT_FINISHED", "APPLICATION_DATA"]),
        (Role.CLIENT, False, ["SERVER_HELLO", "APPLICATION_DATA"]),
        (Role.CLIENT, True, ["SERVER_HELLO", "SERVER_HELLO", "APPLICATION_DATA"]),
    ],
    ids=["server", "server-hrr", "client", "client-hrr"],
)
def test_the_position_after_every_flight_of_a_handshake(role: Role, hrr: bool, expected: list[str], peer: str) -> None:
    assert _run(sides(role, hrr=hrr), peer=peer) == expected


@pytest.mark.parametrize("hrr", [False, True], ids=["1-rtt", "hrr"])
def test_a_client_without_middlebox_compatibility_still_gets_s2ns_change_cipher_spec(hrr: bool) -> None:
    # No session id, no CCS from the client: s2n's server is in middlebox-compatibility mode all the same.
    setups = sides(Role.SERVER, hrr=hrr, peer_layout=MessageLayout(middlebox_compatibility=False))
    with conversation(setups) as run:
        steps = run.handshake()
    assert_lockstep(steps)
    assert steps[-1].s2n.status is Status.COMPLETE
    assert "MIDDLEBOX_COMPAT" in steps[-1].s2n.handshake_type
    assert bytes([CCS, 3, 3, 0, 1, 1]) in steps[0].engine.output


@pytest.mark.parametrize("hrr", [False, True], ids=["1-rtt", "hrr"])
def test_engines_without_middlebox_compatibility_walk_the_sequences_without_ccs(hrr: bool) -> None:
    layout = MessageLayout(middlebox_compatibility=False)
    setups = sides(Role.SERVER, hrr=hrr)
    client = TLSConnection(_config(setups.peer, layout), client=True, server_name="localhost")
    server = TLSConnection(_config(setups.target, layout), client=False)
    seen = [(client.last_message_name, client.handshake_type_name)]
    client.start()
    seen.append((client.last_message_name, client.handshake_type_name))
    wire = client.data_to_send()
    while wire:
        server.receive_data(wire)
        seen.append((server.last_message_name, server.handshake_type_name))
        answer = server.data_to_send()
        assert bytes([CCS, 3, 3, 0, 1, 1]) not in answer
        if not answer:
            break
        client.receive_data(answer)
        seen.append((client.last_message_name, client.handshake_type_name))
        wire = client.data_to_send()
    full = "NEGOTIATED|FULL_HANDSHAKE|HELLO_RETRY_REQUEST" if hrr else "NEGOTIATED|FULL_HANDSHAKE"
    retry = [("CLIENT_HELLO", full), ("SERVER_HELLO", full)] if hrr else []
    assert seen == [
        ("CLIENT_HELLO", "INITIAL"), ("SERVER_HELLO", "INITIAL"), *retry,
        ("CLIENT_FINISHED", full), ("APPLICATION_DATA", full), ("APPLICATION_DATA", full),
    ]  # fmt: skip


def _config(setup: Setup, layout: MessageLayout) -> EngineConfig:
    return replace(engine_config(setup), layout=layout)


# ---- rejections: each handshake message of the peer's flights damaged ----

_TRUNCATE, _SET_CONTENT, _FLIP = 13, 2, 1
_DAMAGE = {
    "cut": (_TRUNCATE, 6),  # the header and two bytes of the body left
    "emptied": (_TRUNCATE, 0),  # an empty handshake record
    "garbled": (_SET_CONTENT, 7),  # the first opaque field (a random, a session id, a context...) one byte long
}
_SERVER_FLIGHT = ("SERVER_HELLO", "ENCRYPTED_EXTENSIONS", "SERVER_CERT", "SERVER_CERT_VERIFY", "SERVER_FINISHED")
# (role, hrr, flight, the handshake messages of that flight of the peer, by s2n's names)
_FLIGHTS = [
    (Role.SERVER, False, 0, ("CLIENT_HELLO",)),
    (Role.SERVER, False, 1, ("CLIENT_FINISHED",)),
    (Role.SERVER, True, 0, ("CLIENT_HELLO",)),
    (Role.SERVER, True, 1, ("CLIENT_HELLO",)),
    (Role.SERVER, True, 2, ("CLIENT_FINISHED",)),
    (Role.CLIENT, False, 0, _SERVER_FLIGHT),
    (Role.CLIENT, True, 0, ("HELLO_RETRY_MSG",)),
    (Role.CLIENT, True, 1, _SERVER_FLIGHT),
]
# Where the damage does not stop both at the message itself (the same for both, as everywhere).
_ELSEWHERE = {
    # Cut short, emptied, or without its random, a HelloRetryRequest is not known as one: still SERVER_HELLO.
    ("HELLO_RETRY_MSG", "cut"): "SERVER_HELLO",
    ("HELLO_RETRY_MSG", "emptied"): "SERVER_HELLO",
    ("HELLO_RETRY_MSG", "garbled"): "SERVER_HELLO",
    # The first opaque field of EncryptedExtensions is an extension body neither side looks into.
    ("ENCRYPTED_EXTENSIONS", "garbled"): "APPLICATION_DATA",
}
_MESSAGE_CASES = [
    pytest.param(role, hrr, flight, index, damage, _ELSEWHERE.get((name, damage), name),
                 id=f"{role.value}{'-hrr' if hrr else ''}-flight{flight}-{name.lower()}-{damage}")
    for role, hrr, flight, names in _FLIGHTS
    for index, name in enumerate(names)
    for damage in _DAMAGE
]  # fmt: skip


@pytest.mark.parametrize(("role", "hrr", "flight", "index", "damage", "where"), _MESSAGE_CASES)
def test_a_damaged_message_is_refused_where_s2n_refuses_it(
    role: Role, hrr: bool, flight: int, index: int, damage: str, where: str
) -> None:
    op, value = _DAMAGE[damage]
    mutation = Mutation(Stage.SENT_MESSAGE, flight=flight, target=index, op=op, value=value)
    assert _run(sides(role, hrr=hrr), mutations=(mutation,))[-1] == where


# A bit of a record's body flipped on the wire: protected records fail to decrypt (at the message
# they carry); in a plaintext hello, bit 40 is the low byte of legacy_version.
_RECORD_CASES = [
    pytest.param(role, hrr, flight, record, bit, where,
                 id=f"{role.value}{'-hrr' if hrr else ''}-flight{flight}-record{record}-bit{bit}")
    for role, hrr, flight, record, bit, where in [
        (Role.SERVER, False, 0, 0, 40, "CLIENT_FINISHED"),  # ignored by both; the peer's Finished then fails
        (Role.SERVER, False, 0, 0, 8 * 40, "CLIENT_FINISHED"),  # in the random: likewise
        (Role.SERVER, False, 1, 0, 0, "CLIENT_FINISHED"),  # the CCS's byte
        (Role.SERVER, False, 1, 1, 40, "CLIENT_FINISHED"),
        (Role.SERVER, True, 0, 0, 8 * 200, "CLIENT_FINISHED"),  # in an extension neither checks: Finished fails
        (Role.SERVER, True, 2, 0, 40, "CLIENT_FINISHED"),
        (Role.CLIENT, False, 0, 0, 40, "ENCRYPTED_EXTENSIONS"),  # ignored; then the keys differ
        (Role.CLIENT, False, 0, 1, 0, "ENCRYPTED_EXTENSIONS"),  # the CCS's byte
        *[(Role.CLIENT, False, 0, record, 40, name) for record, name in enumerate(_SERVER_FLIGHT[1:], start=2)],
        (Role.CLIENT, True, 0, 0, 40, "SERVER_HELLO"),  # a HelloRetryRequest must say TLS 1.2: checked first
        (Role.CLIENT, True, 0, 0, 8 * 40, "HELLO_RETRY_MSG"),  # its session id echo
        (Role.CLIENT, True, 0, 1, 0, "SERVER_HELLO"),  # the CCS after it
        (Role.CLIENT, True, 1, 0, 8 * 40, "SERVER_HELLO"),
        *[(Role.CLIENT, True, 1, record, 40, name) for record, name in enumerate(_SERVER_FLIGHT[1:], start=1)],
    ]
]  # fmt: skip


@pytest.mark.parametrize(("role", "hrr", "flight", "record", "bit", "where"), _RECORD_CASES)
def test_a_flipped_bit_is_refused_where_s2n_refuses_it(
    role: Role, hrr: bool, flight: int, record: int, bit: int, where: str
) -> None:
    mutation = Mutation(Stage.WIRE, flight=flight, target=record, op=_FLIP, value=bit)
    assert _run(sides(role, hrr=hrr), mutations=(mutation,))[-1] == where


def test_the_fuzzers_corrupted_finished_shows_no_divergence() -> None:
    flip = Mutation(Stage.WIRE, flight=1, target=1, op=1, value=40)
    result = run_scenario(Scenario(seed=10, mutations=(flip,)))
    assert result.divergence is None
    assert not result.handshake_complete


# ---- the peer's alert, close_notify or end of stream mid-handshake; odd records ----


def _alert(level: int, description: int, protection: RecordProtection | None) -> PlaintextRecord:
    return PlaintextRecord(ALERT, bytes([level, description]), protection=protection)


def _alert_from(index: int, level: int = 2, description: int = 40) -> Change:
    """The flight's records from ``index`` on replaced by an alert, protected as the first of them was."""

    def change(connection: TLSConnection, records: list[PlaintextRecord]) -> list[PlaintextRecord]:
        return [*records[:index], _alert(level, description, records[index].protection)]

    return change


def _appended(index: int, extra: bytes) -> Change:
    """Bytes added to the content of one record of the flight (a coalesced message, say)."""

    def change(connection: TLSConnection, records: list[PlaintextRecord]) -> list[PlaintextRecord]:
        return [
            *records[:index],
            replace(records[index], content=records[index].content + extra),
            *records[index + 1 :],
        ]

    return change


def _inserted(index: int, make: Callable[[PlaintextRecord], PlaintextRecord]) -> Change:
    """A record made from the flight's record ``index`` (its protection, say) put before it."""

    def change(connection: TLSConnection, records: list[PlaintextRecord]) -> list[PlaintextRecord]:
        return [*records[:index], make(records[index]), *records[index:]]

    return change


def _split_around(index: int, middle: PlaintextRecord) -> Change:
    """Record ``index`` cut after two bytes, with ``middle`` between the halves."""

    def change(connection: TLSConnection, records: list[PlaintextRecord]) -> list[PlaintextRecord]:
        cut = records[index]
        head, tail = replace(cut, content=cut.content[:2]), replace(cut, content=cut.content[2:])
        return [*records[:index], head, middle, tail, *records[index + 1 :]]

    return change


_PLAIN_CCS = PlaintextRecord(CCS, b"\x01")


@pytest.mark.parametrize(
    ("role", "hrr", "flight", "change", "where", "status"),
    [
        # A fatal alert, or close_notify, instead of the rest of a flight: the position stays where it was.
        (Role.SERVER, False, 0, _alert_from(0), "CLIENT_HELLO", Status.PEER_ALERT),
        (Role.SERVER, False, 1, _alert_from(1), "CLIENT_FINISHED", Status.PEER_ALERT),
        (Role.SERVER, False, 1, _alert_from(1, 1, 0), "CLIENT_FINISHED", Status.PEER_CLOSED),
        (Role.SERVER, True, 1, _alert_from(1), "CLIENT_HELLO", Status.PEER_ALERT),
        (Role.CLIENT, False, 0, _alert_from(0), "SERVER_HELLO", Status.PEER_ALERT),
        (Role.CLIENT, False, 0, _alert_from(2), "ENCRYPTED_EXTENSIONS", Status.PEER_ALERT),
        (Role.CLIENT, False, 0, _alert_from(4, 1, 0), "SERVER_CERT_VERIFY", Status.PEER_CLOSED),
        (Role.CLIENT, True, 1, _alert_from(4), "SERVER_FINISHED", Status.PEER_ALERT),
        # A ChangeCipherSpec before the hello: s2n has not chosen its TLS 1.3 state machine, and refuses it.
        (Role.SERVER, False, 0, _inserted(0, lambda _: _PLAIN_CCS), "CLIENT_HELLO", Status.FAILED),
        (Role.CLIENT, False, 0, _inserted(0, lambda _: _PLAIN_CCS), "SERVER_HELLO", Status.FAILED),
        # ... and one inside a handshake message cut over two records (s2n reads its byte after the fragment);
        # inside the first ClientHello, s2n has no TLS 1.3 state machine yet and refuses the CCS itself
        # (tls/s2n_handshake_io.c:1545-1546): S2N-3 needs a retried hello (docs/findings.md).
        (Role.SERVER, False, 0, _split_around(0, _PLAIN_CCS), "CLIENT_HELLO", Status.FAILED),
        (Role.SERVER, False, 1, _split_around(1, _PLAIN_CCS), "CLIENT_FINISHED", Status.FAILED),
        (Role.CLIENT, False, 0, _split_around(3, _PLAIN_CCS), "SERVER_CERT", Status.FAILED),
        # An empty handshake record, protected: refused as a plaintext one is.
        (Role.SERVER, False, 1, _inserted(1, lambda r: replace(r, content=b"")), "CLIENT_FINISHED", Status.FAILED),
        (Role.CLIENT, False, 0, _inserted(3, lambda r: replace(r, content=b"")), "SERVER_CERT", Status.FAILED),
        # A whole message after the one that ends the peer's flight, in the same record: s2n refuses it at
        # the message it is to write next, having written nothing (tls/s2n_handshake_io.c).
        (Role.SERVER, False, 0, _appended(0, _FINISHED_OF_ZEROS), "SERVER_HELLO", Status.FAILED),
        (Role.SERVER, True, 0, _appended(0, _FINISHED_OF_ZEROS), "HELLO_RETRY_MSG", Status.FAILED),
        (Role.CLIENT, False, 0, _appended(5, _KEY_UPDATE), "CLIENT_CHANGE_CIPHER_SPEC", Status.FAILED),
        (Role.CLIENT, True, 0, _appended(0, _KEY_UPDATE), "CLIENT_CHANGE_CIPHER_SPEC", Status.FAILED),
        # A KeyUpdate before the handshake is over: in the client Finished's record, or instead of it.
        (Role.SERVER, False, 1, _appended(1, _KEY_UPDATE), "APPLICATION_DATA", Status.FAILED),
        (Role.SERVER, False, 1, lambda c, r: [r[0], replace(r[1], content=_KEY_UPDATE)], "CLIENT_FINISHED",
         Status.FAILED),
        (Role.CLIENT, False, 0, lambda c, r: [*r[:2], replace(r[2], content=_KEY_UPDATE)], "ENCRYPTED_EXTENSIONS",
         Status.FAILED),
    ],
    ids=[
        "server-alert-for-client-hello", "server-alert-for-finished", "server-close-for-finished",
        "server-hrr-alert-for-second-hello", "client-alert-for-server-hello", "client-alert-after-server-hello",
        "client-close-after-certificate", "client-hrr-alert-for-finished", "server-ccs-first", "client-ccs-first",
        "server-ccs-inside-client-hello", "server-ccs-inside-finished", "client-ccs-inside-certificate",
        "server-empty-protected-record", "client-empty-protected-record", "server-message-after-client-hello",
        "server-hrr-message-after-client-hello",
        "client-message-after-server-finished", "client-message-after-hello-retry", "server-key-update-with-finished",
        "server-key-update-for-finished", "client-key-update-for-encrypted-extensions",
    ],
)  # fmt: skip
def test_odd_records_mid_handshake(
    role: Role, hrr: bool, flight: int, change: Change, where: str, status: Status
) -> None:
    with conversation(sides(role, hrr=hrr), rewrite=_at(flight, change)) as run:
        steps = run.handshake()
    assert_lockstep(steps)
    assert (steps[-1].s2n.last_message, steps[-1].s2n.status) == (where, status)


def _in_the_hello_record(count: int) -> Change:
    """The first ``count`` protected messages of the server's flight moved into the ServerHello's plaintext record."""

    def change(connection: TLSConnection, records: list[PlaintextRecord]) -> list[PlaintextRecord]:
        hello, ccs, *protected = records
        moved = b"".join(record.content for record in protected[:count])
        return [replace(hello, content=hello.content + moved), ccs, *protected[count:]]

    return change


_UNEXPECTED_MESSAGE = bytes.fromhex("1503030002020a")
_CLOSE_NOTIFY = bytes.fromhex("15030300020100")


@pytest.mark.parametrize("count", [1, 2, 3])
@pytest.mark.parametrize(("compat", "alert"), [("s2n", _CLOSE_NOTIFY), ("rfc", _UNEXPECTED_MESSAGE)])
def test_protected_messages_in_the_server_hello_record(count: int, compat: str, alert: bytes) -> None:
    """S2N-7 (docs/findings.md): s2n's client completes with EncryptedExtensions, Certificate and
    CertificateVerify sent in the clear after the ServerHello; the engine refuses at the key change
    (RFC 8446 section 5.1). When s2n refuses it too, this test fails: the pin and write-up go."""
    setups = sides(Role.CLIENT)
    setups = replace(setups, target=replace(setups.target, compat=compat))
    with conversation(setups, rewrite=_at(0, _in_the_hello_record(count))) as run:
        steps = run.handshake()
    engine, s2n = steps[-1].engine, steps[-1].s2n
    assert (engine.status, engine.last_message, engine.error) == (
        Status.FAILED, "ENCRYPTED_EXTENSIONS", "UnexpectedMessageError"
    )  # fmt: skip
    assert engine.output == alert
    assert (s2n.status, s2n.last_message) == (Status.COMPLETE, "APPLICATION_DATA")


@pytest.mark.parametrize(
    ("role", "hrr", "eof_at", "where"),
    [
        (Role.SERVER, False, 0, "CLIENT_HELLO"),
        (Role.SERVER, False, 1, "CLIENT_FINISHED"),
        (Role.SERVER, True, 1, "CLIENT_HELLO"),
        (Role.CLIENT, False, 0, "SERVER_HELLO"),
        (Role.CLIENT, True, 1, "SERVER_HELLO"),
    ],
)
def test_the_end_of_the_stream_mid_handshake_leaves_the_position(
    role: Role, hrr: bool, eof_at: int, where: str
) -> None:
    assert _run(sides(role, hrr=hrr), eof_at=eof_at)[-1] == where


@pytest.mark.parametrize("role", [Role.SERVER, Role.CLIENT])
@pytest.mark.parametrize(
    ("garbage", "status"),
    [
        # Read as a record of type 'P' announcing 0x5420 bytes: both wait for them.
        (b"POST / HTTP/1.1\r\nHost: x\r\n\r\n", Status.WAITING),
        (bytes([22, 3, 1, 0, 5, 99, 0, 0, 1, 0]), Status.FAILED),  # a handshake message of an unknown type
        (bytes([23, 3, 3, 0, 3, 1, 2, 3]), Status.FAILED),  # application data
        (bytes([21, 3, 3, 0, 2, 2, 40]), Status.PEER_ALERT),  # a fatal alert
    ],
    ids=["http", "unknown-handshake-message", "application-data", "alert"],
)
def test_garbage_before_any_message(role: Role, garbage: bytes, status: Status) -> None:
    with conversation(sides(role)) as run:
        if role is Role.CLIENT:
            run.step("start", run.engine.start(), run.s2n.start())
        run.deliver("garbage", garbage)
    assert_lockstep(run.steps)
    assert run.steps[-1].s2n.last_message == ("CLIENT_HELLO" if role is Role.SERVER else "SERVER_HELLO")
    assert run.steps[-1].s2n.status is status


# ---- the second ClientHello's cases (tests/engine/test_hello_retry_input.py), position by position ----


@pytest.mark.parametrize(
    ("edit", "server_policy"),
    [
        pytest.param(edit, server_policy, id=f"{case}-{server_policy}")
        for case, edit, outcomes in retry_input.CASES
        for server_policy in outcomes
    ]
    + [
        # Without key_share s2n writes a ServerHello, then fails: at SERVER_HELLO, which it was writing.
        pytest.param(retry_input._without(ExtensionType.KEY_SHARE), "20250211", id="no key_share"),
        # With a key_share s2n cannot use it fails as it starts the ServerHello: at SERVER_HELLO, nothing written.
        pytest.param(retry_input._with(ExtensionType.KEY_SHARE, retry_input._key_shares(
            (retry_input.X25519, retry_input._share(retry_input.X25519)))), "20250211", id="unusable key_share"),
    ],
)  # fmt: skip
def test_the_position_through_a_second_client_hello(edit: retry_input.Edit, server_policy: str) -> None:
    cert = retry_input.SERVERS[server_policy]
    setups = Sides(Setup(Role.SERVER, server_policy, cert, 3), Setup(Role.CLIENT, retry_input.CLIENT_POLICY, cert, 3))
    with conversation(setups, message_hook=retry_input._second_hello_hook(edit)) as run:
        steps = run.handshake()
    assert_lockstep(steps)
    assert positions(steps)[0] == "CLIENT_HELLO"
    if steps[-1].s2n.status is Status.FAILED:
        assert positions(steps)[1] in ("CLIENT_HELLO", "SERVER_HELLO")
