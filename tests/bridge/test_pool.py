"""``RestorePool``: restored connections are wiped and reused per (config, mode, seed), and the pool stays bounded."""

from __future__ import annotations

import pytest

from s2n_bridge import Connection, Mode, S2NUsageError
from s2n_bridge.pool import RestorePool
from tests.bridge.test_serialize import configs, handshaken


def test_a_released_connection_is_reused_for_the_same_key_and_talks_as_restored() -> None:
    with configs() as both, handshaken(both) as pair:
        blob = pair.server.serialize()
        pool = RestorePool()
        with pool.restored(both.server, Mode.SERVER, blob, seed=1) as first:
            pass
        with pool.restored(both.server, Mode.SERVER, blob, seed=1) as again:
            assert again is first
            again.send(b"after the restore")
            assert again.take_outgoing()[:1] == b"\x17"  # a protected application-data record
        with pool.restored(both.server, Mode.SERVER, blob, seed=2) as other_seed:
            assert other_seed is not first


def test_the_least_recently_used_keys_are_freed_beyond_max_keys() -> None:
    with configs() as both, handshaken(both) as pair:
        blob = pair.server.serialize()
        pool = RestorePool(max_keys=3)
        kept: list[Connection] = []
        for seed in range(10):  # a fuzz run meets a new seed on most inputs
            with pool.restored(both.server, Mode.SERVER, blob, seed=seed) as connection:
                kept.append(connection)
        assert pool.idle == 3
        with pytest.raises(S2NUsageError, match="connection is closed"):
            kept[0].send(b"x")  # freed with its key, not left for the garbage collector
        with pool.restored(both.server, Mode.SERVER, blob, seed=9) as latest:
            assert latest is kept[9]


def test_a_connection_whose_block_raises_is_freed_not_kept() -> None:
    with configs() as both, handshaken(both) as pair:
        blob = pair.server.serialize()
        pool = RestorePool()
        with pytest.raises(RuntimeError), pool.restored(both.server, Mode.SERVER, blob, seed=1) as connection:
            raise RuntimeError("the target failed")
        assert pool.idle == 0
        with pytest.raises(S2NUsageError, match="connection is closed"):
            connection.send(b"x")
