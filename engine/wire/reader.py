"""A bounded reader over a memoryview: the only way the engine parses bytes.

Every read checks the bytes are there; a shortfall, an over-long vector or a
leftover byte raises ``DecodeError`` (alert decode_error), never IndexError.
"""

from __future__ import annotations

import struct

from engine.errors import DecodeError

__all__ = ["Reader"]

_TYPE_AND_LENGTH = struct.Struct(">HH")


class Reader:
    """Reads big-endian integers and length-prefixed vectors from a buffer.

    >>> reader = Reader(b"\\x00\\x02ab!")
    >>> bytes(reader.vector(2)), reader.remaining
    (b'ab', 1)
    """

    __slots__ = ("_data", "_end", "_offset")

    def __init__(self, data: bytes | memoryview) -> None:
        self._data = memoryview(data)
        self._offset = 0
        self._end = len(self._data)

    @property
    def remaining(self) -> int:
        """Bytes not yet read."""
        return self._end - self._offset

    def bytes(self, size: int) -> memoryview:
        """The next ``size`` bytes."""
        # The hottest call of every parse (and a fuzz target's): no property call, one bound check.
        start = self._offset
        end = start + size
        if size < 0 or end > self._end:
            raise DecodeError(f"need {size} bytes, {self._end - start} left")
        self._offset = end
        return self._data[start:end]

    def uint(self, size: int) -> int:
        """A big-endian unsigned integer of ``size`` bytes."""
        # Called for every number of every message: the bound check of ``bytes`` inline, and no slice
        # for the one-byte case.
        start = self._offset
        end = start + size
        if size < 0 or end > self._end:
            raise DecodeError(f"need {size} bytes, {self._end - start} left")
        self._offset = end
        return self._data[start] if size == 1 else int.from_bytes(self._data[start:end], "big")

    def vector(self, length_size: int, minimum: int = 0, maximum: int | None = None) -> memoryview:
        """An opaque vector with a ``length_size``-byte length prefix, within [minimum, maximum]."""
        # ``uint`` then ``bytes`` inline (the same checks, errors and position): every length-prefixed
        # field is read through here.
        start = self._offset
        body_start = start + length_size
        if length_size < 0 or body_start > self._end:
            raise DecodeError(f"need {length_size} bytes, {self._end - start} left")
        data = self._data
        length = data[start] if length_size == 1 else int.from_bytes(data[start:body_start], "big")
        self._offset = body_start
        if length < minimum or (maximum is not None and length > maximum):
            raise DecodeError(f"vector length {length} outside [{minimum}, {maximum}]")
        body_end = body_start + length
        if body_end > self._end:
            raise DecodeError(f"need {length} bytes, {self._end - body_start} left")
        self._offset = body_end
        return data[body_start:body_end]

    def type_and_body(self) -> tuple[int, memoryview]:
        """A uint16, then the bytes behind a 2-byte length: an extension's type and data, a key share's group and key.

        The same reads, errors and position as ``uint(2)`` then ``vector(2)``, in one call: every
        extension of every message is read through here.
        """
        start = self._offset
        end = self._end
        if start + 4 > end:
            # Short of the two numbers: fail where uint(2) or vector(2) would.
            if start + 2 > end:
                raise DecodeError(f"need 2 bytes, {end - start} left")
            self._offset = start + 2
            raise DecodeError(f"need 2 bytes, {end - start - 2} left")
        kind, length = _TYPE_AND_LENGTH.unpack_from(self._data, start)
        body_start = start + 4
        body_end = body_start + length
        if body_end > end:
            self._offset = body_start
            raise DecodeError(f"need {length} bytes, {end - body_start} left")
        self._offset = body_end
        return kind, self._data[body_start:body_end]

    def sub_reader(self, length_size: int, minimum: int = 0, maximum: int | None = None) -> Reader:
        """A reader over the next length-prefixed vector."""
        return Reader(self.vector(length_size, minimum, maximum))

    def rest(self) -> memoryview:
        """Everything not yet read."""
        return self.bytes(self.remaining)

    def expect_end(self) -> None:
        """Raise ``DecodeError`` if bytes are left (no trailing bytes anywhere)."""
        if self.remaining:
            raise DecodeError(f"{self.remaining} trailing bytes")
