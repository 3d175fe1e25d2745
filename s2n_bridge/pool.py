"""``RestorePool``: restored connections wiped and kept for the next restore, as a fuzz target wants them.

A fuzz target restores one established connection per input. ``s2n_connection_wipe`` is the
reset ``s2n_connection_new`` itself ends with (tls/s2n_connection.c:111-117), so a wiped
connection is a new one, got for less than freeing one and making another.

>>> pool = RestorePool()  # doctest: +SKIP
>>> with pool.restored(config, Mode.SERVER, blob, seed=0) as server:  # doctest: +SKIP
...     server.feed(records)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from s2n_bridge.config import Config
from s2n_bridge.connection import Connection, Mode

__all__ = ["RestorePool"]


class RestorePool:
    """Idle wiped in-memory connections, a few per (config, mode, seed); the rest are freed."""

    def __init__(self, max_idle: int = 2) -> None:
        self._max_idle = max_idle
        self._idle: dict[tuple[int, Mode, int | None], list[Connection]] = {}

    @contextmanager
    def restored(self, config: Config, mode: Mode, blob: bytes, *, seed: int | None = None) -> Iterator[Connection]:
        """``Connection.deserialize(config, mode, blob, seed=seed)``, on an idle connection when there is one.

        When the block ends the connection is wiped (its secrets erased) and kept; if the block
        raises, it is freed. ``config`` must outlive the pool's use of it (it is keyed by identity).
        """
        idle = self._idle.setdefault((id(config), mode, seed), [])
        connection = idle.pop() if idle else Connection(config, mode, seed=seed)
        try:
            connection.restore(blob)
            yield connection
            connection.wipe()
        except BaseException:
            connection.close()
            raise
        if len(idle) < self._max_idle:
            idle.append(connection)
        else:
            connection.close()

    def close(self) -> None:
        """Free every idle connection."""
        for idle in self._idle.values():
            while idle:
                idle.pop().close()
