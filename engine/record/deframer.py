"""Cut an incoming byte stream into records (RFC 8446 section 5.1).

Records may arrive coalesced or fragmented; ``Deframer.feed`` accepts any split and
``next_record`` yields whole records. Checks that need only the 5-byte header happen
here, before the body arrives, as s2n makes them (tls/s2n_recv.c ``s2n_read_full_record``);
the caller decides what each content type means in its state.

s2n's framing (``Compat.s2n_record_framing``): a first byte with the high bit set is an
SSLv2 record header (``S2N_TLS_SSLV2_HEADER_FLAG``, tls/s2n_recv.c:121), whose 15-bit
length counts from the third byte; a record of unknown type is read whole until the
protocol version is established, then refused on its header. The RFC's framing refuses
an unknown type on its header at any time.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from engine.errors import RecordOverflowError, UnexpectedMessageError
from engine.record.protection import MAX_CIPHERTEXT

__all__ = ["Deframer", "RawRecord"]

_HEADER = 5
_HEADER_FIELDS = struct.Struct(">BHH")  # content type, legacy_record_version, length
_KNOWN_TYPES = frozenset({20, 21, 22, 23})
_SSLV2_FLAG = 0x80
# The record version s2n requires once the version is established: min(TLS 1.3, TLS 1.2).
_ESTABLISHED_RECORD_VERSION = 0x0303


class RawRecord(NamedTuple):
    """One record as received: header fields and body, not yet decrypted.

    For an SSLv2 record (``sslv2``), ``content_type`` is its msg_type (the third byte),
    ``legacy_version`` the two bytes after it, and ``body`` what follows them. ``body`` is a
    read-only view of the bytes fed, not a copy (``bytes(record.body)`` to keep one).
    A named tuple rather than a frozen dataclass: one is made per record, and it is built
    in a third of the time.
    """

    content_type: int
    legacy_version: int
    header: bytes
    body: memoryview
    sslv2: bool = False


class Deframer:
    """Accumulates bytes and yields whole records.

    The records of one ``feed`` are read in place (their bodies are views of the bytes fed).
    Only a record split between feeds is copied: its start into a buffer, then, from the next
    feeds, just the bytes that complete it, so a peer trickling bytes costs amortized linear
    time and the records after it are again read in place.
    """

    def __init__(
        self, max_body: int = MAX_CIPHERTEXT, *, s2n_framing: bool = False, check_version: bool = False
    ) -> None:
        # Unread input: first ``_buffer`` (bytes kept from earlier feeds), then ``_data`` from ``_offset``
        # on (the last feed, read in place). ``_data`` has unread bytes only while the buffer is empty
        # or holds exactly one record.
        self._buffer = bytearray()
        self._data = b""
        self._offset = 0
        self._max_body = max_body
        self._s2n_framing = s2n_framing
        self._check_version = check_version
        # s2n's conn->actual_protocol_version_established: the connection sets it once the
        # ServerHello is read (client) or written (server).
        self._version_established = False
        # How many bytes the record at the buffer's head still lacks, once ``next_record`` has checked
        # what of it is there (0: not known). Until then a feed only appends, and no header is parsed
        # again: a peer trickling a record byte by byte costs a copy per piece. What the check depends
        # on (the header's bytes, the framing, ``version_established``) cannot change meanwhile: the
        # header is whole, or still short of what is missing.
        self._missing = 0

    @property
    def version_established(self) -> bool:
        """Whether record headers are checked as s2n checks them once the version is known."""
        return self._version_established

    @version_established.setter
    def version_established(self, value: bool) -> None:
        # s2n parses the header again on every read (tls/s2n_recv.c s2n_read_full_record), with the state
        # it has then: a header checked before this change is checked again.
        self._version_established = value
        self._missing = 0

    @property
    def pending(self) -> int:
        """Bytes received that do not yet form a whole record."""
        return len(self._buffer) + len(self._data) - self._offset

    def feed(self, data: bytes | bytearray | memoryview) -> bool:
        """Add bytes from the peer (a mutable buffer is copied: it may change once this returns).

        False when they only extend a record known to be incomplete still: ``next_record``
        would give None (the path of a peer that trickles bytes, which needs no more work).
        """
        data = bytes(data)  # a private immutable copy, unless it already is one: views of it stay valid
        if len(data) < self._missing:  # the record at the buffer's head stays incomplete
            self._buffer += data
            self._missing -= len(data)
            return False
        self._missing = 0
        if not self.pending:
            self._data, self._offset = data, 0
            return True
        self._buffer += memoryview(self._data)[self._offset :]
        # Only the record waiting in the buffer is completed there; the records after it are read in place.
        cut = self._bytes_for_buffer(data)
        self._buffer += memoryview(data)[:cut]
        self._data, self._offset = data, cut
        return True

    def _bytes_for_buffer(self, data: bytes) -> int:
        """How many of ``data``'s bytes complete the buffered record (all, if the buffer holds more than one)."""
        header = bytes(self._buffer[:_HEADER]) + data[: max(_HEADER - len(self._buffer), 0)]
        if len(header) < _HEADER:
            return len(data)
        if self._s2n_framing and header[0] & _SSLV2_FLAG:
            size = 2 + (int.from_bytes(header[:2], "big") ^ (_SSLV2_FLAG << 8))  # its length counts from byte 3
        else:
            size = _HEADER + int.from_bytes(header[3:5], "big")
        size = max(size, _HEADER)  # a header too short for its own fields is refused by next_record
        if len(self._buffer) > size:
            return len(data)
        return min(size - len(self._buffer), len(data))

    def next_record(self) -> RawRecord | None:
        """The next whole record, or None until more bytes arrive."""
        if self._missing:
            return None
        if self._buffer:
            record = self._next_from(self._buffer, 0)
            if isinstance(record, int):
                self._missing = record  # the bytes fed are all in the buffer (see ``feed``)
                return None
            del self._buffer[: _HEADER + len(record.body)]
            return record
        record = self._next_from(self._data, self._offset)
        if isinstance(record, int):
            # Keep the incomplete rest, so that the fed bytes are not held (or viewed) past this call.
            self._buffer += memoryview(self._data)[self._offset :]
            self._data, self._offset = b"", 0
            self._missing = record
            return None
        self._offset += _HEADER + len(record.body)
        return record

    def _next_from(self, source: bytes | bytearray, start: int) -> RawRecord | int:
        """The record at ``source[start:]``, checked on its header, or how many bytes it still lacks."""
        if len(source) - start < _HEADER:
            return start + _HEADER - len(source)
        content_type, version, length = _HEADER_FIELDS.unpack_from(source, start)
        if self._s2n_framing and content_type & _SSLV2_FLAG:
            return self._sslv2_record(source, start)
        self._check_header(content_type, version)
        if length > self._max_body:
            raise RecordOverflowError(f"record of {length} bytes")
        parts = _take(source, start, length)
        return parts if isinstance(parts, int) else RawRecord(content_type, version, *parts)

    def _check_header(self, content_type: int, version: int) -> None:
        """tls/s2n_record_read.c:111-157 ``s2n_record_header_parse``: type, then version, on the header alone."""
        strict = self.version_established or not self._s2n_framing
        if strict and content_type not in _KNOWN_TYPES:
            raise UnexpectedMessageError(f"unknown record type {content_type}")
        # Compat.record_version_check: s2n refuses any other record version once the version is established
        # (tls/s2n_record_read.c:155, S2N_MIN(actual_protocol_version, S2N_TLS12) != version).
        # = https://www.rfc-editor.org/rfc/rfc8446#section-5.1
        # = type=exception
        ## legacy_record_version:  MUST be set to 0x0303 for all records generated by a TLS 1.3 implementation other
        ## than an initial ClientHello (i.e., one not generated after a HelloRetryRequest), where it MAY also be 0x0301
        ## for compatibility purposes.  This field is deprecated and MUST be ignored for all purposes.
        if self._check_version and self.version_established and version != _ESTABLISHED_RECORD_VERSION:
            raise UnexpectedMessageError(f"record version {version:#06x} once the version is established")

    def _sslv2_record(self, source: bytes | bytearray, start: int) -> RawRecord | int:
        """tls/s2n_record_read.c ``s2n_sslv2_record_header_parse``: 3 of its bytes are in the 5-byte header."""
        length = int.from_bytes(source[start : start + 2], "big") ^ (_SSLV2_FLAG << 8)
        if length < _HEADER - 2:
            raise UnexpectedMessageError(f"SSLv2 record of {length} bytes")
        parts = _take(source, start, length - (_HEADER - 2))
        if isinstance(parts, int):
            return parts
        header, body = parts
        return RawRecord(header[2], int.from_bytes(header[3:5], "big"), header, body, True)


def _take(source: bytes | bytearray, start: int, length: int) -> tuple[bytes, memoryview] | int:
    """(header, body) of the record at ``start`` with a ``length``-byte body, or how many bytes it still lacks."""
    end = start + _HEADER + length
    if len(source) < end:
        return end - len(source)
    header = bytes(source[start : start + _HEADER])
    if isinstance(source, bytes):
        return header, memoryview(source)[start + _HEADER : end]  # immutable: a view is safe to hand up
    return header, memoryview(bytes(source[start + _HEADER : end]))  # the buffer is about to shrink
