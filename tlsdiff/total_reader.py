"""The reader of fuzzer inputs' binary forms: total, so that every byte string decodes.

The engine's ``Reader`` refuses a short read (peer input must be complete); a fuzzer input
is any byte string, so here every read past the end is cut short (data) or filled with zero
bytes (numbers), and decoding never fails.

>>> reader = TotalReader(b"\\x01\\x02\\x03")
>>> reader.uint(2), reader.data(5), reader.uint(2), reader.done
(258, b'\\x03', 0, True)
"""

from __future__ import annotations

from engine.wire.reader import Reader

__all__ = ["TotalReader"]


class TotalReader:
    """Big-endian numbers and byte strings from an input; past its end, zeros and nothing."""

    __slots__ = ("_reader",)

    def __init__(self, data: bytes) -> None:
        self._reader = Reader(data)

    @property
    def done(self) -> bool:
        """Whether every byte has been read."""
        return self._reader.remaining == 0

    def uint(self, size: int) -> int:
        """A ``size``-byte number; the bytes past the end read as zero."""
        reader = self._reader
        # Whole in all but an input's last bytes: the hot path of every decode.
        if reader.remaining >= size:
            return reader.uint(size)
        return int.from_bytes(self.data(size).ljust(size, b"\x00"), "big")

    def data(self, size: int) -> bytes:
        """The next ``size`` bytes, or as many as are left."""
        reader = self._reader
        return bytes(reader.bytes(min(size, reader.remaining)))
