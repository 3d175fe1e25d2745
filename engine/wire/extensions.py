"""TLS extensions: the raw ``Extension`` list codec and typed bodies for what TLS 1.3 uses.

An extensions block decodes to a tuple of raw ``Extension(extension_type, data)`` in
wire order (order is part of byte compatibility); a handler decodes the ``data`` of the
ones it knows with the typed body class, e.g. ``KeyShareClientHello.decode(ext.data)``.
Every typed body rejects trailing bytes and vectors outside the RFC's bounds with
``DecodeError``. Semantic checks (a key share for a group not offered, a compression
method other than null, ...) belong to the handshake layer, not here.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Annotated, Any

from engine.errors import IllegalParameterError
from engine.wire.codec import (
    U8,
    U16,
    Nested,
    Opaque,
    OpenIntEnum,
    Struct,
    Uint8,
    Uint16,
    Uint32,
    Vector,
    write_length_prefix,
)
from engine.wire.reader import Reader

__all__ = [
    "CertificateAuthorities",
    "Cookie",
    "EarlyDataNewSessionTicket",
    "EcPointFormats",
    "Empty",
    "Extension",
    "ExtensionList",
    "ExtensionType",
    "KeyShareClientHello",
    "KeyShareEntry",
    "KeyShareHelloRetryRequest",
    "KeyShareServerHello",
    "NameType",
    "NamedGroup",
    "OfferedPsks",
    "PreSharedKeyServerHello",
    "ProtocolNameList",
    "ProtocolVersion",
    "PskIdentity",
    "PskKeyExchangeMode",
    "PskKeyExchangeModes",
    "RenegotiationInfo",
    "ServerName",
    "ServerNameList",
    "SignatureScheme",
    "SignatureSchemeList",
    "SupportedGroups",
    "SupportedVersionsClient",
    "SupportedVersionsServer",
    "decode_extensions",
    "encode_extensions",
    "find_extension",
]


class ExtensionType(OpenIntEnum):
    """IANA extension code points (RFC 8446 section 4.2 and the registries it cites)."""

    SERVER_NAME = 0
    MAX_FRAGMENT_LENGTH = 1
    STATUS_REQUEST = 5
    SUPPORTED_GROUPS = 10
    EC_POINT_FORMATS = 11
    SIGNATURE_ALGORITHMS = 13
    USE_SRTP = 14
    HEARTBEAT = 15
    APPLICATION_LAYER_PROTOCOL_NEGOTIATION = 16
    SIGNED_CERTIFICATE_TIMESTAMP = 18
    CLIENT_CERTIFICATE_TYPE = 19
    SERVER_CERTIFICATE_TYPE = 20
    PADDING = 21
    ENCRYPT_THEN_MAC = 22
    EXTENDED_MASTER_SECRET = 23
    RECORD_SIZE_LIMIT = 28
    SESSION_TICKET = 35
    PRE_SHARED_KEY = 41
    EARLY_DATA = 42
    SUPPORTED_VERSIONS = 43
    COOKIE = 44
    PSK_KEY_EXCHANGE_MODES = 45
    CERTIFICATE_AUTHORITIES = 47
    OID_FILTERS = 48
    POST_HANDSHAKE_AUTH = 49
    SIGNATURE_ALGORITHMS_CERT = 50
    KEY_SHARE = 51
    QUIC_TRANSPORT_PARAMETERS = 57
    NPN = 13172
    RENEGOTIATION_INFO = 0xFF01


class NamedGroup(OpenIntEnum):
    """Key exchange groups (RFC 8446 section 4.2.7, RFC 7919, and the ML-KEM groups s2n-tls knows)."""

    SECP256R1 = 0x0017
    SECP384R1 = 0x0018
    SECP521R1 = 0x0019
    X25519 = 0x001D
    X448 = 0x001E
    FFDHE2048 = 0x0100
    FFDHE3072 = 0x0101
    FFDHE4096 = 0x0102
    FFDHE6144 = 0x0103
    FFDHE8192 = 0x0104
    MLKEM1024 = 0x0202
    SECP256R1_MLKEM768 = 0x11EB
    X25519_MLKEM768 = 0x11EC
    SECP384R1_MLKEM1024 = 0x11ED


class SignatureScheme(OpenIntEnum):
    """Signature schemes (RFC 8446 section 4.2.3)."""

    RSA_PKCS1_SHA1 = 0x0201
    ECDSA_SHA1 = 0x0203
    RSA_PKCS1_SHA256 = 0x0401
    RSA_PKCS1_SHA384 = 0x0501
    RSA_PKCS1_SHA512 = 0x0601
    ECDSA_SECP256R1_SHA256 = 0x0403
    ECDSA_SECP384R1_SHA384 = 0x0503
    ECDSA_SECP521R1_SHA512 = 0x0603
    RSA_PSS_RSAE_SHA256 = 0x0804
    RSA_PSS_RSAE_SHA384 = 0x0805
    RSA_PSS_RSAE_SHA512 = 0x0806
    ED25519 = 0x0807
    ED448 = 0x0808
    RSA_PSS_PSS_SHA256 = 0x0809
    RSA_PSS_PSS_SHA384 = 0x080A
    RSA_PSS_PSS_SHA512 = 0x080B


class ProtocolVersion(OpenIntEnum):
    """Wire protocol versions (``legacy_version``, ``supported_versions``)."""

    SSL3 = 0x0300
    TLS1_0 = 0x0301
    TLS1_1 = 0x0302
    TLS1_2 = 0x0303
    TLS1_3 = 0x0304


class PskKeyExchangeMode(OpenIntEnum):
    """``psk_key_exchange_modes`` values (RFC 8446 section 4.2.9)."""

    PSK_KE = 0
    PSK_DHE_KE = 1


class NameType(OpenIntEnum):
    """``server_name`` name types (RFC 6066 section 3)."""

    HOST_NAME = 0


@dataclass(frozen=True, slots=True)
class Extension(Struct):
    """One raw extension: ``struct { ExtensionType extension_type; opaque extension_data<0..2^16-1>; }``."""

    extension_type: Uint16
    data: Annotated[bytes, Opaque(2)]

    @classmethod
    def of(cls, extension_type: int, body: Struct) -> Extension:
        """The raw extension carrying ``body`` encoded."""
        return cls(int(extension_type), body.encode())


_EXTENSION_HEADER = struct.Struct(">HH")  # extension_type, then the length of extension_data


def _read_extension_block(reader: Reader, minimum: int, maximum: int) -> tuple[Extension, ...]:
    block = reader.sub_reader(2, minimum, maximum)
    extensions: list[Extension] = []
    seen: set[int] = set()
    while block.remaining:
        extension_type, body = block.type_and_body()
        data = bytes(body)
        # = https://www.rfc-editor.org/rfc/rfc8446#section-4.2
        # = type=implementation
        ## There MUST NOT be more than one extension of the same type in a given
        ## extension block.
        if extension_type in seen:
            raise IllegalParameterError(f"duplicate extension {ExtensionType(extension_type).name}")
        seen.add(extension_type)
        extensions.append(Extension(extension_type, data))
    return tuple(extensions)


class ExtensionList(Vector):
    """``Extension extensions<minimum..maximum>`` as a message field: duplicates are rejected."""

    __slots__ = ()

    def __init__(self, minimum: int = 0, maximum: int = 0xFFFF, *, absent_flag: str | None = None) -> None:
        super().__init__(Nested(Extension), 2, minimum, maximum, absent_flag=absent_flag)

    def read(self, reader: Reader) -> tuple[Any, ...]:
        """The extensions block, in wire order (duplicates refused as s2n refuses them)."""
        return _read_extension_block(reader, self.minimum, self.maximum)

    def write(self, value: tuple[Any, ...], out: bytearray) -> None:
        """Append the extensions behind the block's length prefix, each as ``Extension.write`` would."""
        body = bytearray()
        for extension in value:
            # Type and length packed at once (a ClientHello has a dozen extensions); what cannot be
            # framed goes the generic way, which raises the codec's InternalError for it.
            plain = type(extension) is Extension
            if plain and 0 <= extension.extension_type <= 0xFFFF and len(extension.data) <= 0xFFFF:
                body += _EXTENSION_HEADER.pack(extension.extension_type, len(extension.data))
                body += extension.data
            else:
                extension.write(body)
        write_length_prefix(len(body), 2, out)
        out += body


def decode_extensions(
    source: Reader | bytes | memoryview,
    *,
    allow_empty: bool = True,
    minimum: int = 0,
    maximum: int = 0xFFFF,
) -> tuple[Extension, ...]:
    """Decode a u16-length-prefixed extensions block, in wire order.

    From a ``Reader`` it reads the block and leaves what follows; from bytes the
    bytes must be exactly the block. The block's byte length must lie within
    [``minimum``, ``maximum``] (and be nonzero unless ``allow_empty``), else
    ``DecodeError``; a repeated extension type raises ``IllegalParameterError``.

    >>> decode_extensions(bytes.fromhex("0006002b00020304"))
    (Extension(extension_type=43, data=b'\\x03\\x04'),)
    """
    if not allow_empty:
        minimum = max(minimum, 1)
    if isinstance(source, Reader):
        return _read_extension_block(source, minimum, maximum)
    reader = Reader(source)
    extensions = _read_extension_block(reader, minimum, maximum)
    reader.expect_end()
    return extensions


def encode_extensions(extensions: tuple[Extension, ...]) -> bytes:
    """Encode ``extensions`` as a u16-length-prefixed block, in the given order (no checks on duplicates)."""
    out = bytearray()
    ExtensionList().write(extensions, out)
    return bytes(out)


def find_extension(extensions: tuple[Extension, ...], extension_type: int) -> Extension | None:
    """The extension of ``extension_type`` in ``extensions``, or None."""
    for extension in extensions:
        if extension.extension_type == extension_type:
            return extension
    return None


@dataclass(frozen=True, slots=True)
class Empty(Struct):
    """An extension whose data must be empty (early_data in ClientHello/EncryptedExtensions, post_handshake_auth)."""


@dataclass(frozen=True, slots=True)
class ServerName(Struct):
    """RFC 6066: ``struct { NameType name_type; HostName name; }`` (every type read as ``HostName``)."""

    name_type: Uint8
    name: Annotated[bytes, Opaque(2, 1)]


@dataclass(frozen=True, slots=True)
class ServerNameList(Struct):
    """RFC 6066 server_name in the ClientHello: ``ServerName server_name_list<1..2^16-1>``."""

    server_name_list: Annotated[tuple[ServerName, ...], Vector(Nested(ServerName), 2, 1)]

    @classmethod
    def for_host(cls, host_name: bytes) -> ServerNameList:
        """A list holding one host_name."""
        return cls((ServerName(int(NameType.HOST_NAME), host_name),))

    @property
    def host_name(self) -> bytes | None:
        """The first host_name entry, or None."""
        for server_name in self.server_name_list:
            if server_name.name_type == NameType.HOST_NAME:
                return server_name.name
        return None


@dataclass(frozen=True, slots=True)
class SupportedGroups(Struct):
    """RFC 8446 4.2.7: ``NamedGroup named_group_list<2..2^16-1>``."""

    named_group_list: Annotated[tuple[int, ...], Vector(U16, 2, 2)]


@dataclass(frozen=True, slots=True)
class SignatureSchemeList(Struct):
    """RFC 8446 4.2.3 (signature_algorithms and signature_algorithms_cert): ``<2..2^16-2>``."""

    supported_signature_algorithms: Annotated[tuple[int, ...], Vector(U16, 2, 2, 0xFFFE)]


@dataclass(frozen=True, slots=True)
class SupportedVersionsClient(Struct):
    """RFC 8446 4.2.1 in the ClientHello: ``ProtocolVersion versions<2..254>``."""

    versions: Annotated[tuple[int, ...], Vector(U16, 1, 2, 254)]


@dataclass(frozen=True, slots=True)
class SupportedVersionsServer(Struct):
    """RFC 8446 4.2.1 in the ServerHello and HelloRetryRequest: ``ProtocolVersion selected_version``."""

    selected_version: Uint16


@dataclass(frozen=True, slots=True)
class KeyShareEntry(Struct):
    """RFC 8446 4.2.8: ``struct { NamedGroup group; opaque key_exchange<1..2^16-1>; }``."""

    group: Uint16
    key_exchange: Annotated[bytes, Opaque(2, 1)]


@dataclass(frozen=True, slots=True)
class KeyShareClientHello(Struct):
    """RFC 8446 4.2.8: ``KeyShareEntry client_shares<0..2^16-1>`` (empty asks for a HelloRetryRequest)."""

    client_shares: Annotated[tuple[KeyShareEntry, ...], Vector(Nested(KeyShareEntry), 2)]


@dataclass(frozen=True, slots=True)
class KeyShareServerHello(Struct):
    """RFC 8446 4.2.8: ``KeyShareEntry server_share``."""

    server_share: Annotated[KeyShareEntry, Nested(KeyShareEntry)]


@dataclass(frozen=True, slots=True)
class KeyShareHelloRetryRequest(Struct):
    """RFC 8446 4.2.8: ``NamedGroup selected_group``."""

    selected_group: Uint16


@dataclass(frozen=True, slots=True)
class Cookie(Struct):
    """RFC 8446 4.2.2: ``opaque cookie<1..2^16-1>``."""

    cookie: Annotated[bytes, Opaque(2, 1)]


@dataclass(frozen=True, slots=True)
class ProtocolNameList(Struct):
    """RFC 7301 ALPN: ``ProtocolName protocol_name_list<2..2^16-1>``, each ``opaque <1..2^8-1>``."""

    protocol_name_list: Annotated[tuple[bytes, ...], Vector(Opaque(1, 1), 2, 2)]


@dataclass(frozen=True, slots=True)
class PskKeyExchangeModes(Struct):
    """RFC 8446 4.2.9: ``PskKeyExchangeMode ke_modes<1..255>``."""

    ke_modes: Annotated[tuple[int, ...], Vector(U8, 1, 1)]


@dataclass(frozen=True, slots=True)
class EcPointFormats(Struct):
    """RFC 8422 5.1.2: ``ECPointFormat ec_point_format_list<1..2^8-1>``."""

    ec_point_format_list: Annotated[tuple[int, ...], Vector(U8, 1, 1)]


@dataclass(frozen=True, slots=True)
class RenegotiationInfo(Struct):
    """RFC 5746 3.2: ``opaque renegotiated_connection<0..255>``."""

    renegotiated_connection: Annotated[bytes, Opaque(1)]


@dataclass(frozen=True, slots=True)
class PskIdentity(Struct):
    """RFC 8446 4.2.11: ``struct { opaque identity<1..2^16-1>; uint32 obfuscated_ticket_age; }``."""

    identity: Annotated[bytes, Opaque(2, 1)]
    obfuscated_ticket_age: Uint32


@dataclass(frozen=True, slots=True)
class OfferedPsks(Struct):
    """RFC 8446 4.2.11 pre_shared_key in the ClientHello: identities<7..2^16-1>, binders<33..2^16-1>."""

    identities: Annotated[tuple[PskIdentity, ...], Vector(Nested(PskIdentity), 2, 7)]
    binders: Annotated[tuple[bytes, ...], Vector(Opaque(1, 32), 2, 33)]


@dataclass(frozen=True, slots=True)
class PreSharedKeyServerHello(Struct):
    """RFC 8446 4.2.11 pre_shared_key in the ServerHello: ``uint16 selected_identity``."""

    selected_identity: Uint16


@dataclass(frozen=True, slots=True)
class EarlyDataNewSessionTicket(Struct):
    """RFC 8446 4.2.10 early_data in the NewSessionTicket: ``uint32 max_early_data_size``."""

    max_early_data_size: Uint32


@dataclass(frozen=True, slots=True)
class CertificateAuthorities(Struct):
    """RFC 8446 4.2.4: ``DistinguishedName authorities<3..2^16-1>``, each ``opaque <1..2^16-1>``."""

    authorities: Annotated[tuple[bytes, ...], Vector(Opaque(2, 1), 2, 3)]
