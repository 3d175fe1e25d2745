"""The signing oracle shared by the engine and the s2n bridge.

Both sides sign CertificateVerify through a ``Signer``, so that for the same
inputs they emit the same signature bytes:

- ECDSA uses RFC 6979 deterministic nonces (no randomness drawn);
- RSA-PSS draws its salt (hash-length bytes) from the connection's random stream,
  then encodes EMSA-PSS (RFC 8017 section 9.1.1) itself, because ``cryptography``
  cannot take a caller's salt;
- RSA PKCS#1 v1.5 is deterministic by construction.

Signers work on digests: s2n's async private-key operation hands out the digest
of the content to sign, and the engine computes the same digest.
"""

from __future__ import annotations

import functools
from typing import Protocol

import gmpy2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from engine.randomness import DrawKind, RandomSource
from engine.wire.extensions import SignatureScheme

__all__ = ["KeySigner", "SignatureScheme", "Signer", "SigningError", "ecdsa_prehashed", "scheme_hash"]


class SigningError(ValueError):
    """The key cannot sign with the requested scheme, or the digest has the wrong size."""


_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}


@functools.lru_cache(maxsize=64)  # asked for several times a handshake; the instances keep no state
def scheme_hash(scheme: SignatureScheme) -> hashes.HashAlgorithm:
    """The hash a scheme signs with; ``SigningError`` for schemes the harness does not sign with."""
    algorithm = _HASHES.get(scheme.name.rsplit("_", 1)[-1])
    if algorithm is None:
        raise SigningError(f"{scheme.name} is not a SHA-2 signature scheme")
    return algorithm()


@functools.lru_cache(maxsize=64)  # the instances keep no state: one per scheme serves every signature
def ecdsa_prehashed(scheme: SignatureScheme, *, deterministic: bool = False) -> ec.ECDSA:
    """ECDSA over a digest already made with the scheme's hash; ``deterministic``: RFC 6979 nonces."""
    return ec.ECDSA(utils.Prehashed(scheme_hash(scheme)), deterministic_signing=deterministic)


class Signer(Protocol):
    """Signs a digest with a scheme; RSA-PSS salts come from ``random``."""

    def sign_digest(self, scheme: SignatureScheme, digest: bytes, random: RandomSource) -> bytes:
        """Return the signature of ``digest`` under ``scheme``."""
        ...


_MEMO_LIMIT = 4096


class KeySigner:
    """A ``Signer`` over one private key (ECDSA or RSA).

    Every signature here is a function of (scheme, digest, salt): ECDSA nonces are
    RFC 6979's, PKCS#1 v1.5 has none, PSS takes its salt from the caller's stream. So the
    last few thousand are remembered: a fuzzer repeats the same seeded handshakes, and an
    RSA signature costs milliseconds.
    """

    def __init__(self, private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
        self._key = private_key
        self._is_ecdsa = isinstance(private_key, ec.EllipticCurvePrivateKey)  # an ABC check: once, not per signature
        self._memo: dict[tuple[SignatureScheme, bytes, bytes], bytes] = {}

    def __deepcopy__(self, memo: dict[int, object]) -> KeySigner:
        # Part of the config every connection shares: a copied connection signs with the same key and
        # memo (a copy of the memo in every snapshot of a connection would be most of the snapshot).
        return self

    def public_key(self) -> ec.EllipticCurvePublicKey | rsa.RSAPublicKey:
        """The public half of the key (``EngineConfig`` checks it is the certificate's)."""
        return self._key.public_key()

    def sign_digest(self, scheme: SignatureScheme, digest: bytes, random: RandomSource) -> bytes:
        """Sign ``digest``; raise ``SigningError`` when key, scheme and digest don't fit together."""
        algorithm = scheme_hash(scheme)
        if len(digest) != algorithm.digest_size:
            raise SigningError(f"{scheme.name} needs a {algorithm.digest_size}-byte digest, got {len(digest)}")
        is_ecdsa = self._is_ecdsa
        if is_ecdsa != scheme.name.startswith("ECDSA") or not scheme.name.startswith(("ECDSA", "RSA_PKCS1", "RSA_PSS")):
            raise SigningError(f"an {'ECDSA' if is_ecdsa else 'RSA'} key cannot sign with {scheme.name}")
        # The salt is drawn before the memo is consulted: the caller's stream moves on either way.
        salt = random.draw(algorithm.digest_size, DrawKind.BYTES) if scheme.name.startswith("RSA_PSS") else b""
        memo_key = (scheme, digest, salt)
        signature = self._memo.get(memo_key)
        if signature is None:
            signature = self._sign(scheme, algorithm, digest, salt)
            if len(self._memo) >= _MEMO_LIMIT:
                del self._memo[next(iter(self._memo))]
            self._memo[memo_key] = signature
        return signature

    def _sign(self, scheme: SignatureScheme, algorithm: hashes.HashAlgorithm, digest: bytes, salt: bytes) -> bytes:
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            return self._key.sign(digest, ecdsa_prehashed(scheme, deterministic=True))
        if scheme.name.startswith("RSA_PKCS1"):
            return self._key.sign(digest, padding.PKCS1v15(), utils.Prehashed(algorithm))
        return _sign_pss(self._key, algorithm, digest, salt)


def _mgf1(seed: bytes, length: int, algorithm: hashes.HashAlgorithm) -> bytes:
    output = b""
    counter = 0
    while len(output) < length:
        digest = hashes.Hash(type(algorithm)())
        digest.update(seed + counter.to_bytes(4, "big"))
        output += digest.finalize()
        counter += 1
    return output[:length]


def _emsa_pss_encode(digest: bytes, salt: bytes, em_bits: int, algorithm: hashes.HashAlgorithm) -> bytes:
    """RFC 8017 section 9.1.1, steps 4 to 12, from the message digest ``mHash``."""
    em_len = (em_bits + 7) // 8
    hash_len = algorithm.digest_size
    if em_len < hash_len + len(salt) + 2:
        raise SigningError("RSA key too small for this PSS hash")
    m_prime_hash = hashes.Hash(type(algorithm)())
    m_prime_hash.update(bytes(8) + digest + salt)
    h = m_prime_hash.finalize()
    data_block = bytes(em_len - len(salt) - hash_len - 2) + b"\x01" + salt
    mask = _mgf1(h, em_len - hash_len - 1, algorithm)
    masked = bytearray(a ^ b for a, b in zip(data_block, mask, strict=True))
    masked[0] &= 0xFF >> (8 * em_len - em_bits)
    return bytes(masked) + h + b"\xbc"


def _sign_pss(key: rsa.RSAPrivateKey, algorithm: hashes.HashAlgorithm, digest: bytes, salt: bytes) -> bytes:
    """RSASSA-PSS with a given salt: encode, RSASP1 with the CRT, then verify (a fault guard)."""
    numbers = key.private_numbers()
    modulus = numbers.public_numbers.n
    encoded = int.from_bytes(_emsa_pss_encode(digest, salt, modulus.bit_length() - 1, algorithm), "big")
    # GMP's modular exponentiation is about 8 times CPython's: a fresh PSS salt means a fresh
    # signature, and these two were a tenth of a fuzzed handshake's cost.
    m1 = int(gmpy2.powmod(encoded, numbers.dmp1, numbers.p))
    m2 = int(gmpy2.powmod(encoded, numbers.dmq1, numbers.q))
    signature_int = m2 + numbers.q * ((numbers.iqmp * (m1 - m2)) % numbers.p)
    signature = signature_int.to_bytes((modulus.bit_length() + 7) // 8, "big")
    pss = padding.PSS(mgf=padding.MGF1(type(algorithm)()), salt_length=len(salt))
    key.public_key().verify(signature, digest, pss, utils.Prehashed(algorithm))
    return signature
