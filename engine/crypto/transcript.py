"""The handshake transcript: the bytes hashed are exactly the bytes sent or received.

Until the cipher suite is known (ClientHello before ServerHello), messages are kept
and hashed once the hash is chosen. A HelloRetryRequest replaces ClientHello1 by a
synthetic ``message_hash`` message (RFC 8446 section 4.4.1).
"""

from __future__ import annotations

import hashlib
from typing import Any

from engine.errors import InternalError

__all__ = ["Transcript"]

_MESSAGE_HASH = 254


class Transcript:
    """Running hash of handshake messages (each with its 4-byte header)."""

    def __init__(self) -> None:
        self._pending: list[bytes] = []
        self._hash: Any = None
        self.hash_name: str | None = None

    def __deepcopy__(self, memo: dict[int, object]) -> Transcript:
        # hashlib objects cannot be deep-copied, only forked with .copy().
        twin = Transcript()
        twin._pending = list(self._pending)
        twin._hash = self._hash.copy() if self._hash is not None else None
        twin.hash_name = self.hash_name
        return twin

    def add(self, message: bytes) -> None:
        """Append one whole handshake message."""
        if self._hash is None:
            self._pending.append(message)
        else:
            self._hash.update(message)

    def choose_hash(self, hash_name: str) -> None:
        """Fix the hash (from the negotiated suite) and hash what was kept so far."""
        if self._hash is not None:
            if hash_name != self.hash_name:
                raise InternalError("transcript hash changed after it was chosen")
            return
        self.hash_name = hash_name
        self._hash = hashlib.new(hash_name)
        for message in self._pending:
            self._hash.update(message)
        self._pending.clear()

    def replace_with_message_hash(self) -> None:
        """After a HelloRetryRequest: Hash(ClientHello1) becomes a message_hash message."""
        if self._hash is None:
            raise InternalError("message_hash needs the hash to be chosen")
        digest = self._hash.digest()
        self._hash = hashlib.new(self.hash_name or "sha256")
        self._hash.update(bytes([_MESSAGE_HASH, 0, 0, len(digest)]) + digest)

    def digest(self) -> bytes:
        """The transcript hash of everything added so far."""
        if self._hash is None:
            raise InternalError("transcript hash is not chosen yet")
        return bytes(self._hash.copy().digest())
