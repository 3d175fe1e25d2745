"""Frozen object graphs (tlsdiff.freeze): each thaw is independent, with copy.deepcopy's sharing rules."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tlsdiff.freeze import Frozen
from tlsdiff.harness import Role, Setup, open_engine


class _Forked:
    """A class with its own __deepcopy__ (as the engine's transcript and random source have)."""

    def __init__(self) -> None:
        self.copies = 0
        self.values: list[int] = []

    def __deepcopy__(self, memo: dict[int, object]) -> _Forked:
        twin = _Forked()
        twin.copies = self.copies + 1
        twin.values = list(self.values)
        return twin


@dataclass
class _Node:
    items: list[int] = field(default_factory=list)
    forked: _Forked = field(default_factory=_Forked)
    aead: AESGCM = field(default_factory=lambda: AESGCM(bytes(16)))
    again: _Forked | None = None


def test_every_thaw_is_a_new_independent_copy() -> None:
    node = _Node([1, 2])
    frozen = Frozen.of(node)
    first, second = frozen.thaw(), frozen.thaw()
    first.items.append(3)
    assert second.items == [1, 2] and node.items == [1, 2]
    assert first is not node and first.items is not second.items


def test_later_changes_to_the_original_do_not_reach_the_frozen_graph() -> None:
    node = _Node([1])
    frozen = Frozen.of(node)
    node.items.append(9)
    node.forked.values.append(9)
    thawed = frozen.thaw()
    assert thawed.items == [1] and thawed.forked.values == []


def test_objects_with_their_own_deepcopy_go_through_it_once_per_thaw() -> None:
    node = _Node()
    node.again = node.forked  # reached twice: one copy per thaw
    thawed = Frozen.of(node).thaw()
    assert thawed.forked is thawed.again
    assert thawed.forked is not node.forked
    assert thawed.forked.copies == 2  # frozen once, thawed once


def test_cryptography_objects_are_shared_as_deepcopy_cannot_copy_them() -> None:
    node = _Node()
    thawed = Frozen.of(node).thaw()
    assert thawed.aead is node.aead


def test_a_thaw_equals_a_deepcopy_of_an_engine_connection() -> None:
    client = open_engine(Setup(Role.CLIENT, "default_tls13", "ecdsa-p256", 3))
    hello = client.start().output
    frozen = Frozen.of(client)
    thawed, copied = frozen.thaw(), copy.deepcopy(client)
    assert thawed.deliver(b"\x16\x03\x03\x00\x01\x00") == copied.deliver(b"\x16\x03\x03\x00\x01\x00")
    assert hello and thawed is not client


def _frozen_server_size(seed: int) -> int:
    server = open_engine(Setup(Role.SERVER, "default_tls13", "ecdsa-p256", seed))
    client = open_engine(Setup(Role.CLIENT, "default_tls13", "ecdsa-p256", seed))
    server.deliver(client.start().output)
    return len(Frozen.of(server)._data)


def test_a_snapshot_does_not_carry_what_the_shared_config_remembers() -> None:
    # Found by the soak benchmark: a snapshot copied the signer's signature memo, which grows with every
    # handshake of the config, so every kept opening was bigger than the last (1 GB in 8 minutes).
    first = _frozen_server_size(1)
    for seed in range(2, 40):
        _frozen_server_size(seed)
    assert _frozen_server_size(40) <= first + 64
