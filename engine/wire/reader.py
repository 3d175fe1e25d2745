"""A bounded reader over a memoryview: the only way the engine parses bytes.

Every read checks the bytes are there; a shortfall, an over-long vector or a
leftover byte raises ``DecodeError`` (alert decode_error), never IndexError.
"""

from __future__ import annotations

from engine.errors import DecodeError

__all__ = ["Reader"]


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
        length = self.uint(length_size)
        if length < minimum or (maximum is not None and length > maximum):
            raise DecodeError(f"vector length {length} outside [{minimum}, {maximum}]")
        return self.bytes(length)

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
