"""``RestorePool``: restored connections wiped and kept for the next restore, as a fuzz target wants them.

A fuzz target restores one established connection per input. ``s2n_connection_wipe`` is the
reset ``s2n_connection_new`` itself ends with (tls/s2n_connection.c:111-117), so a wiped
connection is a new one, got for less than freeing one and making another.

>>> pool = RestorePool()  # doctest: +SKIP
>>> with pool.restored(config, Mode.SERVER, blob, seed=0) as server:  # doctest: +SKIP
...     server.feed(records)
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from s2n_bridge.config import Config
from s2n_bridge.connection import Connection, Mode

__all__ = ["RestorePool"]


_Key = tuple[Config, Mode, "int | None"]


class RestorePool:
    """Idle wiped in-memory connections: a few per (config, mode, seed), for the most recent keys; the rest are freed.

    A fuzz run meets thousands of seeds and configs, most of them once: kept for every key, idle
    connections were most of a long run's memory. ``max_keys`` bounds them: the least recently
    used key's connections are freed when another key would be one too many.
    """

    def __init__(self, max_idle: int = 2, max_keys: int = 64) -> None:
        self._max_idle = max_idle
        self._max_keys = max_keys
        # Keyed by the config itself, not its id: a key keeps its config alive, so no later config takes its place.
        self._idle: OrderedDict[_Key, list[Connection]] = OrderedDict()

    @property
    def idle(self) -> int:
        """How many wiped connections the pool holds."""
        return sum(map(len, self._idle.values()))

    @contextmanager
    def restored(self, config: Config, mode: Mode, blob: bytes, *, seed: int | None = None) -> Iterator[Connection]:
        """``Connection.deserialize(config, mode, blob, seed=seed)``, on an idle connection when there is one.

        When the block ends the connection is wiped (its secrets erased) and kept; if the block
        raises, it is freed. Idle connections live as long as the pool: ``config`` must not be
        closed while the pool may hand one of its connections out.
        """
        key = (config, mode, seed)
        idle = self._idle.get(key)
        connection = idle.pop() if idle else Connection(config, mode, seed=seed)
        try:
            connection.restore(blob)
            yield connection
            connection.wipe()
        except BaseException:
            connection.close()
            raise
        self._keep(key, connection)

    def _keep(self, key: _Key, connection: Connection) -> None:
        idle = self._idle.setdefault(key, [])
        self._idle.move_to_end(key)
        if len(idle) >= self._max_idle:
            connection.close()
            return
        idle.append(connection)
        while len(self._idle) > self._max_keys:
            for evicted in self._idle.popitem(last=False)[1]:
                evicted.close()
