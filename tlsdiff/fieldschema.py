"""Which structure each handshake message and extension body has, for the lenient field tree.

The field tree (``tlsdiff.fieldtree``) reads messages through the engine's own declarative
structures (``engine.wire.handshake``, ``engine.wire.extensions``): their ``Form``
annotations say how every field is laid out, so the tree and the engine cannot drift apart.
This module adds the few extension bodies the engine does not decode (it never needs
them), declared the same way, and the table of which body an extension has in which
message: the same code point means different things in different messages (key_share is
a list in the ClientHello, one entry in the ServerHello, a group in a HelloRetryRequest).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from engine.wire.codec import Opaque, Rest, Struct, Uint8, Uint16, Vector
from engine.wire.extensions import (
    CertificateAuthorities,
    Cookie,
    EarlyDataNewSessionTicket,
    EcPointFormats,
    Empty,
    ExtensionType,
    KeyShareClientHello,
    KeyShareHelloRetryRequest,
    KeyShareServerHello,
    OfferedPsks,
    PreSharedKeyServerHello,
    ProtocolNameList,
    PskKeyExchangeModes,
    RenegotiationInfo,
    ServerNameList,
    SignatureSchemeList,
    SupportedGroups,
    SupportedVersionsClient,
    SupportedVersionsServer,
)
from engine.wire.handshake import (
    Certificate,
    CertificateRequest,
    CertificateVerify,
    ClientHello,
    EncryptedExtensions,
    EndOfEarlyData,
    Finished,
    HandshakeType,
    KeyUpdate,
    NewSessionTicket,
    ServerHello,
)

__all__ = [
    "CERTIFICATE",
    "CERTIFICATE_REQUEST",
    "CLIENT_HELLO",
    "ENCRYPTED_EXTENSIONS",
    "EXTENSION_BODIES",
    "FIELD_NAMES",
    "HELLO_RETRY_REQUEST",
    "MESSAGE_STRUCTS",
    "NEW_SESSION_TICKET",
    "SERVER_HELLO",
    "CertificateStatus",
    "CertificateStatusRequest",
    "MaxFragmentLength",
    "Padding",
    "RecordSizeLimit",
    "extension_label",
]

# Message contexts, named as the messages are (RFC 8446 4.2 lists where each extension may appear).
CLIENT_HELLO = "ClientHello"
SERVER_HELLO = "ServerHello"
HELLO_RETRY_REQUEST = "HelloRetryRequest"
ENCRYPTED_EXTENSIONS = "EncryptedExtensions"
CERTIFICATE = "Certificate"
CERTIFICATE_REQUEST = "CertificateRequest"
NEW_SESSION_TICKET = "NewSessionTicket"


@dataclass(frozen=True, slots=True)
class MaxFragmentLength(Struct):
    """RFC 6066 4: ``enum { 2^9(1), 2^10(2), 2^11(3), 2^12(4), (255) } MaxFragmentLength``."""

    max_fragment_length: Uint8


@dataclass(frozen=True, slots=True)
class RecordSizeLimit(Struct):
    """RFC 8449 4: ``uint16 RecordSizeLimit``."""

    record_size_limit: Uint16


@dataclass(frozen=True, slots=True)
class Padding(Struct):
    """RFC 7685 3: the extension data is any number of zero bytes."""

    zeros: Annotated[bytes, Rest()]


@dataclass(frozen=True, slots=True)
class CertificateStatusRequest(Struct):
    """RFC 6066 8 status_request in the ClientHello: status_type, then an ``OCSPStatusRequest``."""

    status_type: Uint8
    responder_id_list: Annotated[tuple[bytes, ...], Vector(Opaque(2, 1), 2)]
    request_extensions: Annotated[bytes, Opaque(2)]


@dataclass(frozen=True, slots=True)
class CertificateStatus(Struct):
    """RFC 8446 4.4.2.1 status_request in a CertificateEntry: ``status_type; opaque response<1..2^24-1>``."""

    status_type: Uint8
    response: Annotated[bytes, Opaque(3, 1)]


MESSAGE_STRUCTS: dict[int, type[Struct]] = {
    HandshakeType.CLIENT_HELLO: ClientHello,
    HandshakeType.SERVER_HELLO: ServerHello,
    HandshakeType.NEW_SESSION_TICKET: NewSessionTicket,
    HandshakeType.END_OF_EARLY_DATA: EndOfEarlyData,
    HandshakeType.ENCRYPTED_EXTENSIONS: EncryptedExtensions,
    HandshakeType.CERTIFICATE: Certificate,
    HandshakeType.CERTIFICATE_REQUEST: CertificateRequest,
    HandshakeType.CERTIFICATE_VERIFY: CertificateVerify,
    HandshakeType.FINISHED: Finished,
    HandshakeType.KEY_UPDATE: KeyUpdate,
}
"""The engine structure of each handshake message type the tree knows."""

FIELD_NAMES = {"entries": "certificate_list"}
"""Engine field names that differ from the RFC's presentation language."""

_E = ExtensionType
_CLIENT_HELLO_BODIES: dict[int, type[Struct]] = {
    _E.SERVER_NAME: ServerNameList,
    _E.MAX_FRAGMENT_LENGTH: MaxFragmentLength,
    _E.STATUS_REQUEST: CertificateStatusRequest,
    _E.SUPPORTED_GROUPS: SupportedGroups,
    _E.EC_POINT_FORMATS: EcPointFormats,
    _E.SIGNATURE_ALGORITHMS: SignatureSchemeList,
    _E.APPLICATION_LAYER_PROTOCOL_NEGOTIATION: ProtocolNameList,
    _E.PADDING: Padding,
    _E.EXTENDED_MASTER_SECRET: Empty,
    _E.RECORD_SIZE_LIMIT: RecordSizeLimit,
    _E.PRE_SHARED_KEY: OfferedPsks,
    _E.EARLY_DATA: Empty,
    _E.SUPPORTED_VERSIONS: SupportedVersionsClient,
    _E.COOKIE: Cookie,
    _E.PSK_KEY_EXCHANGE_MODES: PskKeyExchangeModes,
    _E.CERTIFICATE_AUTHORITIES: CertificateAuthorities,
    _E.POST_HANDSHAKE_AUTH: Empty,
    _E.SIGNATURE_ALGORITHMS_CERT: SignatureSchemeList,
    _E.KEY_SHARE: KeyShareClientHello,
    _E.RENEGOTIATION_INFO: RenegotiationInfo,
}
# A ServerHello may also be a TLS 1.2 one: its acknowledgements are empty or tiny.
_SERVER_HELLO_BODIES: dict[int, type[Struct]] = {
    _E.SERVER_NAME: Empty,
    _E.MAX_FRAGMENT_LENGTH: MaxFragmentLength,
    _E.STATUS_REQUEST: Empty,
    _E.EC_POINT_FORMATS: EcPointFormats,
    _E.APPLICATION_LAYER_PROTOCOL_NEGOTIATION: ProtocolNameList,
    _E.EXTENDED_MASTER_SECRET: Empty,
    _E.PRE_SHARED_KEY: PreSharedKeyServerHello,
    _E.SUPPORTED_VERSIONS: SupportedVersionsServer,
    _E.KEY_SHARE: KeyShareServerHello,
    _E.RENEGOTIATION_INFO: RenegotiationInfo,
}
_HELLO_RETRY_REQUEST_BODIES: dict[int, type[Struct]] = {
    _E.SUPPORTED_VERSIONS: SupportedVersionsServer,
    _E.COOKIE: Cookie,
    _E.KEY_SHARE: KeyShareHelloRetryRequest,
}
_ENCRYPTED_EXTENSIONS_BODIES: dict[int, type[Struct]] = {
    _E.SERVER_NAME: Empty,
    _E.MAX_FRAGMENT_LENGTH: MaxFragmentLength,
    _E.SUPPORTED_GROUPS: SupportedGroups,
    _E.APPLICATION_LAYER_PROTOCOL_NEGOTIATION: ProtocolNameList,
    _E.RECORD_SIZE_LIMIT: RecordSizeLimit,
    _E.EARLY_DATA: Empty,
}
_CERTIFICATE_BODIES: dict[int, type[Struct]] = {_E.STATUS_REQUEST: CertificateStatus}
# RFC 8446 4.4.2.1: the server asks for OCSP with an empty status_request.
_CERTIFICATE_REQUEST_BODIES: dict[int, type[Struct]] = {
    _E.STATUS_REQUEST: Empty,
    _E.SIGNATURE_ALGORITHMS: SignatureSchemeList,
    _E.CERTIFICATE_AUTHORITIES: CertificateAuthorities,
    _E.SIGNATURE_ALGORITHMS_CERT: SignatureSchemeList,
}
_NEW_SESSION_TICKET_BODIES: dict[int, type[Struct]] = {_E.EARLY_DATA: EarlyDataNewSessionTicket}

EXTENSION_BODIES: dict[str, dict[int, type[Struct]]] = {
    CLIENT_HELLO: _CLIENT_HELLO_BODIES,
    SERVER_HELLO: _SERVER_HELLO_BODIES,
    HELLO_RETRY_REQUEST: _HELLO_RETRY_REQUEST_BODIES,
    ENCRYPTED_EXTENSIONS: _ENCRYPTED_EXTENSIONS_BODIES,
    CERTIFICATE: _CERTIFICATE_BODIES,
    CERTIFICATE_REQUEST: _CERTIFICATE_REQUEST_BODIES,
    NEW_SESSION_TICKET: _NEW_SESSION_TICKET_BODIES,
}
"""Per message context, the body structure of each extension code point; others stay opaque."""


def extension_label(extension_type: int) -> str:
    """The name used in a field path: the IANA name in lower case, else the code point in hex.

    >>> extension_label(51), extension_label(0x0A0A)
    ('key_share', '0x0a0a')
    """
    name = ExtensionType(extension_type).name
    if name.startswith("UNKNOWN_"):
        return f"{extension_type:#06x}"
    return name.lower()
