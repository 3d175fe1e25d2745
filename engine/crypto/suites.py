"""The three TLS 1.3 cipher suites: AEAD, hash, key and nonce sizes (RFC 8446 section B.4)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from engine.errors import HandshakeFailureError

__all__ = ["TLS13_SUITES", "CipherSuite", "suite_for"]

Aead = AESGCM | ChaCha20Poly1305


@dataclass(frozen=True)
class CipherSuite:
    """A TLS 1.3 suite: its code point, s2n's name for it, and how to build its AEAD."""

    code: int
    name: str
    hash_name: str
    hash_len: int
    key_len: int
    aead: Callable[[bytes], Aead]
    iv_len: int = 12
    tag_len: int = 16


TLS13_SUITES = {
    0x1301: CipherSuite(0x1301, "TLS_AES_128_GCM_SHA256", "sha256", 32, 16, AESGCM),
    0x1302: CipherSuite(0x1302, "TLS_AES_256_GCM_SHA384", "sha384", 48, 32, AESGCM),
    0x1303: CipherSuite(0x1303, "TLS_CHACHA20_POLY1305_SHA256", "sha256", 32, 32, ChaCha20Poly1305),
}


def suite_for(code: int) -> CipherSuite:
    """The suite for a code point; ``HandshakeFailureError`` if it is not a TLS 1.3 suite."""
    suite = TLS13_SUITES.get(code)
    if suite is None:
        raise HandshakeFailureError(f"cipher suite 0x{code:04x} is not a TLS 1.3 suite")
    return suite
