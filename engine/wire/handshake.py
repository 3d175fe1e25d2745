"""TLS 1.3 handshake messages (RFC 8446 section 4): codecs, framing and reassembly.

Each message is a frozen dataclass with a ``msg_type`` class variable; its fields are
plain ints, bytes and tuples, so unknown code points round-trip unchanged.
``encode_handshake`` adds the 4-byte header (type, u24 length); ``decode_handshake``
and ``decode_handshake_body`` parse one message; ``HandshakeBuffer`` reassembles
messages from handshake record payloads.

>>> message = KeyUpdate(KeyUpdateRequest.UPDATE_REQUESTED)
>>> encode_handshake(message).hex()
'1800000101'
>>> decode_handshake(bytes.fromhex("1800000101"))
KeyUpdate(request_update=1)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from engine.errors import DecodeError, IllegalParameterError, InternalError, UnexpectedMessageError
from engine.wire.codec import (
    U16,
    Fixed,
    Nested,
    Opaque,
    OpenIntEnum,
    Rest,
    Struct,
    Uint8,
    Uint16,
    Uint32,
    Vector,
    wire_fields,
)
from engine.wire.extensions import Extension, ExtensionList
from engine.wire.reader import Reader

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "DOWNGRADE_TLS11_SUFFIX",
    "DOWNGRADE_TLS12_SUFFIX",
    "HANDSHAKE_HEADER_SIZE",
    "HELLO_RETRY_REQUEST_RANDOM",
    "S2N_PARSED_EXTENSIONS",
    "Certificate",
    "CertificateEntry",
    "CertificateRequest",
    "CertificateVerify",
    "CipherSuite",
    "ClientHello",
    "EncryptedExtensions",
    "EndOfEarlyData",
    "Finished",
    "HandshakeBuffer",
    "HandshakeMessage",
    "HandshakeType",
    "KeyUpdate",
    "KeyUpdateRequest",
    "NewSessionTicket",
    "ServerHello",
    "decode_client_hello_as_s2n",
    "decode_handshake",
    "decode_handshake_body",
    "encode_handshake",
    "read_s2n_extension_block",
]

HANDSHAKE_HEADER_SIZE = 4
DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024

# = https://www.rfc-editor.org/rfc/rfc8446#section-4.1.3
# = type=implementation
## Upon receiving a message with type server_hello, implementations MUST
## first examine the Random value and, if it matches this value, process
## it as described in Section 4.1.4).
HELLO_RETRY_REQUEST_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
"""ServerHello.random of a HelloRetryRequest: SHA-256("HelloRetryRequest") (RFC 8446 4.1.3)."""

DOWNGRADE_TLS12_SUFFIX = b"DOWNGRD\x01"
"""Last 8 bytes of a TLS 1.3 server's random when it negotiates TLS 1.2 (RFC 8446 4.1.3)."""

DOWNGRADE_TLS11_SUFFIX = b"DOWNGRD\x00"
"""Last 8 bytes of a TLS 1.3 server's random when it negotiates TLS 1.1 or below (RFC 8446 4.1.3)."""


class HandshakeType(OpenIntEnum):
    """Handshake message types (RFC 8446 section 4)."""

    CLIENT_HELLO = 1
    SERVER_HELLO = 2
    NEW_SESSION_TICKET = 4
    END_OF_EARLY_DATA = 5
    ENCRYPTED_EXTENSIONS = 8
    CERTIFICATE = 11
    CERTIFICATE_REQUEST = 13
    CERTIFICATE_VERIFY = 15
    FINISHED = 20
    KEY_UPDATE = 24
    MESSAGE_HASH = 254


class CipherSuite(OpenIntEnum):
    """Cipher suites: the TLS 1.3 three, and names for the TLS 1.2 suites s2n-tls offers beside them."""

    TLS_AES_128_GCM_SHA256 = 0x1301
    TLS_AES_256_GCM_SHA384 = 0x1302
    TLS_CHACHA20_POLY1305_SHA256 = 0x1303
    TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 = 0xC02B
    TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 = 0xC02F
    TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 = 0xC02C
    TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 = 0xC030
    TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 = 0xCCA9
    TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 = 0xCCA8
    TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384 = 0xC024
    TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384 = 0xC028
    TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 = 0xC023
    TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256 = 0xC027
    TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00FF
    TLS_FALLBACK_SCSV = 0x5600


class KeyUpdateRequest(OpenIntEnum):
    """``KeyUpdate.request_update`` values (RFC 8446 section 4.6.3)."""

    UPDATE_NOT_REQUESTED = 0
    UPDATE_REQUESTED = 1


# = https://www.rfc-editor.org/rfc/rfc8446#section-4.1.2
# = type=implementation
## If negotiating a version of TLS prior to 1.3,
## a server MUST check that the message either contains no data after
## legacy_compression_methods or that it contains a valid extensions
## block with no data following.  If not, then it MUST abort the
## handshake with a "decode_error" alert.
@dataclass(frozen=True, slots=True)
class ClientHello(Struct):
    """RFC 8446 4.1.2. An absent extensions block (a pre-TLS 1.3 client) decodes as
    ``extensions=()`` with ``extensions_present=False`` and is left out again on encode;
    a present block must hold 8 to 2^16-1 bytes.
    """

    msg_type: ClassVar[int] = HandshakeType.CLIENT_HELLO

    legacy_version: Uint16
    random: Annotated[bytes, Fixed(32)]
    legacy_session_id: Annotated[bytes, Opaque(1, 0, 32)]
    cipher_suites: Annotated[tuple[int, ...], Vector(U16, 2, 2, 0xFFFE)]
    legacy_compression_methods: Annotated[bytes, Opaque(1, 1)]
    extensions: Annotated[tuple[Extension, ...], ExtensionList(8, absent_flag="extensions_present")]
    extensions_present: bool = True


@dataclass(frozen=True, slots=True)
class ServerHello(Struct):
    """RFC 8446 4.1.3, also the HelloRetryRequest (4.1.4). A present extensions block must hold
    6 to 2^16-1 bytes; an absent one (a pre-TLS 1.3 server) is kept as for ``ClientHello``.
    """

    msg_type: ClassVar[int] = HandshakeType.SERVER_HELLO

    legacy_version: Uint16
    random: Annotated[bytes, Fixed(32)]
    legacy_session_id_echo: Annotated[bytes, Opaque(1, 0, 32)]
    cipher_suite: Uint16
    legacy_compression_method: Uint8
    extensions: Annotated[tuple[Extension, ...], ExtensionList(6, absent_flag="extensions_present")]
    extensions_present: bool = True

    @property
    def is_hello_retry_request(self) -> bool:
        """Whether this is a HelloRetryRequest (its random is ``HELLO_RETRY_REQUEST_RANDOM``)."""
        return self.random == HELLO_RETRY_REQUEST_RANDOM


@dataclass(frozen=True, slots=True)
class EncryptedExtensions(Struct):
    """RFC 8446 4.3.1: ``Extension extensions<0..2^16-1>``."""

    msg_type: ClassVar[int] = HandshakeType.ENCRYPTED_EXTENSIONS

    extensions: Annotated[tuple[Extension, ...], ExtensionList()]


@dataclass(frozen=True, slots=True)
class CertificateEntry(Struct):
    """RFC 8446 4.4.2: ``opaque cert_data<1..2^24-1>; Extension extensions<0..2^16-1>``."""

    cert_data: Annotated[bytes, Opaque(3, 1)]
    extensions: Annotated[tuple[Extension, ...], ExtensionList()]


@dataclass(frozen=True, slots=True)
class Certificate(Struct):
    """RFC 8446 4.4.2: ``certificate_request_context<0..2^8-1>; CertificateEntry certificate_list<0..2^24-1>``."""

    msg_type: ClassVar[int] = HandshakeType.CERTIFICATE

    certificate_request_context: Annotated[bytes, Opaque(1)]
    entries: Annotated[tuple[CertificateEntry, ...], Vector(Nested(CertificateEntry), 3)]


@dataclass(frozen=True, slots=True)
class CertificateRequest(Struct):
    """RFC 8446 4.3.2: ``certificate_request_context<0..2^8-1>; Extension extensions<2..2^16-1>``."""

    msg_type: ClassVar[int] = HandshakeType.CERTIFICATE_REQUEST

    certificate_request_context: Annotated[bytes, Opaque(1)]
    extensions: Annotated[tuple[Extension, ...], ExtensionList(2)]


@dataclass(frozen=True, slots=True)
class CertificateVerify(Struct):
    """RFC 8446 4.4.3: ``SignatureScheme algorithm; opaque signature<0..2^16-1>``."""

    msg_type: ClassVar[int] = HandshakeType.CERTIFICATE_VERIFY

    algorithm: Uint16
    signature: Annotated[bytes, Opaque(2)]


@dataclass(frozen=True, slots=True)
class Finished(Struct):
    """RFC 8446 4.4.4: ``opaque verify_data[Hash.length]``: the whole body; the engine checks its size."""

    msg_type: ClassVar[int] = HandshakeType.FINISHED

    verify_data: Annotated[bytes, Rest()]


@dataclass(frozen=True, slots=True)
class NewSessionTicket(Struct):
    """RFC 8446 4.6.1: lifetime, age_add, ``nonce<0..255>``, ``ticket<1..2^16-1>``, ``extensions<0..2^16-2>``."""

    msg_type: ClassVar[int] = HandshakeType.NEW_SESSION_TICKET

    ticket_lifetime: Uint32
    ticket_age_add: Uint32
    ticket_nonce: Annotated[bytes, Opaque(1)]
    ticket: Annotated[bytes, Opaque(2, 1)]
    extensions: Annotated[tuple[Extension, ...], ExtensionList(0, 0xFFFE)]


@dataclass(frozen=True, slots=True)
class KeyUpdate(Struct):
    """RFC 8446 4.6.3: exactly one byte, ``KeyUpdateRequest request_update`` (its value is checked by the engine)."""

    msg_type: ClassVar[int] = HandshakeType.KEY_UPDATE

    request_update: Uint8


@dataclass(frozen=True, slots=True)
class EndOfEarlyData(Struct):
    """RFC 8446 4.5: an empty body."""

    msg_type: ClassVar[int] = HandshakeType.END_OF_EARLY_DATA


HandshakeMessage = (
    ClientHello
    | ServerHello
    | EncryptedExtensions
    | Certificate
    | CertificateRequest
    | CertificateVerify
    | Finished
    | NewSessionTicket
    | KeyUpdate
    | EndOfEarlyData
)

_MESSAGE_CLASSES: dict[int, type[HandshakeMessage]] = {
    message_class.msg_type: message_class
    for message_class in (
        ClientHello,
        ServerHello,
        EncryptedExtensions,
        Certificate,
        CertificateRequest,
        CertificateVerify,
        Finished,
        NewSessionTicket,
        KeyUpdate,
        EndOfEarlyData,
    )
}


def encode_handshake(message: HandshakeMessage) -> bytes:
    """The message with its 4-byte header: ``msg_type``, u24 body length, body."""
    out = bytearray(HANDSHAKE_HEADER_SIZE)  # the header goes in front once the body's length is known
    message.write(out)
    length = len(out) - HANDSHAKE_HEADER_SIZE
    if length >= 1 << 24:
        raise InternalError(f"{type(message).__name__} body of {length} bytes does not fit a u24 length")
    out[0] = message.msg_type
    out[1:HANDSHAKE_HEADER_SIZE] = length.to_bytes(3, "big")
    return bytes(out)


def decode_handshake_body(msg_type: int, body: bytes | memoryview) -> HandshakeMessage:
    """Decode the body of a message of type ``msg_type`` (no header; no trailing bytes allowed).

    A type this module does not know (hello_request, message_hash, anything
    unassigned) raises ``UnexpectedMessageError``; a malformed body ``DecodeError``
    (or ``IllegalParameterError`` for a repeated extension).
    """
    message_class = _MESSAGE_CLASSES.get(msg_type)
    if message_class is None:
        raise UnexpectedMessageError(f"unknown handshake message type {HandshakeType(msg_type).name}")
    return message_class.decode(body)


S2N_PARSED_EXTENSIONS = frozenset({
    0, 1, 5, 10, 11, 13, 16, 18, 23, 35, 41, 42, 43, 44, 45, 47, 51, 57, 0xFE01, 13172, 0xFF01,
})  # fmt: skip
"""The extension types s2n-tls parses (``s2n_supported_extensions``, tls/extensions/s2n_extension_type.h).

s2n skips any other type before its duplicate check, so repeats of those are accepted, and
compares only these between a ClientHello and the one after a HelloRetryRequest.
"""


def read_s2n_extension_block(reader: Reader) -> tuple[tuple[Extension, ...], bool]:
    """An extensions block as ``s2n_extension_list_parse`` reads it (tls/extensions/s2n_extension_list.c:158-188).

    Fewer than two bytes left read as no block at all (the flag is False); only the types
    s2n parses must not repeat; what follows the block is left to the caller.
    """
    if reader.remaining < 2:
        return (), False
    block = reader.sub_reader(2)
    extensions: list[Extension] = []
    seen: set[int] = set()
    while block.remaining:
        extension_type, data = block.type_and_body()
        extension = Extension(extension_type, bytes(data))
        if extension_type in S2N_PARSED_EXTENSIONS:
            if extension_type in seen:
                raise IllegalParameterError(f"duplicate extension {extension_type}")
            seen.add(extension_type)
        extensions.append(extension)
    return tuple(extensions), True


_ANY_COMPRESSION_METHODS = Opaque(1)  # s2n reads an empty list too


def decode_client_hello_as_s2n(body: bytes | memoryview) -> ClientHello:
    """Parse a ClientHello body as s2n-tls does (tls/s2n_client_hello.c, ``s2n_client_hello_parse_raw``).

    Stricter parts are the same as ``ClientHello.decode`` (session id up to 32 bytes,
    a non-empty even cipher-suite list, lengths within the message). s2n is lenient
    where the codec is not: an empty compression list is read; zero or one byte after it
    means no extensions; bytes after the extensions block are ignored; only extension
    types s2n parses must not repeat. The transcript still hashes the whole message.
    """
    reader = Reader(body)
    # legacy_version, random, legacy_session_id and cipher_suites as the codec reads them.
    strict = {field.name: field.form.read(reader) for field in wire_fields(ClientHello)[:4]}
    compression = _ANY_COMPRESSION_METHODS.read(reader)
    extensions, present = read_s2n_extension_block(reader)
    return ClientHello(
        **strict, legacy_compression_methods=compression, extensions=extensions, extensions_present=present
    )


def decode_handshake(data: bytes | memoryview) -> HandshakeMessage:
    """Decode exactly one whole message, header included (trailing bytes raise ``DecodeError``)."""
    reader = Reader(data)
    msg_type = reader.uint(1)
    body = reader.vector(3)
    reader.expect_end()
    return decode_handshake_body(msg_type, body)


class HandshakeBuffer:
    """Reassembles handshake messages from handshake record payloads.

    ``feed`` each record's payload, then call ``next_message`` until it returns None;
    each result is ``(msg_type, raw)`` with ``raw`` the whole message, header
    included, exactly as it goes into the transcript. ``pending`` is how many bytes
    are buffered that are not yet a whole message: the engine checks it is zero
    where RFC 8446 5.1 forbids a message to span a key change.

    A header announcing a body longer than ``max_message_size`` raises
    ``DecodeError`` as soon as the header is complete, before the body arrives.
    s2n-tls makes the same check against the same 64 KiB default (it rejects
    lengths above ``S2N_MAXIMUM_HANDSHAKE_MESSAGE_LENGTH``), but reports it as
    S2N_ERR_BAD_MESSAGE, which it maps to an unexpected_message alert: the caller
    decides which alert to send.

    >>> buffer = HandshakeBuffer()
    >>> buffer.feed(b"\\x18\\x00\\x00")
    >>> buffer.next_message(), buffer.pending
    (None, 3)
    >>> buffer.feed(b"\\x01\\x00")
    >>> buffer.next_message(), buffer.pending
    ((24, b'\\x18\\x00\\x00\\x01\\x00'), 0)
    """

    __slots__ = ("_buffer", "check_length_on_header", "max_message_size")

    def __init__(self, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        self._buffer = bytearray()
        self.max_message_size = max_message_size
        # False: the length is checked once a byte of the body is in (s2n's post-handshake reading).
        self.check_length_on_header = True

    @property
    def pending(self) -> int:
        """Bytes buffered that are not yet part of a returned message."""
        return len(self._buffer)

    def feed(self, data: bytes | memoryview) -> None:
        """Append a handshake record's payload."""
        self._buffer += data

    def message_ready(self) -> bool:
        """Whether a whole message is buffered (``DecodeError`` for a header announcing too long a body)."""
        return self._message_end() is not None

    def _message_end(self) -> int | None:
        buffer = self._buffer
        if len(buffer) < HANDSHAKE_HEADER_SIZE:
            return None
        length = int.from_bytes(buffer[1:HANDSHAKE_HEADER_SIZE], "big")
        if length > self.max_message_size and (self.check_length_on_header or len(buffer) > HANDSHAKE_HEADER_SIZE):
            raise DecodeError(f"handshake message of {length} bytes exceeds {self.max_message_size}")
        end = HANDSHAKE_HEADER_SIZE + length
        return end if len(buffer) >= end else None

    def next_message(self) -> tuple[int, bytes] | None:
        """The next whole message as ``(msg_type, raw bytes with header)``, or None if incomplete."""
        buffer = self._buffer
        if not buffer:  # what every record's loop ends on: nothing left to look at
            return None
        end = self._message_end()
        if end is None:
            return None
        raw = bytes(buffer[:end])
        del buffer[:end]
        return raw[0], raw
