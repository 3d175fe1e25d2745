"""Cut an incoming byte stream into records (RFC 8446 section 5.1).

Records may arrive coalesced or fragmented; ``Deframer.feed`` accepts any split and
``next_record`` yields whole records. Length checks that do not need keys happen
here; the caller decides what each content type means in its state.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import RecordOverflowError
from engine.record.protection import MAX_CIPHERTEXT

__all__ = ["Deframer", "RawRecord"]

_HEADER = 5


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as received: header fields and body, not yet decrypted."""

    content_type: int
    legacy_version: int
    header: bytes
    body: bytes


class Deframer:
    """Accumulates bytes and yields whole records."""

    def __init__(self, max_body: int = MAX_CIPHERTEXT) -> None:
        self._buffer = bytearray()
        self._max_body = max_body

    @property
    def pending(self) -> int:
        """Bytes received that do not yet form a whole record."""
        return len(self._buffer)

    def feed(self, data: bytes) -> None:
        """Add bytes from the peer."""
        self._buffer += data

    def next_record(self) -> RawRecord | None:
        """The next whole record, or None until more bytes arrive."""
        if len(self._buffer) < _HEADER:
            return None
        length = int.from_bytes(self._buffer[3:5], "big")
        if length > self._max_body:
            raise RecordOverflowError(f"record of {length} bytes")
        if len(self._buffer) < _HEADER + length:
            return None
        header = bytes(self._buffer[:_HEADER])
        body = bytes(self._buffer[_HEADER : _HEADER + length])
        del self._buffer[: _HEADER + length]
        return RawRecord(header[0], int.from_bytes(header[1:3], "big"), header, body)
