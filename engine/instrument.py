"""Hooks for the fuzzing harness: mutate handshake messages before they are sent, or take records before sealing.

Pass them as ``TLSConnection(..., instrumentation=Instrumentation(...))``; without one
(the default) the engine runs exactly as it does otherwise, at no cost.

- ``message_hook(msg_type, encoded) -> bytes`` sees every handshake message the
  connection sends (its 4-byte header included) before it enters the transcript and
  the record layer. What it returns is what is hashed and written, so later Finished
  MACs and CertificateVerify signatures cover the mutated bytes and the peer's deeper
  checks are reached (DESIGN.md, "two ways to mutate"). It may return any bytes: a
  different length, several messages, nothing. KeyUpdate goes through it too (it is in
  no transcript).
- ``defer_sealing``: records are not framed or encrypted when written. They wait as
  ``PlaintextRecord``s, each holding the ``RecordProtection`` in force when it was
  written (None for plaintext records and ChangeCipherSpec), until
  ``TLSConnection.take_plaintext_records()`` hands them out; the harness edits, splits,
  drops or reorders them and ``TLSConnection.seal_records(records)`` turns them into
  wire bytes. ``data_to_send()`` seals whatever is still pending unchanged, so a
  connection with the flag and no one intercepting writes the same bytes as without.

>>> record = PlaintextRecord(22, b"\\x01\\x00\\x00\\x00", 0x0301)
>>> seal_record(record).hex()
'160301000401000000'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.record.protection import RecordProtection

__all__ = ["Instrumentation", "MessageHook", "PlaintextRecord", "UnframeableRecordError", "seal_record"]

MessageHook = Callable[[int, bytes], bytes]
"""``(handshake message type, encoded message with its header) -> the bytes to send instead``."""


@dataclass(frozen=True)
class Instrumentation:
    """What the harness hooks into one connection."""

    message_hook: MessageHook | None = None
    defer_sealing: bool = False


@dataclass(frozen=True)
class PlaintextRecord:
    """One record before framing: its (inner) content type, content and, once keys are in use, its protection.

    For a protected record ``content_type`` is the TLSInnerPlaintext type and
    ``legacy_version`` the outer header's (0x0303 as written by the engine); ``padding``
    is the number of zero bytes after the inner type (RFC 8446 section 5.4). Any content
    length is sealed, empty or over 2^14, as long as the record's length field can hold it.
    """

    content_type: int
    content: bytes
    legacy_version: int = 0x0303
    protection: RecordProtection | None = None
    padding: int = 0


class UnframeableRecordError(ValueError):
    """A ``PlaintextRecord`` that no record header can carry (a field out of range, a body over 2^16-1 bytes)."""


_MAX_LENGTH = 0xFFFF


def seal_record(record: PlaintextRecord, padding: int | None = None) -> bytes:
    """The wire bytes of one record: framed, and encrypted with its protection if it has one.

    ``padding`` overrides the record's own. Sealing a protected record uses up the next
    sequence number of its protection, so records of one epoch must be sealed in order.
    """
    zeros = record.padding if padding is None else padding
    if not 0 <= record.content_type <= 0xFF or not 0 <= record.legacy_version <= 0xFFFF or zeros < 0:
        raise UnframeableRecordError(f"record type {record.content_type}, version {record.legacy_version}")
    protection = record.protection
    if protection is None:
        if len(record.content) > _MAX_LENGTH:
            raise UnframeableRecordError(f"plaintext record of {len(record.content)} bytes")
        header = bytes([record.content_type]) + record.legacy_version.to_bytes(2, "big")
        return header + len(record.content).to_bytes(2, "big") + record.content
    if len(record.content) + 1 + zeros + protection.suite.tag_len > _MAX_LENGTH:
        raise UnframeableRecordError(f"protected record of {len(record.content)} bytes and {zeros} padding")
    return protection.seal(record.content_type, record.content, zeros, legacy_version=record.legacy_version)
