"""Server-side choices, as s2n-tls makes them, as pure functions of policy and ClientHello.

- cipher suite: the server's most preferred suite the client offers (s2n ignores the
  client's order), except with chacha20 boosting (tls/s2n_cipher_suites.c);
- group: the client's key share of the server's most preferred mutually supported
  group, else a HelloRetryRequest for the most preferred mutually supported group,
  with s2n's "strongly preferred groups" upgrade (tls/extensions/s2n_server_key_share.c);
- certificates: the client's SNI picks the candidate certificate per key type, exact
  name first, then the wildcard for its first label, else the default (first added)
  certificate of each type (tls/s2n_handshake.c, tls/s2n_config.c);
- signature scheme: the server's preference order, the first one the client offers
  that fits a candidate certificate; if none, s2n falls back to the first that fits
  (``Compat.signature_fallback``; tls/s2n_signature_algorithms.c).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from engine.config import CertifiedKey
from engine.crypto.key_exchange import SUPPORTED_GROUPS
from engine.crypto.suites import TLS13_SUITES
from engine.errors import HandshakeFailureError

__all__ = [
    "CertificateCandidates",
    "GroupChoice",
    "KeyKind",
    "NegotiationPolicy",
    "schemes_for_certificate",
    "select_certificates",
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
    def cipher_suites(self) -> tuple[int, ...]:
        """The policy's TLS 1.3 suites, in preference order."""

    @property
    def allow_chacha20_boosting(self) -> bool:
        """Whether a client preferring ChaCha20 moves it first (s2n's boosting)."""

    @property
    def groups(self) -> tuple[int, ...]:
        """The policy's key-exchange groups, in preference order."""

    @property
    def strongly_preferred_groups(self) -> tuple[int, ...] | None:
        """Groups worth a HelloRetryRequest even when another share was sent, or None."""

    @property
    def signature_schemes(self) -> tuple[int, ...]:
        """The policy's signature schemes, in preference order."""


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


class KeyKind(IntEnum):
    """s2n's certificate key types (``s2n_pkey_type``): one default certificate each."""

    RSA = 0
    ECDSA = 1
    RSA_PSS = 2


def key_kind(certificate: x509.Certificate) -> KeyKind | None:
    """The key type of a certificate, or None for keys TLS 1.3 here cannot use."""
    key = certificate.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return KeyKind.ECDSA
    if isinstance(key, rsa.RSAPublicKey):
        is_pss = certificate.public_key_algorithm_oid.dotted_string == _RSA_PSS_OID
        return KeyKind.RSA_PSS if is_pss else KeyKind.RSA
    return None


@functools.lru_cache(maxsize=64)  # both sides ask per handshake; a certificate is hashed and compared by its DER
def schemes_for_certificate(certificate: x509.Certificate) -> frozenset[int]:
    """The TLS 1.3 signature schemes a certificate's key can sign with."""
    kind = key_kind(certificate)
    if kind == KeyKind.ECDSA:
        curve = certificate.public_key()
        scheme = _ECDSA_SCHEMES.get(curve.curve.name) if isinstance(curve, ec.EllipticCurvePublicKey) else None
        return frozenset({scheme} if scheme else ())
    if kind == KeyKind.RSA_PSS:
        return frozenset({0x0809, 0x080A, 0x080B})
    if kind == KeyKind.RSA:
        return frozenset({0x0804, 0x0805, 0x0806})
    return frozenset()


def _names(certificate: x509.Certificate) -> list[bytes]:
    """The names s2n files a certificate under: its DNS SANs, or its CNs when it has none; lowercased."""
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = san.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        names = []
    if not names:
        names = [str(attribute.value) for attribute in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    # s2n lowercases byte by byte with tolower() (ASCII only), as bytes.lower() does.
    return [name.encode().lower() for name in names if name]


@dataclass(frozen=True)
class CertificateCandidates:
    """The certificate per key type the handshake may use, and whether the SNI matched a name."""

    by_kind: Mapping[KeyKind, CertifiedKey]
    name_matched: bool


@dataclass(frozen=True)
class _CertificateStore:
    """s2n's per-config certificate tables: certificates by name and key type, and the defaults."""

    by_name: Mapping[bytes, Mapping[KeyKind, CertifiedKey]]
    defaults: Mapping[KeyKind, CertifiedKey]


@functools.lru_cache(maxsize=64)
def _store(certificates: tuple[CertifiedKey, ...]) -> _CertificateStore:
    """Built once per certificate set, as s2n builds its name map when certificates are added (tls/s2n_config.c)."""
    by_name: dict[bytes, dict[KeyKind, CertifiedKey]] = {}
    defaults: dict[KeyKind, CertifiedKey] = {}
    for certificate in certificates:
        kind = key_kind(certificate.leaf)
        if kind is None:
            continue
        defaults.setdefault(kind, certificate)  # the first added of each type
        for name in _names(certificate.leaf):
            by_name.setdefault(name, {}).setdefault(kind, certificate)  # the first added wins
    return _CertificateStore(by_name, defaults)


def select_certificates(certificates: Sequence[CertifiedKey], server_name: str | None) -> CertificateCandidates:
    """s2n's candidates: the exact SNI match, else the wildcard of its first label, else the defaults.

    A name match never falls back to the defaults for a key type it lacks (tls/s2n_handshake.c).
    """
    store = _store(tuple(certificates))
    # s2n lowercases ASCII only (tolower); the name holds any bytes but NUL (surrogates keep the undecodable ones).
    host = (server_name or "").encode("utf-8", "surrogateescape").lower()
    matched = store.by_name.get(host) if host else None
    if matched is None and b"." in host:
        matched = store.by_name.get(b"*" + host[host.index(b".") :])
    if matched is not None:
        return CertificateCandidates(matched, name_matched=True)
    return CertificateCandidates(store.defaults, name_matched=False)


_SCHEME_KINDS = {
    0x0403: KeyKind.ECDSA, 0x0503: KeyKind.ECDSA, 0x0603: KeyKind.ECDSA,
    0x0804: KeyKind.RSA, 0x0805: KeyKind.RSA, 0x0806: KeyKind.RSA,
    0x0809: KeyKind.RSA_PSS, 0x080A: KeyKind.RSA_PSS, 0x080B: KeyKind.RSA_PSS,
}  # fmt: skip


def select_signature(
    policy: NegotiationPolicy, offered: Sequence[int], candidates: CertificateCandidates, *, fallback: bool
) -> tuple[int, CertifiedKey]:
    """The signature scheme and certificate for the server's CertificateVerify.

    Each scheme of the policy, in order, needs a candidate certificate of its key type
    (and, for ECDSA, of its curve); the first the client offers wins.
    """
    first_fit: tuple[int, CertifiedKey] | None = None
    fitting: dict[KeyKind, frozenset[int]] = {}  # per candidate: its schemes, looked up once (not once per scheme)
    for scheme in policy.signature_schemes:
        kind = _SCHEME_KINDS.get(scheme)
        certificate = candidates.by_kind.get(kind) if kind is not None else None
        if certificate is None or kind is None:
            continue
        if kind not in fitting:
            fitting[kind] = schemes_for_certificate(certificate.leaf)
        if scheme not in fitting[kind]:
            continue
        if scheme in offered:
            return scheme, certificate
        first_fit = first_fit or (scheme, certificate)
    if fallback and first_fit is not None:
        return first_fit
    raise HandshakeFailureError("no signature scheme in common for the certificate")
