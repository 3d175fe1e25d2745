"""An SSLv2 CLIENT-HELLO as a server's first record: the engine refuses it byte for byte as s2n does.

s2n reads one (``Compat.s2n_record_framing``; tls/s2n_record_read.c:29-91,
tls/s2n_client_hello.c:832-874) and takes its version, at most TLS 1.2, as the connection's
(:835, :581-582: no extensions, so no supported_versions). Below the policy's minimum it
refuses with protocol_version in a record of that version as it holds it (:585-587; one
byte ``major * 10 + minor`` split back: 0x0002 as ``15 00 02``, unknown 0x0000 as TLS 1.0); at
or above it s2n goes on in TLS 1.2 or lower, which the engine does not speak (the oracle's
``unsupported`` tier). A malformed one, or one anywhere but as the first ClientHello, gets
s2n's close_notify in a TLS 1.0 record.

Each case goes to an s2n server and an engine server (tlsdiff.harness endpoints, in
lockstep: status, position and bytes); the RFC's framing refuses the record on its header.
"""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

from engine.config import Compat
from engine.errors import UnexpectedMessageError
from engine.handshake.client_offer import s2n_version
from engine.record import sslv2
from tests.engine.conversation import Sides, Step, assert_lockstep, conversation, sides
from tests.engine.lockstep import engine_connection
from tlsdiff.harness import Role, Setup, Status
from tlsdiff.targets import TARGETS

pytestmark = pytest.mark.openssl_engine

CERT = "ecdsa-p256"
TLS13_ONLY = "20250211"
TLS12_MINIMUM = "KMS-FIPS-TLS-1-2-2021-08"
TLS10_MINIMUM = "KMS-TLS-1-0-2021-08"
_POLICY_MINIMUM = {TLS13_ONLY: 34, TLS12_MINIMUM: 33, TLS10_MINIMUM: 31}
_OLDER = ("SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2")
# Two TLS 1.3 suites and three TLS 1.2 ones, as SSLv2 cipher specs (0x00 and the TLS suite).
SPECS = bytes.fromhex("001301 001302 00c02b 00c02f 00009c")
CLOSE_NOTIFY = bytes.fromhex("15030100020100")
REGRESSION = Path(__file__).resolve().parents[2] / "corpus" / "regression" / "server_diff"


def _u16(value: int) -> bytes:
    return value.to_bytes(2, "big")


def sslv2_hello(
    version: int = 0x0303,
    *,
    specs: bytes = SPECS,
    session_id: bytes = b"",
    challenge: bytes = bytes(range(32)),
    msg_type: int = 1,
    lengths: tuple[int, int, int] | None = None,
    extra: bytes = b"",
) -> bytes:
    """An SSLv2 CLIENT-HELLO record (RFC 5246 E.2); ``lengths`` overrides the three length fields."""
    spec_length, session_id_length, challenge_length = lengths or (len(specs), len(session_id), len(challenge))
    body = (
        bytes([msg_type]) + _u16(version) + _u16(spec_length) + _u16(session_id_length) + _u16(challenge_length)
        + specs + session_id + challenge + extra
    )  # fmt: skip
    return _u16(0x8000 | len(body)) + body


def _protocol_version_alert(record_version: str) -> bytes:
    return bytes.fromhex("15" + record_version + "00020246")


def _server(policy: str) -> Sides:
    return Sides(Setup(Role.SERVER, policy, CERT, 7), Setup(Role.CLIENT, policy, CERT, 7))


def _deliver(policy: str, *pieces: bytes) -> list[Step]:
    """``pieces`` one after the other to both servers, in lockstep."""
    with conversation(_server(policy)) as run:
        for index, piece in enumerate(pieces):
            run.deliver(f"piece{index}", piece)
        assert_lockstep(run.steps)
        return run.steps


# SSLv2 version -> the record version of s2n's protocol_version alert when it is below the minimum.
VERSIONS: list[tuple[int, str]] = [
    (0x0002, "0002"),  # SSL 2.0 itself: 2, not s2n's S2N_SSLv2 (20)
    (0x0300, "0300"),
    (0x0301, "0301"),
    (0x0302, "0302"),
    (0x0303, "0303"),
    (0x0304, "0303"),  # above TLS 1.2: taken as TLS 1.2 (tls/s2n_client_hello.c:835)
    (0x0000, "0301"),  # the first pinned input: unknown, written as TLS 1.0
    (0x0001, "0001"),  # the second pinned input
    (0x7F1C, "0108"),  # 1298 mod 256 = 18
]


def _version_cases(refused: bool) -> list[object]:
    return [
        pytest.param(version, policy, record, id=f"{version:04x}-{policy}")
        for version, record in VERSIONS
        for policy, minimum in _POLICY_MINIMUM.items()
        if (min(s2n_version(version), 33) < minimum) == refused
    ]


@pytest.mark.parametrize(("version", "policy", "record_version"), _version_cases(refused=True))
def test_below_the_minimum_refused_in_a_record_of_its_version(version: int, policy: str, record_version: str) -> None:
    (step,) = _deliver(policy, sslv2_hello(version))
    assert step.s2n.status is Status.FAILED and step.s2n.last_message == "CLIENT_HELLO", step.s2n
    assert step.engine.output == _protocol_version_alert(record_version)


@pytest.mark.parametrize(("version", "policy", "record_version"), _version_cases(refused=False))
def test_at_the_minimum_s2n_goes_on_below_tls13(version: int, policy: str, record_version: str) -> None:
    """s2n takes TLS 1.2 or lower from the hello (the oracle's ``unsupported`` tier); the engine refuses it."""
    with conversation(_server(policy)) as run:
        step = run.deliver("hello", sslv2_hello(version))
    assert step.s2n.protocol in _OLDER, step.s2n
    assert step.s2n.output != step.engine.output
    assert step.engine.status is Status.FAILED and step.engine.output == _protocol_version_alert(record_version)


def test_s2n_negotiates_tls12_from_an_sslv2_hello() -> None:
    """default_tls13 allows TLS 1.2: s2n answers a 0x0303 SSLv2 hello with a TLS 1.2 ServerHello."""
    with conversation(_server("default_tls13")) as run:
        step = run.deliver("hello", sslv2_hello(0x0303))
    assert step.s2n.protocol == "TLSv1.2" and step.s2n.output.startswith(bytes.fromhex("160303")), step.s2n
    assert step.s2n.output[5] == 2  # ServerHello


# Malformed hellos, and what s2n makes of them (tls/s2n_client_hello.c line): all refused alike.
MALFORMED: list[tuple[str, bytes]] = [
    ("no body", _u16(0x8003) + bytes.fromhex("010303")),  # :216
    ("one byte of body", _u16(0x8004) + bytes.fromhex("01030300")),  # :844
    ("msg_type 2", sslv2_hello(msg_type=2)),  # tls/s2n_handshake_io.c:1527
    ("msg_type 0", sslv2_hello(msg_type=0)),
    ("no cipher specs", sslv2_hello(specs=b"")),  # :845
    ("cipher_spec_length 4", sslv2_hello(specs=SPECS[:4])),  # :846
    ("cipher specs cut short", sslv2_hello(lengths=(30, 0, 32))),  # :858
    ("challenge of 33 bytes", sslv2_hello(challenge=bytes(33))),  # :854
    ("challenge cut short", sslv2_hello(lengths=(len(SPECS), 0, 32), challenge=bytes(10))),  # :873
    ("session id past the end", sslv2_hello(lengths=(len(SPECS), 50, 32))),  # :860
    ("shorter than its own header", bytes.fromhex("8002010303")),  # tls/s2n_record_read.c:68
]
# Well-formed as s2n reads them: the version decides (TLS 1.2 under a TLS 1.3-only policy: refused).
ACCEPTED: list[tuple[str, bytes]] = [
    ("empty challenge", sslv2_hello(challenge=b"")),
    ("session id of 32 bytes", sslv2_hello(session_id=bytes(32))),
    ("session id of 40 bytes (read, not kept)", sslv2_hello(session_id=bytes(40))),
    ("bytes after the challenge", sslv2_hello(extra=bytes.fromhex("160301"))),
    ("a TLS record after it", sslv2_hello() + bytes.fromhex("1603010002abcd")),
]


@pytest.mark.parametrize("policy", [TLS13_ONLY, TLS10_MINIMUM])
@pytest.mark.parametrize(("case", "wire"), [pytest.param(*case, id=case[0]) for case in MALFORMED])
def test_malformed_hellos_get_close_notify(case: str, wire: bytes, policy: str) -> None:
    (step,) = _deliver(policy, wire)
    assert step.s2n.status is Status.FAILED and step.engine.output == CLOSE_NOTIFY, step.s2n


@pytest.mark.parametrize(("case", "wire"), [pytest.param(*case, id=case[0]) for case in ACCEPTED])
def test_lenient_fields_as_s2n(case: str, wire: bytes) -> None:
    (step,) = _deliver(TLS13_ONLY, wire)
    assert step.engine.output == _protocol_version_alert("0303")


def test_byte_by_byte() -> None:
    """s2n reads the 5-byte header, then waits for the 15-bit length; so does the engine."""
    wire = sslv2_hello(0x0001)
    steps = _deliver(TLS13_ONLY, *(wire[index : index + 1] for index in range(len(wire))))
    assert [step.s2n.status for step in steps[:-1]] == [Status.WAITING] * (len(wire) - 1)
    assert steps[-1].engine.output == _protocol_version_alert("0001")


def test_after_a_fragment_of_a_client_hello() -> None:
    # s2n parses the fragment's byte and the record's as one SSLv2 hello: cipher_spec_length 0x0100, refused.
    (_, step) = _deliver(TLS13_ONLY, bytes.fromhex("160301000101"), sslv2_hello(0x0001))
    assert step.s2n.status is Status.FAILED and step.engine.output == CLOSE_NOTIFY


@pytest.mark.parametrize("role", [Role.SERVER, Role.CLIENT])
def test_only_as_the_first_client_hello(role: Role) -> None:
    """After a HelloRetryRequest (tls/s2n_client_hello.c:441-443), or to a client (ACTIVE_MESSAGE, :1331)."""
    with conversation(sides(role, hrr=role is Role.SERVER)) as run:
        if role is Role.SERVER:
            run.handshake(max_flights=1)
        else:
            run.step("start", run.engine.start(), run.s2n.start())
        step = run.deliver("sslv2", sslv2_hello(0x0001))
        assert_lockstep(run.steps)
    assert step.s2n.status is Status.FAILED and step.s2n.error == "S2N_ERR_BAD_MESSAGE", step.s2n


def test_rfc_framing_refuses_it_on_the_header() -> None:
    server = engine_connection(TLS13_ONLY, CERT, 7, client=False, compat=Compat.rfc())
    with pytest.raises(UnexpectedMessageError):
        server.receive_data(sslv2_hello(0x0001)[:5])
    assert server.data_to_send() == bytes.fromhex("1503010002020a")


@pytest.mark.parametrize("name", ["sslv2-client-hello-refused-version-0000", "sslv2-client-hello-refused-version-0001"])
def test_the_pinned_fuzz_inputs_agree(name: str) -> None:
    assert TARGETS["server_diff"].check((REGRESSION / f"{name}.bin").read_bytes()) is None


def test_sslv2_doctest() -> None:
    failures, tried = doctest.testmod(sslv2)
    assert tried and not failures
