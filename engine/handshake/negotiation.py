"""Server-side choices, as s2n-tls makes them, as pure functions of policy and ClientHello.

- cipher suite: the server's most preferred suite the client offers (s2n ignores the
  client's order), except with chacha20 boosting (tls/s2n_cipher_suites.c);
- group: the client's key share of the server's most preferred mutually supported
  group, else a HelloRetryRequest for the most preferred mutually supported group,
  with s2n's "strongly preferred groups" upgrade (tls/extensions/s2n_server_key_share.c);
- signature scheme: the server's preference order, the first one the client offers
  that fits a certificate; if none, s2n falls back to the first that fits a
  certificate (``Compat.signature_fallback``; tls/s2n_signature_algorithms.c).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from engine.config import CertifiedKey
from engine.crypto.key_exchange import SUPPORTED_GROUPS
from engine.crypto.suites import TLS13_SUITES
from engine.errors import HandshakeFailureError

__all__ = [
    "GroupChoice",
    "NegotiationPolicy",
    "schemes_for_certificate",
    "select_cipher_suite",
    "select_group",
    "select_signature",
]

_CHACHA20 = 0x1303
_RSA_PSS_OID = "1.2.840.113549.1.1.10"
_ECDSA_SCHEMES = {"secp256r1": 0x0403, "secp384r1": 0x0503, "secp521r1": 0x0603}


class NegotiationPolicy(Protocol):
    """The parts of an s2n security policy that negotiation reads."""

    @property
    def cipher_suites(self) -> tuple[int, ...]: ...
    @property
    def allow_chacha20_boosting(self) -> bool: ...
    @property
    def groups(self) -> tuple[int, ...]: ...
    @property
    def strongly_preferred_groups(self) -> tuple[int, ...] | None: ...
    @property
    def signature_schemes(self) -> tuple[int, ...]: ...


def select_cipher_suite(policy: NegotiationPolicy, offered: Sequence[int]) -> int:
    """The TLS 1.3 suite s2n picks; ``HandshakeFailureError`` when there is none."""
    candidates = [code for code in policy.cipher_suites if code in TLS13_SUITES and code in offered]
    if not candidates:
        raise HandshakeFailureError("no TLS 1.3 cipher suite in common")
    boosting = policy.allow_chacha20_boosting and bool(offered) and offered[0] == _CHACHA20
    if boosting and _CHACHA20 in candidates:
        return _CHACHA20
    return candidates[0]


@dataclass(frozen=True)
class GroupChoice:
    """The group to use, and whether the client must first be asked for it (HRR)."""

    group: int
    hello_retry: bool


def select_group(policy: NegotiationPolicy, supported: Sequence[int], shares: Sequence[int]) -> GroupChoice:
    """Pick the key-exchange group from the client's supported_groups and key_share groups."""
    mutual = [group for group in policy.groups if group in supported and group in SUPPORTED_GROUPS]
    if not mutual:
        raise HandshakeFailureError("no group in common")
    with_share = next((group for group in mutual if group in shares), None)
    for preferred in policy.strongly_preferred_groups or ():
        if preferred in mutual:
            return GroupChoice(preferred, hello_retry=preferred != with_share)
    if with_share is not None:
        return GroupChoice(with_share, hello_retry=False)
    return GroupChoice(mutual[0], hello_retry=True)


def schemes_for_certificate(certificate: x509.Certificate) -> frozenset[int]:
    """The TLS 1.3 signature schemes a certificate's key can sign with."""
    key = certificate.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        scheme = _ECDSA_SCHEMES.get(key.curve.name)
        return frozenset({scheme} if scheme else ())
    if isinstance(key, rsa.RSAPublicKey):
        if certificate.public_key_algorithm_oid.dotted_string == _RSA_PSS_OID:
            return frozenset({0x0809, 0x080A, 0x080B})
        return frozenset({0x0804, 0x0805, 0x0806})
    return frozenset()


def select_signature(
    policy: NegotiationPolicy, offered: Sequence[int], certificates: Sequence[CertifiedKey], *, fallback: bool
) -> tuple[int, CertifiedKey]:
    """The signature scheme and certificate for the server's CertificateVerify."""
    usable = [(certificate, schemes_for_certificate(certificate.leaf)) for certificate in certificates]
    first_fit: tuple[int, CertifiedKey] | None = None
    for scheme in policy.signature_schemes:
        for certificate, schemes in usable:
            if scheme not in schemes:
                continue
            if scheme in offered:
                return scheme, certificate
            first_fit = first_fit or (scheme, certificate)
    if fallback and first_fit is not None:
        return first_fit
    raise HandshakeFailureError("no signature scheme in common for the certificate")
