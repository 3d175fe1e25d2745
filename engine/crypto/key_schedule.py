"""The TLS 1.3 key schedule (RFC 8446 section 7.1), HKDF from the standard library.

Names follow the RFC: ``early_secret``, ``handshake_secret``, ``master_secret``, and
the traffic secrets derived from them with the running transcript hash.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = [
    "KeySchedule",
    "TrafficKeys",
    "hkdf_expand_label",
    "hkdf_extract",
    "next_traffic_secret",
    "traffic_keys",
]


def hkdf_extract(hash_name: str, salt: bytes, ikm: bytes) -> bytes:
    """HKDF-Extract (RFC 5869): HMAC(salt, ikm)."""
    return hmac.digest(salt, ikm, hash_name)


def _hkdf_expand(hash_name: str, prk: bytes, info: bytes, length: int) -> bytes:
    output = b""
    block = b""
    counter = 1
    while len(output) < length:
        block = hmac.digest(prk, block + info + bytes([counter]), hash_name)
        output += block
        counter += 1
    return output[:length]


def hkdf_expand_label(hash_name: str, secret: bytes, label: bytes, context: bytes, length: int) -> bytes:
    """HKDF-Expand-Label (RFC 8446 section 7.1): the label is prefixed with ``tls13 ``."""
    full_label = b"tls13 " + label
    info = length.to_bytes(2, "big") + bytes([len(full_label)]) + full_label + bytes([len(context)]) + context
    return _hkdf_expand(hash_name, secret, info, length)


class TrafficKeys:
    """The write key and IV derived from one traffic secret (RFC 8446 section 7.3)."""

    __slots__ = ("iv", "key", "secret")

    def __init__(self, secret: bytes, key: bytes, iv: bytes) -> None:
        self.secret = secret
        self.key = key
        self.iv = iv


def traffic_keys(hash_name: str, secret: bytes, key_len: int, iv_len: int = 12) -> TrafficKeys:
    """Derive ``[sender]_write_key`` and ``[sender]_write_iv`` from a traffic secret."""
    key = hkdf_expand_label(hash_name, secret, b"key", b"", key_len)
    iv = hkdf_expand_label(hash_name, secret, b"iv", b"", iv_len)
    return TrafficKeys(secret, key, iv)


def next_traffic_secret(hash_name: str, secret: bytes) -> bytes:
    """application_traffic_secret_N+1 (RFC 8446 section 7.2, KeyUpdate)."""
    return hkdf_expand_label(hash_name, secret, b"traffic upd", b"", hashlib.new(hash_name).digest_size)


class KeySchedule:
    """The secrets of one connection, advanced stage by stage as the handshake goes."""

    def __init__(self, hash_name: str, psk: bytes | None = None) -> None:
        self.hash_name = hash_name
        self.hash_len = hashlib.new(hash_name).digest_size
        zeros = bytes(self.hash_len)
        self.early_secret = hkdf_extract(hash_name, zeros, psk if psk is not None else zeros)
        self.handshake_secret = b""
        self.master_secret = b""

    def _empty_hash(self) -> bytes:
        return hashlib.new(self.hash_name).digest()

    def derive_secret(self, secret: bytes, label: bytes, transcript_hash: bytes) -> bytes:
        """Derive-Secret(Secret, Label, Messages) with the transcript hash already computed."""
        return hkdf_expand_label(self.hash_name, secret, label, transcript_hash, self.hash_len)

    def enter_handshake(self, shared_secret: bytes) -> None:
        """Mix in the (EC)DHE shared secret."""
        salt = self.derive_secret(self.early_secret, b"derived", self._empty_hash())
        self.handshake_secret = hkdf_extract(self.hash_name, salt, shared_secret)

    def enter_master(self) -> None:
        """Advance to the master secret (after ServerHello ... server Finished)."""
        salt = self.derive_secret(self.handshake_secret, b"derived", self._empty_hash())
        self.master_secret = hkdf_extract(self.hash_name, salt, bytes(self.hash_len))

    def finished_verify_data(self, base_key: bytes, transcript_hash: bytes) -> bytes:
        """verify_data = HMAC(finished_key, transcript hash) (RFC 8446 section 4.4.4)."""
        finished_key = hkdf_expand_label(self.hash_name, base_key, b"finished", b"", self.hash_len)
        return hmac.digest(finished_key, transcript_hash, self.hash_name)
