"""TLS record framing (RFC 8446 section 5): content types, the 5-byte header, alerts.

No length policy here: whether a record is too long is the record layer's decision
(s2n-tls accepts some over-long records; see the compatibility switches there).

>>> encode_record(ContentType.ALERT, Alert(2, 40).encode()).hex()
'15030300020228'
>>> RecordHeader.decode(bytes.fromhex("1503030002"))
RecordHeader(content_type=21, legacy_version=771, length=2)
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import InternalError
from engine.wire.codec import OpenIntEnum, Struct, Uint8, Uint16

__all__ = [
    "CHANGE_CIPHER_SPEC_PAYLOAD",
    "RECORD_HEADER_SIZE",
    "Alert",
    "AlertLevel",
    "ContentType",
    "RecordHeader",
    "encode_record",
]

RECORD_HEADER_SIZE = 5

CHANGE_CIPHER_SPEC_PAYLOAD = b"\x01"
"""The one-byte body of a compatibility-mode change_cipher_spec record (RFC 8446 5, D.4)."""


class ContentType(OpenIntEnum):
    """Record content types (RFC 8446 section 5.1)."""

    INVALID = 0
    CHANGE_CIPHER_SPEC = 20
    ALERT = 21
    HANDSHAKE = 22
    APPLICATION_DATA = 23


class AlertLevel(OpenIntEnum):
    """Alert levels (RFC 8446 section 6)."""

    WARNING = 1
    FATAL = 2


@dataclass(frozen=True, slots=True)
class RecordHeader(Struct):
    """``TLSPlaintext`` header: ``ContentType type; ProtocolVersion legacy_record_version; uint16 length``.

    ``RecordHeader.decode`` takes exactly ``RECORD_HEADER_SIZE`` bytes;
    ``RecordHeader.read(reader)`` reads one from a longer buffer.
    """

    content_type: Uint8
    legacy_version: Uint16
    length: Uint16


@dataclass(frozen=True, slots=True)
class Alert(Struct):
    """An alert body: ``AlertLevel level; AlertDescription description``, exactly 2 bytes.

    Any other size raises ``DecodeError`` on decode.
    """

    level: Uint8
    description: Uint8


def encode_record(content_type: int, payload: bytes, legacy_version: int = 0x0303) -> bytes:
    """A record: 5-byte header then ``payload`` (any size a u16 length can frame)."""
    if len(payload) > 0xFFFF:
        raise InternalError(f"record payload of {len(payload)} bytes does not fit a u16 length")
    if not 0 <= content_type <= 0xFF or not 0 <= legacy_version <= 0xFFFF:
        raise InternalError(f"record type {content_type} or version {legacy_version} out of range")
    return bytes((content_type,)) + legacy_version.to_bytes(2, "big") + len(payload).to_bytes(2, "big") + payload
