"""Randomness for the engine, and the seeded stream shared with the C bridge.

The seeded stream for a ``(seed, label)`` pair, where label is ``b"client"``,
``b"server"`` or ``b"outside"`` (draws made outside any connection), is:

    key    = SHA-256(b"tlsdiff-drbg-v1\\x00" || seed as 8 bytes big-endian || label)
    stream = the ChaCha20 keystream (RFC 8439) under ``key``, nonce 0 (12 zero bytes),
             block counter starting at 0, handed out byte by byte in order

Each draw takes the next ``size`` bytes, whatever their size or kind (public or
private): only the order and the sizes of draws matter. The bridge's C code
(``s2n_bridge/_csrc/tlsdiff_bridge.c``) implements the same stream, so an engine
connection and an s2n connection seeded alike see the same bytes, provided they
draw the same sizes in the same order (docs/determinism.md).
"""

from __future__ import annotations

import copy
import hashlib
import os
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms

__all__ = [
    "MAX_SEED",
    "Draw",
    "DrawKind",
    "OsRandomSource",
    "RandomSource",
    "SeededRandomSource",
    "StreamLabel",
    "stream_key",
]

MAX_SEED = (1 << 64) - 1
_DOMAIN = b"tlsdiff-drbg-v1\x00"


class StreamLabel(Enum):
    """Which stream of a seed: one per role, and one for draws outside any connection."""

    CLIENT = b"client"
    SERVER = b"server"
    OUTSIDE = b"outside"


class DrawKind(Enum):
    """What libcrypto call a draw stands for; recorded in draw logs, never changes the bytes."""

    BYTES = 0
    PRIVATE = 1
    PUBLIC = 2


@dataclass(frozen=True)
class Draw:
    """One entry of a draw log: which stream, how many bytes, of what kind."""

    stream: str
    size: int
    kind: DrawKind


def stream_key(seed: int, label: StreamLabel) -> bytes:
    """The ChaCha20 key of the stream for ``(seed, label)``.

    >>> stream_key(0, StreamLabel.CLIENT).hex()[:16]
    '7a36d7c5826abe25'
    """
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be between 0 and 2**64-1, got {seed}")
    return hashlib.sha256(_DOMAIN + seed.to_bytes(8, "big") + label.value).digest()


class RandomSource(Protocol):
    """Where a connection gets its random bytes; injected so that runs can be replayed."""

    def draw(self, size: int, kind: DrawKind = DrawKind.BYTES) -> bytes:
        """Return the next ``size`` random bytes."""
        ...


class OsRandomSource:
    """The default: the operating system's randomness."""

    def draw(self, size: int, kind: DrawKind = DrawKind.BYTES) -> bytes:
        """Return ``size`` bytes from ``os.urandom``."""
        return os.urandom(size)


class SeededRandomSource:
    """The seeded stream for ``(seed, label)``, with an optional log of every draw."""

    def __init__(self, seed: int, label: StreamLabel, *, log: list[Draw] | None = None) -> None:
        self._seed = seed
        self._label = label
        self._log = log
        self.drawn = 0
        self._keystream: CipherContext | None = self._new_keystream()

    def _new_keystream(self) -> CipherContext:
        nonce_and_counter = bytes(16)  # 32-bit counter 0, then the 96-bit nonce 0
        return Cipher(
            algorithms.ChaCha20(stream_key(self._seed, self._label), nonce_and_counter), mode=None
        ).encryptor()

    def __deepcopy__(self, memo: dict[int, object]) -> SeededRandomSource:
        # A cipher context cannot be copied: a copy replays the stream to where this one stands, on its
        # first draw (a connection copied after its handshake may never draw again).
        twin = copy.copy(self)
        twin._log = copy.deepcopy(self._log, memo)
        twin._keystream = None
        return twin

    def draw(self, size: int, kind: DrawKind = DrawKind.BYTES) -> bytes:
        """Return the next ``size`` bytes of the stream."""
        if size < 0:
            raise ValueError(f"cannot draw {size} bytes")
        if self._keystream is None:
            self._keystream = self._new_keystream()
            self._keystream.update(bytes(self.drawn))
        if self._log is not None:
            self._log.append(Draw(self._label.value.decode(), size, kind))
        self.drawn += size
        return self._keystream.update(bytes(size))
