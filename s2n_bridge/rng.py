"""Seeded randomness for s2n-tls connections: C-side streams and the draw log.

A ``BridgeStream`` is the stream of ``engine.randomness`` for ``(seed, label)``,
kept in C so that libcrypto's draws can be served from it while s2n runs. The
bridge selects a connection's stream before each call into s2n for it, and the
``outside`` stream around calls that belong to no connection (configs,
certificate loading). With nothing selected, draws come from the OS.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from typing import Any

from engine.randomness import Draw, DrawKind, StreamLabel, stream_key
from s2n_bridge._native import native

__all__ = ["BridgeStream", "DrawLog", "outside_stream", "reset_outside_stream", "selecting"]

_next_id = itertools.count(1)
# Stream id -> live stream; weak, so long fuzz runs don't accumulate streams. An open DrawLog
# keeps the names of the streams it may see, for as long as it is open.
_streams: weakref.WeakValueDictionary[int, BridgeStream] = weakref.WeakValueDictionary()
_open_logs: list[dict[int, str]] = []
_outside_lock = threading.Lock()
_outside: BridgeStream | None = None


class BridgeStream:
    """One seeded stream in C memory, owned by this object (and freed with it)."""

    def __init__(self, seed: int, label: StreamLabel, name: str | None = None) -> None:
        ffi, lib = native()
        self._lib = lib
        self.id = next(_next_id)
        self.name = name or f"{label.value.decode()}#{self.id}"
        _streams[self.id] = self
        for names in _open_logs:
            names[self.id] = self.name
        self.memory = ffi.new("uint8_t[]", lib.tlsdiff_stream_size())
        self._key = stream_key(seed, label)
        lib.tlsdiff_stream_setup(self.memory, self._key, self.id)
        self._ffi = ffi

    def restart(self) -> None:
        """Back to the stream's first byte, as a new stream of the same seed and label would be."""
        self._lib.tlsdiff_stream_setup(self.memory, self._key, self.id)

    @property
    def drawn(self) -> int:
        """How many bytes have been drawn from this stream so far."""
        return int(self._lib.tlsdiff_stream_drawn(self.memory))

    def draw(self, size: int, kind: DrawKind = DrawKind.BYTES) -> bytes:
        """Take the next ``size`` bytes (for the bridge's own draws, e.g. an RSA-PSS salt)."""
        out = self._ffi.new("uint8_t[]", size)
        self._lib.tlsdiff_stream_draw(self.memory, out, size)
        return bytes(self._ffi.buffer(out, size))


def outside_stream() -> BridgeStream:
    """The stream for draws outside any connection (seed 0 until ``reset_outside_stream``)."""
    global _outside  # noqa: PLW0603  (one process-wide stream, like libcrypto's RAND)
    with _outside_lock:
        if _outside is None:
            _outside = BridgeStream(0, StreamLabel.OUTSIDE, "outside")
        return _outside


def reset_outside_stream(seed: int) -> None:
    """Restart the outside stream from ``seed`` (it does not change any connection's bytes)."""
    global _outside  # noqa: PLW0603
    with _outside_lock:
        _outside = BridgeStream(seed, StreamLabel.OUTSIDE, "outside")


def selecting(stream: BridgeStream | None) -> Any:
    """Select ``stream`` for this thread; return the previous selection (to restore)."""
    ffi, lib = native()
    return lib.tlsdiff_select(stream.memory if stream is not None else ffi.NULL)


class DrawLog:
    """The debug log of every libcrypto draw: stream name, size and kind.

    >>> with DrawLog() as log:  # doctest: +SKIP
    ...     run_handshake()
    >>> log.draws[:2]  # doctest: +SKIP
    [Draw(stream='outside', size=64, ...), Draw(stream='client#3', size=32, ...)]
    """

    def __init__(self) -> None:
        self.draws: list[Draw] = []
        self.dropped = 0
        self._names: dict[int, str] = {-1: "os"}

    def __enter__(self) -> DrawLog:
        _, lib = native()
        self._names.update((stream_id, stream.name) for stream_id, stream in _streams.items())
        _open_logs.append(self._names)
        lib.tlsdiff_log_clear()
        lib.tlsdiff_log_enable(1)
        return self

    def __exit__(self, *exc_info: object) -> None:
        ffi, lib = native()
        lib.tlsdiff_log_enable(0)
        _open_logs.remove(self._names)
        capacity = 65536
        ids, sizes, kinds = (ffi.new(f"{t}[]", capacity) for t in ("int32_t", "uint32_t", "int32_t"))
        count = lib.tlsdiff_log_read(ids, sizes, kinds, capacity)
        self.draws = [Draw(self._names.get(ids[i], f"#{ids[i]}"), sizes[i], DrawKind(kinds[i])) for i in range(count)]
        self.dropped = int(lib.tlsdiff_log_dropped_count())
        lib.tlsdiff_log_clear()
