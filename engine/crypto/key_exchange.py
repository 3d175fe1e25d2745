"""(EC)DHE key shares, drawing randomness exactly as s2n's libcrypto does.

Measured with Debian's OpenSSL 3.0 (DESIGN.md), the draws the engine reproduces:

| group | key generation | each shared-secret derivation |
|---|---|---|
| x25519 | 32 B (the private key before clamping) | none |
| secp256r1 | 32 B, big-endian scalar, drawn again unless 0 < k < n | none |
| secp384r1 | 3 x 48 B (the first is the scalar; two feed blinding) | 4 x 48 B (measured; DESIGN.md says 3) |
| secp521r1 | 66 B, top byte masked to its lowest bit, drawn again unless 0 < k < n | none |
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from engine.errors import IllegalParameterError
from engine.randomness import DrawKind, RandomSource

__all__ = ["GROUP_NAMES", "SUPPORTED_GROUPS", "KeyShare", "generate_key_share", "usable_key_share"]

X25519 = 0x001D
SECP256R1 = 0x0017
SECP384R1 = 0x0018
SECP521R1 = 0x0019

GROUP_NAMES = {X25519: "x25519", SECP256R1: "secp256r1", SECP384R1: "secp384r1", SECP521R1: "secp521r1"}


@dataclass(frozen=True)
class _Curve:
    curve: ec.EllipticCurve
    order: int
    scalar_size: int
    top_mask: int
    keygen_draws: int  # how many scalar-sized draws OpenSSL makes per key generation
    derive_draws: int  # and per shared-secret derivation


_CURVES = {
    SECP256R1: _Curve(
        ec.SECP256R1(), 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551, 32, 0xFF, 1, 0
    ),
    SECP384R1: _Curve(
        ec.SECP384R1(),
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973,
        48,
        0xFF,
        3,
        4,
    ),
    SECP521R1: _Curve(
        ec.SECP521R1(),
        int(
            "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
            "A51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
            16,
        ),
        66,
        0x01,
        1,
        0,
    ),
}

SUPPORTED_GROUPS = frozenset(GROUP_NAMES)


class KeyShare:
    """One ephemeral key pair for a group: its public share and the derivation."""

    def __init__(self, group: int, random: RandomSource) -> None:
        if group not in SUPPORTED_GROUPS:
            raise IllegalParameterError(f"group 0x{group:04x} is not supported")
        self.group = group
        self._random = random
        if group == X25519:
            self._x25519 = x25519.X25519PrivateKey.from_private_bytes(random.draw(32, DrawKind.PRIVATE))
            self.public = self._x25519.public_key().public_bytes_raw()
        else:
            self._ec = self._generate_ec(_CURVES[group])
            self.public = self._ec.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)

    def _generate_ec(self, curve: _Curve) -> ec.EllipticCurvePrivateKey:
        while True:
            draws = [self._random.draw(curve.scalar_size, DrawKind.PRIVATE) for _ in range(curve.keygen_draws)]
            scalar_bytes = bytes([draws[0][0] & curve.top_mask]) + draws[0][1:]
            scalar = int.from_bytes(scalar_bytes, "big")
            if 0 < scalar < curve.order:
                return ec.derive_private_key(scalar, curve.curve)

    def exchange(self, peer_public: bytes) -> bytes:
        """The shared secret with the peer's share; ``IllegalParameterError`` for a bad share."""
        if self.group == X25519:
            return self._exchange_x25519(peer_public)
        curve = _CURVES[self.group]
        try:
            peer = _peer_point(self.group, bytes(peer_public))
        except ValueError:
            raise IllegalParameterError("key share is not a point on the curve") from None
        for _ in range(curve.derive_draws):
            self._random.draw(curve.scalar_size, DrawKind.PRIVATE)
        return self._ec.exchange(ec.ECDH(), peer)

    def _exchange_x25519(self, peer_public: bytes) -> bytes:
        if len(peer_public) != 32:
            raise IllegalParameterError("x25519 key share must be 32 bytes")
        try:
            return self._x25519.exchange(x25519.X25519PublicKey.from_public_bytes(peer_public))
        except ValueError:
            # cryptography refuses an all-zero shared secret (a low-order point).
            raise IllegalParameterError("x25519 key share gives an all-zero secret") from None


def generate_key_share(group: int, random: RandomSource) -> KeyShare:
    """A fresh key share for ``group``, drawing from ``random`` as OpenSSL 3.0 would."""
    return KeyShare(group, random)


_UNCOMPRESSED = 0x04
_HYBRID = 0x06


def usable_key_share(group: int, key_exchange: bytes) -> bytes | None:
    """A client's key share as s2n-tls's server reads it on OpenSSL 3.0, or None where s2n ignores it.

    ``s2n_client_key_share_recv_ecc`` (tls/extensions/s2n_client_key_share.c) skips, without
    an error, a share of a group it does not know, of the wrong size, or that
    ``s2n_ecc_evp_parse_params_point`` (crypto/s2n_ecc_evp.c) cannot load: for x25519 any
    32 bytes load; for the NIST curves the point must be on the curve, in the uncompressed
    form (0x04) or, since OpenSSL's ``EC_POINT_oct2point`` reads it too, the hybrid form
    (0x06/0x07, the low bit being y's parity). A hybrid point comes back uncompressed, the
    form ``cryptography`` loads.

    >>> usable_key_share(X25519, bytes(32)) == bytes(32), usable_key_share(X25519, bytes(31))
    (True, None)
    """
    if group == X25519:
        return key_exchange if len(key_exchange) == 32 else None
    curve = _CURVES.get(group)
    if curve is None or len(key_exchange) != 1 + 2 * curve.scalar_size:
        return None
    form, y = key_exchange[0], key_exchange[1 + curve.scalar_size :]
    if form & ~1 == _HYBRID and form & 1 == y[-1] & 1:
        key_exchange = bytes([_UNCOMPRESSED]) + key_exchange[1:]
    elif form != _UNCOMPRESSED:
        return None
    try:
        _peer_point(group, bytes(key_exchange))
    except ValueError:
        return None
    return key_exchange


@functools.lru_cache(maxsize=16)
def _peer_point(group: int, encoded: bytes) -> ec.EllipticCurvePublicKey:
    """A NIST curve point from its encoding (``ValueError`` off the curve), loaded once for both uses of it.

    A server loads a client's share to tell whether s2n can use it (``usable_key_share``), then for
    the exchange: the second load is a cache hit. The point is public; the cache keeps nothing secret.
    """
    return ec.EllipticCurvePublicKey.from_encoded_point(_CURVES[group].curve, encoded)
