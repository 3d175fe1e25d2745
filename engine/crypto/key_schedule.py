"""The TLS 1.3 key schedule (RFC 8446 section 7.1), HKDF from the standard library.

Names follow the RFC: ``early_secret``, ``handshake_secret``, ``master_secret``, and
the traffic secrets derived from them with the running transcript hash.
"""

from __future__ import annotations

import functools
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


@functools.lru_cache(maxsize=8)
def _digest_size(hash_name: str) -> int:
    return hashlib.new(hash_name).digest_size


def _hkdf_expand(hash_name: str, prk: bytes, info: bytes, length: int) -> bytes:
    if length <= _digest_size(hash_name):
        # What TLS 1.3 asks for (keys, IVs, secrets: at most Hash.length): T(1) alone.
        return hmac.digest(prk, info + b"\x01", hash_name)[:length]
    output = b""
    block = b""
    counter = 1
    while len(output) < length:
        block = hmac.digest(prk, block + info + bytes([counter]), hash_name)
        output += block
        counter += 1
    return output[:length]


@functools.lru_cache(maxsize=64)  # the labels are a handful of constants; a handshake asks for each several times
def _label_prefix(label: bytes, length: int) -> bytes:
    """HkdfLabel up to its context: length, then the label with its ``tls13 `` prefix."""
    full_label = b"tls13 " + label
    return length.to_bytes(2, "big") + bytes([len(full_label)]) + full_label


def hkdf_expand_label(hash_name: str, secret: bytes, label: bytes, context: bytes, length: int) -> bytes:
    """HKDF-Expand-Label (RFC 8446 section 7.1): the label is prefixed with ``tls13 ``."""
    info = _label_prefix(label, length) + bytes([len(context)]) + context
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
    return hkdf_expand_label(hash_name, secret, b"traffic upd", b"", _digest_size(hash_name))


@functools.lru_cache(maxsize=8)
def _empty_hash(hash_name: str) -> bytes:
    return hashlib.new(hash_name).digest()


@functools.lru_cache(maxsize=8)
def _no_psk_secrets(hash_name: str) -> tuple[bytes, bytes]:
    """The early secret without a PSK, and the salt it gives the handshake secret: constants of the hash.

    Public values (HKDF of zeros and the empty transcript), computed once rather than twice per handshake.
    """
    zeros = bytes(_digest_size(hash_name))
    early_secret = hkdf_extract(hash_name, zeros, zeros)
    return early_secret, hkdf_expand_label(hash_name, early_secret, b"derived", _empty_hash(hash_name), len(zeros))


class KeySchedule:
    """The secrets of one connection, advanced stage by stage as the handshake goes."""

    def __init__(self, hash_name: str, psk: bytes | None = None) -> None:
        self.hash_name = hash_name
        self.hash_len = _digest_size(hash_name)
        zeros = bytes(self.hash_len)
        if psk is None:
            self.early_secret, self._handshake_salt = _no_psk_secrets(hash_name)
        else:
            self.early_secret = hkdf_extract(hash_name, zeros, psk)
            self._handshake_salt = self.derive_secret(self.early_secret, b"derived", _empty_hash(hash_name))
        self.handshake_secret = b""
        self.master_secret = b""

    def derive_secret(self, secret: bytes, label: bytes, transcript_hash: bytes) -> bytes:
        """Derive-Secret(Secret, Label, Messages) with the transcript hash already computed."""
        return hkdf_expand_label(self.hash_name, secret, label, transcript_hash, self.hash_len)

    def enter_handshake(self, shared_secret: bytes) -> None:
        """Mix in the (EC)DHE shared secret."""
        self.handshake_secret = hkdf_extract(self.hash_name, self._handshake_salt, shared_secret)

    def enter_master(self) -> None:
        """Advance to the master secret (after ServerHello ... server Finished)."""
        salt = self.derive_secret(self.handshake_secret, b"derived", _empty_hash(self.hash_name))
        self.master_secret = hkdf_extract(self.hash_name, salt, bytes(self.hash_len))

    def finished_verify_data(self, base_key: bytes, transcript_hash: bytes) -> bytes:
        """verify_data = HMAC(finished_key, transcript hash) (RFC 8446 section 4.4.4)."""
        finished_key = hkdf_expand_label(self.hash_name, base_key, b"finished", b"", self.hash_len)
        return hmac.digest(finished_key, transcript_hash, self.hash_name)
