"""Hand-written edge cases: each malformed input raises the right ``TLSError`` subclass."""

from __future__ import annotations

import doctest

import pytest

import engine.wire.codec as codec_module
import engine.wire.extensions as extensions_module
import engine.wire.handshake as handshake_module
import engine.wire.record as record_module
from engine.errors import (
    AlertDescription,
    DecodeError,
    IllegalParameterError,
    InternalError,
    TLSError,
    UnexpectedMessageError,
)
from engine.wire.codec import Struct
from engine.wire.extensions import (
    CertificateAuthorities,
    Cookie,
    EcPointFormats,
    Empty,
    Extension,
    ExtensionType,
    KeyShareClientHello,
    KeyShareEntry,
    KeyShareServerHello,
    NamedGroup,
    OfferedPsks,
    ProtocolNameList,
    PskKeyExchangeModes,
    ServerNameList,
    SignatureSchemeList,
    SupportedGroups,
    SupportedVersionsClient,
    SupportedVersionsServer,
    decode_extensions,
    encode_extensions,
    find_extension,
)
from engine.wire.handshake import (
    Certificate,
    CertificateEntry,
    CertificateRequest,
    CipherSuite,
    ClientHello,
    EndOfEarlyData,
    Finished,
    HandshakeBuffer,
    HandshakeType,
    KeyUpdate,
    NewSessionTicket,
    ServerHello,
    decode_handshake,
    decode_handshake_body,
    encode_handshake,
)
from engine.wire.reader import Reader
from engine.wire.record import Alert, ContentType, RecordHeader, encode_record

SUPPORTED_VERSIONS = Extension(ExtensionType.SUPPORTED_VERSIONS, bytes.fromhex("020304"))
KEY_SHARE = Extension(ExtensionType.KEY_SHARE, KeyShareClientHello((KeyShareEntry(0x1D, bytes(32)),)).encode())


def client_hello(**changes: object) -> ClientHello:
    """A small valid ClientHello, with ``changes`` applied."""
    fields: dict[str, object] = {
        "legacy_version": 0x0303,
        "random": bytes(range(32)),
        "legacy_session_id": b"",
        "cipher_suites": (0x1301,),
        "legacy_compression_methods": b"\x00",
        "extensions": (SUPPORTED_VERSIONS, KEY_SHARE),
    }
    fields.update(changes)
    return ClientHello(**fields)  # type: ignore[arg-type]


def client_hello_body(
    *, session_id: bytes = b"\x00", suites: bytes = b"\x00\x02\x13\x01", compression: bytes = b"\x01\x00"
) -> bytes:
    """A ClientHello body up to and including the compression methods, from raw pieces."""
    return b"\x03\x03" + bytes(32) + session_id + suites + compression


# --- extension blocks ---------------------------------------------------------------------------


# = https://www.rfc-editor.org/rfc/rfc8446#section-4.2
# = type=test
## There MUST NOT be more than one extension of the same type in a given
## extension block.
@pytest.mark.parametrize("extension_type", [0x002B, 0xFF01, 0x1234])
def test_duplicate_extension_is_illegal_parameter(extension_type: int) -> None:
    block = encode_extensions(
        (Extension(extension_type, b""), Extension(0x000A, b"xy"), Extension(extension_type, b""))
    )
    with pytest.raises(IllegalParameterError) as raised:
        decode_extensions(block)
    assert raised.value.alert == AlertDescription.ILLEGAL_PARAMETER
    body = client_hello_body() + block
    with pytest.raises(IllegalParameterError):
        decode_handshake_body(HandshakeType.CLIENT_HELLO, body)
    entry = b"\x00\x00\x01\xaa" + block
    with pytest.raises(IllegalParameterError):
        Certificate.decode(b"\x00" + len(entry).to_bytes(3, "big") + entry)


def test_decode_extensions_from_bytes_and_reader() -> None:
    block = encode_extensions((SUPPORTED_VERSIONS, KEY_SHARE))
    assert decode_extensions(block) == (SUPPORTED_VERSIONS, KEY_SHARE)
    with pytest.raises(DecodeError):
        decode_extensions(block + b"\x00")
    reader = Reader(block + b"rest")
    assert decode_extensions(reader) == (SUPPORTED_VERSIONS, KEY_SHARE)
    assert bytes(reader.rest()) == b"rest"
    assert decode_extensions(b"\x00\x00") == ()
    with pytest.raises(DecodeError):
        decode_extensions(b"\x00\x00", allow_empty=False)
    with pytest.raises(DecodeError):
        decode_extensions(block, minimum=len(block))


@pytest.mark.parametrize(
    "block",
    [
        b"",
        b"\x00",
        b"\x00\x05\x00\x2b\x00",  # extension header cut short
        b"\x00\x04\x00\x2b\x00\x01",  # extension data overruns the block
        b"\x00\x06\x00\x2b\x00\x01",  # block overruns the input
    ],
)
def test_truncated_extension_blocks(block: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_extensions(block)


def test_find_extension_and_extension_of() -> None:
    extensions = (SUPPORTED_VERSIONS, KEY_SHARE)
    assert find_extension(extensions, ExtensionType.KEY_SHARE) is KEY_SHARE
    assert find_extension(extensions, ExtensionType.COOKIE) is None
    assert Extension.of(ExtensionType.COOKIE, Cookie(b"c")) == Extension(44, b"\x00\x01c")


# --- typed extension bodies ---------------------------------------------------------------------

EMPTY_OR_SHORT_BODIES: list[tuple[type[Struct], bytes]] = [
    (ServerNameList, b"\x00\x00"),
    (ServerNameList, b"\x00\x03\x00\x00\x00"),  # empty host name
    (SupportedGroups, b"\x00\x00"),
    (SignatureSchemeList, b"\x00\x00"),
    (SupportedVersionsClient, b"\x00"),
    (KeyShareServerHello, b"\x00\x1d\x00\x00"),  # empty key_exchange
    (KeyShareClientHello, b"\x00\x04\x00\x1d\x00\x00"),
    (Cookie, b"\x00\x00"),
    (ProtocolNameList, b"\x00\x00"),
    (ProtocolNameList, b"\x00\x01\x00"),  # empty protocol name
    (PskKeyExchangeModes, b"\x00"),
    (EcPointFormats, b"\x00"),
    (OfferedPsks, b"\x00\x00\x00\x00"),
    (OfferedPsks, b"\x00\x07\x00\x01a\x00\x00\x00\x00\x00\x20\x1f" + bytes(31)),  # 31-byte binder
    (CertificateAuthorities, b"\x00\x00"),
]


@pytest.mark.parametrize(("cls", "data"), EMPTY_OR_SHORT_BODIES, ids=lambda value: getattr(value, "__name__", ""))
def test_empty_vectors_are_rejected_where_the_rfc_sets_a_minimum(cls: type[Struct], data: bytes) -> None:
    with pytest.raises(DecodeError):
        cls.decode(data)


def test_empty_vectors_that_the_rfc_allows() -> None:
    assert KeyShareClientHello.decode(b"\x00\x00").client_shares == ()
    assert Empty.decode(b"") == Empty()
    with pytest.raises(DecodeError):
        Empty.decode(b"\x00")


@pytest.mark.parametrize(
    ("cls", "data"),
    [
        (SupportedVersionsServer, b"\x03\x04\x00"),
        (SupportedGroups, b"\x00\x02\x00\x1d\x00"),
        (KeyShareServerHello, b"\x00\x1d\x00\x01\xaa\xbb"),
        (Cookie, b"\x00\x01c\x00"),
        (Alert, b"\x02\x28\x00"),
    ],
)
def test_trailing_bytes_are_rejected(cls: type[Struct], data: bytes) -> None:
    with pytest.raises(DecodeError, match="trailing"):
        cls.decode(data)


def test_odd_length_lists_of_u16_are_rejected() -> None:
    with pytest.raises(DecodeError):
        SignatureSchemeList.decode(b"\x00\x03\x04\x03\x05")
    with pytest.raises(DecodeError):
        SupportedVersionsClient.decode(b"\x03\x03\x04\x03")


def test_server_name_host_name() -> None:
    names = ServerNameList.for_host(b"example.com")
    assert names.encode() == b"\x00\x0e\x00\x00\x0bexample.com"
    assert ServerNameList.decode(names.encode()).host_name == b"example.com"
    assert ServerNameList.decode(b"\x00\x04\x07\x00\x01x").host_name is None


# --- handshake messages ---------------------------------------------------------------------------


def test_every_prefix_of_a_client_hello_is_a_decode_error() -> None:
    framed = encode_handshake(client_hello())
    assert decode_handshake(framed) == client_hello()
    for end in range(len(framed)):
        with pytest.raises(DecodeError):
            decode_handshake(framed[:end])
    body = framed[4:]
    for end in range(len(body)):
        if end == len(client_hello_body()):
            continue  # exactly the point where a pre-TLS 1.3 hello may stop
        with pytest.raises(DecodeError):
            ClientHello.decode(body[:end])


# = https://www.rfc-editor.org/rfc/rfc8446#section-4.1.2
# = type=test
## If negotiating a version of TLS prior to 1.3,
## a server MUST check that the message either contains no data after
## legacy_compression_methods or that it contains a valid extensions
## block with no data following.  If not, then it MUST abort the
## handshake with a "decode_error" alert.
def test_client_hello_without_extensions_block() -> None:
    body = client_hello_body()
    hello = ClientHello.decode(body)
    assert hello.extensions == ()
    assert not hello.extensions_present
    assert hello.encode() == body
    assert client_hello(random=bytes(32), extensions=(), extensions_present=False).encode() == body
    with pytest.raises(DecodeError):
        ClientHello.decode(body + b"\x00")
    with pytest.raises(DecodeError):
        ClientHello.decode(body + encode_extensions((SUPPORTED_VERSIONS, KEY_SHARE)) + b"\x00")
    with pytest.raises(InternalError):
        client_hello(extensions_present=False).encode()


def test_server_hello_without_extensions_block() -> None:
    body = b"\x03\x03" + bytes(32) + b"\x00\xc0\x2f\x00"
    hello = ServerHello.decode(body)
    assert (hello.extensions, hello.extensions_present, hello.cipher_suite) == ((), False, 0xC02F)
    assert hello.encode() == body


@pytest.mark.parametrize(
    "body",
    [
        client_hello_body(session_id=b"\x21" + bytes(33)),
        client_hello_body(suites=b"\x00\x00"),
        client_hello_body(suites=b"\x00\x03\x13\x01\x13"),
        client_hello_body(compression=b"\x00"),
        client_hello_body() + b"\x00\x00",  # extensions block below 8 bytes
        client_hello_body() + b"\x00\x04\x00\x17\x00\x00",
    ],
    ids=["session-id-33", "no-suites", "odd-suites", "no-compression", "empty-extensions", "extensions-4-bytes"],
)
def test_client_hello_length_rules(body: bytes) -> None:
    with pytest.raises(DecodeError):
        ClientHello.decode(body)


def test_client_hello_accepts_boundaries() -> None:
    hello = ClientHello.decode(
        client_hello_body(session_id=b"\x20" + bytes(32)) + b"\x00\x08\x00\x17\x00\x00\x00\x16\x00\x00"
    )
    assert len(hello.legacy_session_id) == 32
    assert [extension.extension_type for extension in hello.extensions] == [23, 22]


def test_server_hello_extensions_block_below_six_bytes() -> None:
    body = b"\x03\x03" + bytes(32) + b"\x00\x13\x01\x00"
    with pytest.raises(DecodeError):
        ServerHello.decode(body + b"\x00\x05\xff\x01\x00\x01\x00")
    assert ServerHello.decode(body + b"\x00\x06\x00\x2b\x00\x02\x03\x04").extensions == (Extension(43, b"\x03\x04"),)


def test_certificate_messages() -> None:
    with pytest.raises(DecodeError):
        Certificate.decode(b"\x00\x00\x00\x05\x00\x00\x00\x00\x00")  # empty cert_data
    assert Certificate.decode(b"\x00\x00\x00\x00") == Certificate(b"", ())
    with pytest.raises(DecodeError):
        CertificateRequest.decode(b"\x00\x00\x00")  # extensions<2..2^16-1>
    entry = CertificateEntry(b"\x30", (Extension(5, b""),))
    assert Certificate.decode(Certificate(b"ctx", (entry,)).encode()).entries == (entry,)


def test_new_session_ticket_rules() -> None:
    head = b"\x00\x00\x00\x1e\x00\x00\x00\x01\x00"
    assert NewSessionTicket.decode(head + b"\x00\x01t\x00\x00").ticket == b"t"
    with pytest.raises(DecodeError):
        NewSessionTicket.decode(head + b"\x00\x00\x00\x00")  # empty ticket
    with pytest.raises(DecodeError):
        NewSessionTicket.decode(head + b"\x00\x01t\xff\xff" + bytes(0xFFFF))  # extensions<0..2^16-2>


def test_key_update_end_of_early_data_finished() -> None:
    assert KeyUpdate.decode(b"\x01") == KeyUpdate(1)
    assert KeyUpdate.decode(b"\x07").request_update == 7  # the value is the engine's to check
    for body in (b"", b"\x00\x00"):
        with pytest.raises(DecodeError):
            KeyUpdate.decode(body)
    assert decode_handshake(b"\x05\x00\x00\x00") == EndOfEarlyData()
    with pytest.raises(DecodeError):
        decode_handshake(b"\x05\x00\x00\x01\x00")
    assert Finished.decode(b"") == Finished(b"")
    assert encode_handshake(Finished(b"\xaa" * 48))[:4] == b"\x14\x00\x00\x30"


@pytest.mark.parametrize("msg_type", [0, 3, 6, 12, 21, 22, 25, 254, 255])
def test_unknown_handshake_types_are_unexpected(msg_type: int) -> None:
    with pytest.raises(UnexpectedMessageError):
        decode_handshake_body(msg_type, b"")
    with pytest.raises(UnexpectedMessageError):
        decode_handshake(bytes((msg_type, 0, 0, 0)))


def test_decode_handshake_framing() -> None:
    with pytest.raises(DecodeError):
        decode_handshake(b"\x18\x00\x00\x01\x01\x00")  # trailing bytes after the message
    with pytest.raises(DecodeError):
        decode_handshake(b"\x18\x00\x00\x02\x01")  # length beyond the data
    with pytest.raises(DecodeError):
        decode_handshake(b"\x18\x00\x00\x02\x01\x00")  # KeyUpdate body of two bytes


def test_unknown_code_points_round_trip() -> None:
    hello = client_hello(cipher_suites=(0x0A0A, 0x1301, 0xFFFF), legacy_version=0x7F1C)
    extensions = (Extension(0xFAFA, b"grease"), Extension(0x4469, b""), *hello.extensions)
    hello = client_hello(cipher_suites=(0x0A0A, 0x1301, 0xFFFF), legacy_version=0x7F1C, extensions=extensions)
    framed = encode_handshake(hello)
    decoded = decode_handshake(framed)
    assert decoded == hello
    assert encode_handshake(decoded) == framed
    assert isinstance(decoded, ClientHello)
    assert [CipherSuite(suite).name for suite in decoded.cipher_suites] == [
        "UNKNOWN_0x0a0a",
        "TLS_AES_128_GCM_SHA256",
        "UNKNOWN_0xffff",
    ]


def test_decode_errors_name_the_field() -> None:
    with pytest.raises(DecodeError) as raised:
        ClientHello.decode(client_hello_body(suites=b"\x00\x00"))
    assert "in ClientHello.cipher_suites" in (raised.value.__notes__ or [])


def test_encoding_what_cannot_be_framed_is_an_internal_error() -> None:
    with pytest.raises(InternalError):
        client_hello(random=bytes(31)).encode()
    with pytest.raises(InternalError):
        client_hello(legacy_version=0x10000).encode()
    with pytest.raises(InternalError):
        Cookie(bytes(0x10000)).encode()
    with pytest.raises(InternalError):
        encode_record(ContentType.APPLICATION_DATA, bytes(0x10000))
    # Framable but outside the RFC's bounds: written as asked, rejected on decode.
    malformed = client_hello(cipher_suites=(), legacy_compression_methods=b"").encode()
    with pytest.raises(DecodeError):
        ClientHello.decode(malformed)


# --- handshake reassembly ---------------------------------------------------------------------------


def test_handshake_buffer_limits_and_pending() -> None:
    buffer = HandshakeBuffer(max_message_size=16)
    assert buffer.next_message() is None
    buffer.feed(b"\x14\x00\x00\x10" + bytes(16) + b"\x18\x00")
    assert buffer.next_message() == (20, b"\x14\x00\x00\x10" + bytes(16))
    assert buffer.pending == 2
    assert buffer.next_message() is None
    buffer.feed(memoryview(b"\x00\x01\x00"))
    assert buffer.next_message() == (24, b"\x18\x00\x00\x01\x00")
    assert buffer.pending == 0
    buffer.feed(b"\x0b\x00\x00\x11")  # header only: the body need not arrive to be refused
    with pytest.raises(DecodeError):
        buffer.next_message()


def test_handshake_buffer_default_limit_is_64_kib() -> None:
    buffer = HandshakeBuffer()
    buffer.feed(b"\x0b\x01\x00\x00")
    assert buffer.next_message() is None
    assert buffer.pending == 4
    buffer = HandshakeBuffer()
    buffer.feed(b"\x0b\x01\x00\x01")
    with pytest.raises(DecodeError):
        buffer.next_message()


# --- records ------------------------------------------------------------------------------------


def test_record_header_and_encode_record() -> None:
    record = encode_record(ContentType.HANDSHAKE, b"\x01\x02\x03", legacy_version=0x0301)
    assert record == b"\x16\x03\x01\x00\x03\x01\x02\x03"
    header = RecordHeader.decode(record[:5])
    assert header == RecordHeader(22, 0x0301, 3)
    assert header.encode() == record[:5]
    assert RecordHeader.read(Reader(record)) == header
    for data in (record[:4], record[:6]):
        with pytest.raises(DecodeError):
            RecordHeader.decode(data)
    assert encode_record(23, b"") == b"\x17\x03\x03\x00\x00"


@pytest.mark.parametrize("data", [b"", b"\x02", b"\x02\x28\x00"])
def test_alert_is_exactly_two_bytes(data: bytes) -> None:
    with pytest.raises(DecodeError):
        Alert.decode(data)


def test_alert_round_trip() -> None:
    assert Alert.decode(b"\x02\x28") == Alert(2, 40)
    assert Alert(1, 0).encode() == b"\x01\x00"


# --- enums and errors -----------------------------------------------------------------------------


def test_enum_values() -> None:
    assert {member.name: member.value for member in ContentType if member.value} == {
        "CHANGE_CIPHER_SPEC": 20,
        "ALERT": 21,
        "HANDSHAKE": 22,
        "APPLICATION_DATA": 23,
    }
    assert {member.name: member.value for member in HandshakeType} == {
        "CLIENT_HELLO": 1,
        "SERVER_HELLO": 2,
        "NEW_SESSION_TICKET": 4,
        "END_OF_EARLY_DATA": 5,
        "ENCRYPTED_EXTENSIONS": 8,
        "CERTIFICATE": 11,
        "CERTIFICATE_REQUEST": 13,
        "CERTIFICATE_VERIFY": 15,
        "FINISHED": 20,
        "KEY_UPDATE": 24,
        "MESSAGE_HASH": 254,
    }
    extension_values = {member.name: member.value for member in ExtensionType}
    assert extension_values["RENEGOTIATION_INFO"] == 0xFF01
    assert extension_values["NPN"] == 13172
    assert extension_values["QUIC_TRANSPORT_PARAMETERS"] == 57
    assert extension_values["KEY_SHARE"] == 51
    assert NamedGroup["X25519"].value == 0x001D
    assert ExtensionType(0x1234).name == "UNKNOWN_0x1234"
    assert int(NamedGroup(0x1234)) == 0x1234
    with pytest.raises(ValueError):
        NamedGroup("x25519")  # type: ignore[arg-type]


def test_every_decode_error_is_a_tls_error() -> None:
    assert issubclass(DecodeError, TLSError)
    assert DecodeError.alert == AlertDescription.DECODE_ERROR
    assert UnexpectedMessageError.alert == AlertDescription.UNEXPECTED_MESSAGE


@pytest.mark.parametrize("module", [codec_module, extensions_module, handshake_module, record_module])
def test_doctests(module: object) -> None:
    failures, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert failures == 0
