"""Record framing and server-message leniency as s2n has them, in lockstep against s2n.

- Once the protocol version is established (a client has read the ServerHello or
  HelloRetryRequest, a server has written its ServerHello), s2n checks the 5-byte header
  alone: content type 20..23 and record version 0x0303 (``Compat.record_version_check``,
  ``Compat.s2n_record_framing``; tls/s2n_record_read.c ``s2n_record_header_parse``).
- A first byte with the high bit set frames an SSLv2 record, at any point; s2n waits for
  its 15-bit length before failing (``Compat.s2n_record_framing``; tls/s2n_recv.c:121).
- Plaintext records up to 17535 bytes are read; a longer one fails once its body is in
  (``Compat.oversized_plaintext_records``; crypto/s2n_hmac.c:248).
- Bytes after the last field s2n's client reads in ServerHello, EncryptedExtensions,
  Certificate and CertificateVerify are ignored (``Compat.lenient_server_messages``).

Plus the fuzz inputs that found these (``tlsdiff fuzz TARGET --replay``), replayed.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.config import Compat
from engine.connection import TLSConnection
from engine.errors import DecodeError, UnexpectedMessageError
from engine.wire.handshake import CertificateVerify, HandshakeType, decode_handshake_body, encode_handshake
from engine.wire.s2n_server_messages import decode_server_message_as_s2n
from tests.engine.conversation import assert_lockstep, conversation, sides
from tests.engine.lockstep import engine_connection
from tlsdiff.harness import Role, Setup, Status, engine_config, open_engine
from tlsdiff.targets import TARGETS

pytestmark = pytest.mark.openssl_engine

_FUZZ_INPUTS = {
    # SSLv2 framing: a record `ff ..` after the ClientHello, mid-flight or after the handshake.
    "server_diff-3": b"\x08Z\x01n\x00\x00\x00\x03\x00\x06\x00\x05l\x00\xef\x00\xff\x044v\xdbn",
    "server_diff-5": b"\x00*\x01\x00\x00\x00\x00\x06\x00\x06\x00\x07\xa4\x03\xf6\xff\xff\x01\xb6\x04\x02\x03\x7f\x00"
    b"\x03\x00\x00\x00",
    "server_diff-6": b"\x08X\x01\x01\x00\x00\x00\x03\x00\x06\x01\x05z\x01\xe4\x00\xff\x08\x04(\xd5\x9f\xe0\xd4\xdcK",
    "client_diff-1": b"\x01b\x02\x00\x00\x00\x00\x0e\x00\x06\x00\x02z\x01\xf8\xff\xff\x08\xbf\xab\xf1@3\xd1\x9fP",
    "client_diff-2": b"\x01\x15\x03\x00\x00\x00\x00\x03\x00\x06\x00\x05l\x00\xef\x00\xff\x044v\xdbn",
    "client_diff-4": b"\x01\x00\x00\x00\x00\x00\x00\x00\x00\x06\x00\x06\xe3\x03\xde\x00\xff\x08\xbb\xaf\xf9\x96\x0e6 "
    b"\xb6",
    # The record version of the server's CCS changed: refused once the ServerHello is read.
    "client_diff-5": b"\x01\x12\x02\x00\x00\xd8\x00\x00\x02\x00\xb8\x00\x00\x00\x00\x00\x00\x00\x06\x00\x01\xb8\x01"
    b"\x86\x00\x01\x01\xf9",
    # Trailing bytes after the ServerHello's extensions.
    "client_diff-0": b"\x01\x13\x02\x00\x00\x00\x00K\x0e\x00\x00\x00/\x018\x00\x00\x02t\xf2",
}


@pytest.mark.parametrize("name", sorted(_FUZZ_INPUTS))
def test_the_fuzz_input_now_agrees(name: str) -> None:
    target = "server_diff" if name.startswith("server") else "client_diff"
    assert TARGETS[target].check(_FUZZ_INPUTS[name]) is None


def _record(content_type: int, body: bytes, version: int = 0x0303, length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    return bytes([content_type]) + version.to_bytes(2, "big") + size.to_bytes(2, "big") + body


def _run(role: Role, flights: int, wire: bytes, *, expect: Status, hrr: bool = False) -> None:
    """``flights`` of the peer's handshake to both targets, then ``wire``; all in lockstep."""
    with conversation(sides(role, hrr=hrr)) as run:
        if flights:
            run.handshake(max_flights=flights)
        elif role is Role.CLIENT:
            run.step("start", run.engine.start(), run.s2n.start())
        step = run.deliver("crafted", wire)
        assert_lockstep(run.steps)
        # WAITING stands for "not failed" (a client past its handshake reports COMPLETE).
        assert (step.s2n.status is Status.FAILED) == (expect is Status.FAILED), step.s2n


# The server has written its ServerHello after the first flight (the ClientHello); the client
# has read the server's whole flight (and completed) after it.
@pytest.mark.parametrize("role", [Role.SERVER, Role.CLIENT])
@pytest.mark.parametrize(
    ("wire", "expect"),
    [
        (_record(85, b"\x00" * 4, length=100), Status.FAILED),  # unknown type: on the header
        (_record(0x16, b"\x00" * 4, version=0x0301, length=100), Status.FAILED),  # version: on the header
        (_record(0x17, b"\x00" * 4, version=0x0304, length=100), Status.FAILED),
        (bytes.fromhex("ff0303000800"), Status.WAITING),  # SSLv2: waits for 0x7f03 bytes
        (bytes.fromhex("8006010303000000"), Status.FAILED),  # SSLv2 of 6 bytes, all in: refused
        (bytes.fromhex("8002010303"), Status.FAILED),  # SSLv2 shorter than its own header
    ],
    ids=["type-85", "version-0301", "version-0304", "sslv2-waits", "sslv2-whole", "sslv2-short"],
)
def test_headers_once_the_version_is_established(role: Role, wire: bytes, expect: Status) -> None:
    _run(role, 1, wire, expect=expect)


@pytest.mark.parametrize(
    ("wire", "expect"),
    [
        (_record(85, b"\x00" * 4, length=100), Status.WAITING),  # before: the whole record is read
        (_record(85, b"\x00" * 100), Status.FAILED),
        (_record(0x16, b"\x01\x00\xff\xff", version=0x0200, length=100), Status.WAITING),  # any version
        (bytes.fromhex("ff0303000800"), Status.WAITING),
        (bytes.fromhex("8006020303000000"), Status.FAILED),  # an SSLv2 record that is no ClientHello
    ],
    ids=["type-85-partial", "type-85-whole", "version-0200", "sslv2-waits", "sslv2-not-hello"],
)
def test_headers_before_the_version_is_established(wire: bytes, expect: Status) -> None:
    _run(Role.SERVER, 0, wire, expect=expect)


@pytest.mark.parametrize(("role", "expect"), [(Role.SERVER, Status.WAITING), (Role.CLIENT, Status.FAILED)])
def test_a_hello_retry_request_establishes_the_version_only_on_the_client(role: Role, expect: Status) -> None:
    # tls/s2n_server_hello.c:273 runs for a HelloRetryRequest too; s2n_server_hello_retry_send skips :340.
    _run(role, 1, _record(85, b"\x00" * 4, length=100), expect=expect, hrr=True)


@pytest.mark.parametrize("length", [16385, 17535, 17536, 65535])
@pytest.mark.parametrize("whole", [False, True], ids=["partial", "whole"])
def test_oversized_plaintext_records(length: int, whole: bool) -> None:
    # A ClientHello header announcing more than the record holds: s2n waits for it, if it reads the record.
    body = b"\x01\x00\xff\xff" + bytes(length - 4)
    wire = _record(0x16, body if whole else body[:-1], length=length)
    expect = Status.FAILED if whole and length > 17535 else Status.WAITING
    _run(Role.SERVER, 0, wire, expect=expect)


def _trailing(msg_type: int, extra: bytes) -> Callable[[int, bytes], bytes]:
    def hook(kind: int, encoded: bytes) -> bytes:
        if kind != msg_type:
            return encoded
        body = encoded[4:] + extra
        return encoded[:1] + len(body).to_bytes(3, "big") + body

    return hook


@pytest.mark.parametrize(
    "msg_type",
    [
        HandshakeType.SERVER_HELLO,
        HandshakeType.ENCRYPTED_EXTENSIONS,
        HandshakeType.CERTIFICATE,
        HandshakeType.CERTIFICATE_VERIFY,
        HandshakeType.FINISHED,
    ],
    ids=lambda kind: HandshakeType(kind).name,
)
@pytest.mark.parametrize("extra", [b"\x00", b"\x00\x00\x00\x00"], ids=["1", "4"])
def test_trailing_bytes_in_the_servers_messages(msg_type: int, extra: bytes) -> None:
    with conversation(sides(Role.CLIENT), message_hook=_trailing(msg_type, extra)) as run:
        steps = run.handshake()
        assert_lockstep(steps)
    complete = msg_type != HandshakeType.FINISHED
    assert (steps[-1].s2n.status is Status.COMPLETE) == complete


def test_rfc_framing_refuses_an_unknown_type_and_sslv2_bytes_on_the_header() -> None:
    for wire in (_record(85, b"", length=100), bytes.fromhex("ff0303000800")):
        setup = Setup(Role.SERVER, "default_tls13", "ecdsa-p256", 1)
        assert engine_config(setup).compat.s2n_record_framing
        server = open_engine(setup).connection
        server.receive_data(wire)  # s2n: waits
        rfc = _rfc_server()
        with pytest.raises(UnexpectedMessageError):
            rfc.receive_data(wire)


def _rfc_server() -> TLSConnection:
    return engine_connection("default_tls13", "ecdsa-p256", 1, client=False, compat=Compat.rfc())


def test_rfc_reading_of_server_messages_is_strict() -> None:
    body = encode_handshake(CertificateVerify(0x0403, b"sig"))[4:] + b"\x00"
    assert decode_server_message_as_s2n(HandshakeType.CERTIFICATE_VERIFY, body) == CertificateVerify(0x0403, b"sig")
    with pytest.raises(DecodeError):
        decode_handshake_body(HandshakeType.CERTIFICATE_VERIFY, body)
