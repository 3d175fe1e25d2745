"""s2n-tls's security policies, as data, and what an s2n client offers under each.

The tables (``_data``) are generated from s2n-tls's C source in the pinned awscrt sdist
by ``_generate`` and hold every list in s2n's order. What a ClientHello actually
carries also depends on the libcrypto s2n runs on: post-quantum (ML-KEM) groups need
aws-lc, and s2n never offers RC4 on OpenSSL 3.0. ``client_hello_offer`` and the
``offered_*`` functions apply those rules the way ``s2n_client_hello_send`` and the
ClientHello extensions do, for a client with s2n's default connection settings.
``certificate_signature_oids`` and ``certificate_key_types`` give what a policy's
certificate preferences accept, in the terms of an X.509 certificate (OIDs), the way
s2n's NIDs resolve on a libcrypto.

>>> default = policy("default_tls13")
>>> [f"{suite:04x}" for suite in default.tls13_cipher_suites]
['1301', '1302', '1303']
>>> [f"{group:04x}" for group in key_share_groups(policy("default"), AWS_LC)]
['11ec', '0017']
>>> client_hello_offer(default, OPENSSL_3).extensions
(43, 10, 51, 13, 0, 11, 23)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from engine.policies import _data
from engine.policies._schema import (
    CertificateKeyInfo,
    CipherSuiteInfo,
    CurveInfo,
    KemGroupInfo,
    PolicyRow,
    SignatureSchemeInfo,
)

__all__ = [
    "AWS_LC",
    "CERTIFICATE_KEYS",
    "CIPHER_SUITES",
    "CLIENT_HELLO_EXTENSIONS",
    "CURVES",
    "KEM_GROUPS",
    "LIBCRYPTO_OIDS",
    "NID_UNDEF",
    "OPENSSL_3",
    "SIGNATURE_SCHEMES",
    "TLS13_POLICY_NAMES",
    "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
    "CertificateKeyInfo",
    "CipherSuiteInfo",
    "ClientHelloOffer",
    "CurveInfo",
    "KemGroupInfo",
    "Libcrypto",
    "SecurityPolicy",
    "SignatureSchemeInfo",
    "UnknownPolicyError",
    "certificate_key_types",
    "certificate_signature_oids",
    "client_hello_extensions",
    "client_hello_offer",
    "key_share_groups",
    "libcrypto_object",
    "offered_cipher_suites",
    "offered_groups",
    "offered_signature_schemes",
    "policy",
    "suite_available",
    "supported_versions",
]

TLS12 = 0x0303
TLS13 = 0x0304
TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00FF
"""Appended to the cipher suites whenever a TLS 1.2 (or older) suite is offered (RFC 5746)."""

CIPHER_SUITES: Mapping[int, CipherSuiteInfo] = MappingProxyType(_data.CIPHER_SUITES)
"""Every cipher suite the policies list, by IANA value."""
CURVES: Mapping[int, CurveInfo] = MappingProxyType(_data.CURVES)
"""ECC named groups, by IANA value: s2n's name and the size of a key share."""
KEM_GROUPS: Mapping[int, KemGroupInfo] = MappingProxyType(_data.KEM_GROUPS)
"""TLS 1.3 ML-KEM groups (hybrid or pure), by IANA value."""
SIGNATURE_SCHEMES: Mapping[int, SignatureSchemeInfo] = MappingProxyType(_data.SIGNATURE_SCHEMES)
"""Signature schemes, by IANA value (0xFFFF is s2n's private legacy RSA MD5+SHA1 scheme)."""
CLIENT_HELLO_EXTENSIONS: tuple[tuple[int, str], ...] = _data.CLIENT_HELLO_EXTENSIONS
"""Every ClientHello extension s2n knows, as (type, s2n name), in the order s2n writes them."""
CERTIFICATE_KEYS: Mapping[str, CertificateKeyInfo] = MappingProxyType(_data.CERTIFICATE_KEYS)
"""s2n's certificate key types (``certificate_keys`` of a policy names them), by s2n name."""
LIBCRYPTO_OIDS: Mapping[str, str] = MappingProxyType(_data.LIBCRYPTO_OIDS)
"""The OID of each libcrypto NID the tables name (``rsassaPss``: ``1.2.840.113549.1.1.10``)."""
NID_UNDEF = ""
"""Where OIDs stand for NIDs: NID_undef, what a libcrypto reports for an object it does not know."""

# ML-DSA NIDs and OIDs: s2n uses them only on a libcrypto with ML-DSA (S2N_NID_MLDSA* in
# crypto/s2n_mldsa.h), and OpenSSL 3.0 does not know the ML-DSA objects at all.
_MLDSA_NIDS = frozenset(
    info.libcrypto_nid for info in SIGNATURE_SCHEMES.values() if info.signature_algorithm == "mldsa"
)
_MLDSA_OIDS = frozenset(LIBCRYPTO_OIDS[nid] for nid in _MLDSA_NIDS)


class UnknownPolicyError(ValueError):
    """The name is not an s2n-tls security policy that negotiates TLS 1.3."""


@dataclass(frozen=True)
class Libcrypto:
    """What s2n can use on a libcrypto, as far as a ClientHello shows it.

    ``pq`` is ``s2n_pq_is_enabled()`` (ML-KEM through EVP_KEM: every KEM group is then
    available); ``unavailable_record_ciphers`` are s2n record ciphers (``CipherSuiteInfo.
    ``record_ciphers``) the libcrypto cannot run; ``rsa_pss`` is RSA-PSS signing support;
    ``mldsa`` is ``S2N_LIBCRYPTO_SUPPORTS_MLDSA`` (the ML-DSA objects exist).
    """

    name: str
    pq: bool
    unavailable_record_ciphers: frozenset[str] = frozenset()
    rsa_pss: bool = True
    mldsa: bool = False


OPENSSL_3 = Libcrypto("openssl-3.0", pq=False, unavailable_record_ciphers=frozenset({"rc4"}))
"""Debian's OpenSSL 3.0: no EVP_KEM, no ML-DSA; s2n treats RC4 as unavailable on OpenSSL 3 (s2n_stream_cipher_rc4.c)."""
AWS_LC = Libcrypto("aws-lc", pq=True, mldsa=True)
"""aws-lc from the pinned sdist: ML-KEM, ML-DSA and RC4 available."""


@dataclass(frozen=True)
class SecurityPolicy:
    """One s2n-tls security policy, with every preference list in s2n's order (IANA values).

    ``cipher_suites`` lists all suites of the policy, TLS 1.2 ones included (a ClientHello
    lists them); ``groups`` are the ECC groups and ``kem_groups`` the TLS 1.3 ML-KEM groups
    (offered only with a PQ-capable libcrypto, before the ECC groups). The flags are the
    ones s2n derives from the policy and that change a ClientHello (see ``PolicyRow``).
    """

    name: str
    s2n_struct: str
    minimum_version: int
    cipher_suites: tuple[int, ...]
    groups: tuple[int, ...]
    kem_groups: tuple[int, ...]
    signature_schemes: tuple[int, ...]
    certificate_signature_schemes: tuple[int, ...] | None
    certificate_keys: tuple[str, ...] | None
    strongly_preferred_groups: tuple[int, ...] | None
    certificate_preferences_apply_locally: bool
    allow_chacha20_boosting: bool
    rules: tuple[str, ...]
    ecc_extension_required: bool
    pq_kem_extension_required: bool
    hybrid_kem_length_prefixed: bool

    @property
    def tls13_cipher_suites(self) -> tuple[int, ...]:
        """The TLS 1.3 suites (0x13xx), in the policy's order."""
        return tuple(suite for suite in self.cipher_suites if suite >> 8 == 0x13)

    @property
    def supports_tls13(self) -> bool:
        """Whether any suite needs TLS 1.3 (``s2n_security_policy_supports_tls13``)."""
        return any(CIPHER_SUITES[suite].minimum_version >= TLS13 for suite in self.cipher_suites)

    @property
    def maximum_version(self) -> int:
        """The highest version a client offers: TLS 1.3 when the policy supports it, else TLS 1.2."""
        return TLS13 if self.supports_tls13 else TLS12


def _from_row(name: str, row: PolicyRow) -> SecurityPolicy:
    return SecurityPolicy(
        name=name,
        s2n_struct=row.s2n_struct,
        minimum_version=row.minimum_version,
        cipher_suites=row.cipher_suites,
        groups=row.groups,
        kem_groups=row.kem_groups,
        signature_schemes=row.signature_schemes,
        certificate_signature_schemes=row.certificate_signature_schemes,
        certificate_keys=row.certificate_keys,
        strongly_preferred_groups=row.strongly_preferred_groups,
        certificate_preferences_apply_locally=row.certificate_preferences_apply_locally,
        allow_chacha20_boosting=row.allow_chacha20_boosting,
        rules=row.rules,
        ecc_extension_required=row.ecc_extension_required,
        pq_kem_extension_required=row.pq_kem_extension_required,
        hybrid_kem_length_prefixed=row.hybrid_kem_length_prefixed,
    )


_POLICIES = {name: _from_row(name, row) for name, row in _data.POLICIES.items()}
_BY_LOWER = {name.lower(): name for name in _POLICIES}

TLS13_POLICY_NAMES: tuple[str, ...] = tuple(_POLICIES)
"""The s2n policy names that negotiate TLS 1.3 between two s2n peers (``tls13_policies.txt``)."""


def policy(name: str) -> SecurityPolicy:
    """The policy s2n knows by ``name`` (case-insensitive, as ``s2n_config_set_cipher_preferences``).

    >>> policy("DEFAULT_TLS13").name
    'default_tls13'
    """
    canonical = _BY_LOWER.get(name.lower())
    if canonical is None:
        raise UnknownPolicyError(f"{name!r} is not an s2n-tls security policy that negotiates TLS 1.3")
    return _POLICIES[canonical]


# ---- certificate preferences ----


def libcrypto_object(oid: str, libcrypto: Libcrypto) -> str:
    """``oid`` as ``libcrypto`` identifies it (``OBJ_obj2nid``): the OID itself, or NID_UNDEF.

    Only ML-DSA is modelled as unknown (to a libcrypto without ML-DSA); any other OID is
    taken to be an object the libcrypto knows.

    >>> libcrypto_object("2.16.840.1.101.3.4.3.19", OPENSSL_3) == NID_UNDEF
    True
    """
    return NID_UNDEF if oid in _MLDSA_OIDS and not libcrypto.mldsa else oid


def _nid_oid(nid: str, libcrypto: Libcrypto) -> str | None:
    """The OID standing for an s2n NID on ``libcrypto``; None for a NID no certificate can carry."""
    if nid == "undef" or (nid in _MLDSA_NIDS and not libcrypto.mldsa):
        return NID_UNDEF
    return LIBCRYPTO_OIDS.get(nid)


@functools.cache  # a pure function of two frozen values; the client calls it for every certificate
def certificate_signature_oids(security_policy: SecurityPolicy, libcrypto: Libcrypto) -> frozenset[str] | None:
    """The certificate signature algorithms (OIDs) the policy's ``certificate_signature_preferences`` accept.

    None when the policy sets none (then any is accepted). All RSA-PSS schemes are one OID
    (``rsassaPss``); an ML-DSA scheme on a libcrypto without ML-DSA contributes NID_UNDEF.

    >>> sorted(certificate_signature_oids(policy("cnsa_1_2_interop"), AWS_LC))
    ['1.2.840.10045.4.3.3', '1.2.840.113549.1.1.12', '2.16.840.1.101.3.4.3.19']
    """
    schemes = security_policy.certificate_signature_schemes
    if schemes is None:
        return None
    oids = (_nid_oid(SIGNATURE_SCHEMES[scheme].libcrypto_nid, libcrypto) for scheme in schemes)
    return frozenset(oid for oid in oids if oid is not None)


@functools.cache
def certificate_key_types(security_policy: SecurityPolicy, libcrypto: Libcrypto) -> frozenset[tuple[str, int]] | None:
    """(key OID, bits) pairs the policy's ``certificate_key_preferences`` accept; None when it sets none.

    The key OID is the curve's for an EC key (``1.3.132.0.34`` for P-384), else the key
    algorithm's (``rsaEncryption``, ``rsassaPss``).
    """
    names = security_policy.certificate_keys
    if names is None:
        return None
    keys = ((_nid_oid(CERTIFICATE_KEYS[name].libcrypto_nid, libcrypto), CERTIFICATE_KEYS[name].bits) for name in names)
    return frozenset((oid, bits) for oid, bits in keys if oid is not None)


# ---- what a client offers ----


def suite_available(suite: int, libcrypto: Libcrypto) -> bool:
    """``s2n_cipher_suites_init``: a suite is usable when one of its record ciphers is (and PQ, for KEM suites)."""
    info = CIPHER_SUITES[suite]
    if info.key_exchange in ("kem", "hybrid_ecdhe_kem") and not libcrypto.pq:
        return False
    return any(cipher not in libcrypto.unavailable_record_ciphers for cipher in info.record_ciphers)


def offered_cipher_suites(security_policy: SecurityPolicy, libcrypto: Libcrypto) -> tuple[int, ...]:
    """The ClientHello cipher suites, TLS_EMPTY_RENEGOTIATION_INFO_SCSV included where s2n appends it.

    >>> offered_cipher_suites(policy("test_all_tls13"), OPENSSL_3) == (0x1301, 0x1302, 0x1303)
    True
    """
    highest = security_policy.maximum_version
    offered = tuple(
        suite
        for suite in security_policy.cipher_suites
        if suite_available(suite, libcrypto) and CIPHER_SUITES[suite].minimum_version <= highest
    )
    tls12_possible = any(CIPHER_SUITES[suite].minimum_version < TLS13 for suite in offered)
    return (*offered, TLS_EMPTY_RENEGOTIATION_INFO_SCSV) if tls12_possible else offered


def offered_groups(security_policy: SecurityPolicy, libcrypto: Libcrypto) -> tuple[int, ...]:
    """The supported_groups list: the KEM groups first (TLS 1.3 with a PQ libcrypto), then the ECC groups."""
    kem_groups = security_policy.kem_groups if libcrypto.pq and security_policy.supports_tls13 else ()
    return (*kem_groups, *security_policy.groups)


def key_share_groups(security_policy: SecurityPolicy, libcrypto: Libcrypto) -> tuple[int, ...]:
    """The groups of the key shares a first ClientHello carries, in order.

    s2n sends at most two shares: one for its most preferred available KEM group (with a
    PQ libcrypto), then one for its most preferred ECC group. No key_share without TLS 1.3.
    """
    if not security_policy.supports_tls13:
        return ()
    kem_share = security_policy.kem_groups[:1] if libcrypto.pq else ()
    return (*kem_share, *security_policy.groups[:1])


def offered_signature_schemes(security_policy: SecurityPolicy, libcrypto: Libcrypto) -> tuple[int, ...]:
    """The signature_algorithms list: the policy's schemes usable at the highest version offered."""
    highest = security_policy.maximum_version

    def sendable(scheme: int) -> bool:
        info = SIGNATURE_SCHEMES[scheme]
        pss = info.signature_algorithm in ("rsa_pss_rsae", "rsa_pss_pss")
        return info.minimum_version <= highest and (libcrypto.rsa_pss or not pss)

    return tuple(scheme for scheme in security_policy.signature_schemes if sendable(scheme))


def supported_versions(security_policy: SecurityPolicy) -> tuple[int, ...]:
    """The supported_versions list, highest first (empty: the extension is not sent)."""
    if not security_policy.supports_tls13:
        return ()
    return tuple(range(security_policy.maximum_version, security_policy.minimum_version - 1, -1))


# Which ClientHello extensions s2n sends on a first handshake with default connection
# settings, by s2n name: each one's should_send() (tls/extensions/*.c) for that case.
_SENDS: Mapping[str, Callable[[SecurityPolicy, Libcrypto, bool], bool]] = {
    "client_supported_versions": lambda p, _lib, _sni: p.supports_tls13,
    "client_supported_groups": lambda p, _lib, _sni: p.ecc_extension_required,
    "client_key_share": lambda p, _lib, _sni: p.supports_tls13,
    "client_signature_algorithms": lambda p, _lib, _sni: p.maximum_version >= TLS12,
    "client_server_name": lambda _p, _lib, sni: sni,
    "client_ec_point_format": lambda p, _lib, _sni: p.ecc_extension_required,
    "client_pq_kem": lambda p, lib, _sni: p.pq_kem_extension_required and lib.pq,
    "client_ems": lambda _p, _lib, _sni: True,
}
# Sent only when configured (ALPN, OCSP, SCT, max fragment length, tickets, QUIC, PSKs,
# early data, NPN) or on a retry or renegotiation: never in a default first ClientHello.
_CONFIGURED_ONLY = frozenset({
    "client_alpn", "client_npn", "client_cert_status_request", "client_sct_list", "client_max_frag_len",
    "client_session_ticket", "client_renegotiation_info", "client_cookie", "quic_transport_parameters",
    "psk_key_exchange_modes", "client_early_data_indication", "client_psk",
})  # fmt: skip


def client_hello_extensions(
    security_policy: SecurityPolicy, libcrypto: Libcrypto, *, server_name: bool = True
) -> tuple[int, ...]:
    """The extension types of a first ClientHello, in s2n's order (default settings, SNI if ``server_name``)."""
    types: list[int] = []
    for extension_type, name in CLIENT_HELLO_EXTENSIONS:
        if name in _CONFIGURED_ONLY:
            continue
        if name not in _SENDS:
            raise LookupError(f"no rule for s2n's ClientHello extension {name} ({extension_type})")
        if _SENDS[name](security_policy, libcrypto, server_name):
            types.append(extension_type)
    return tuple(types)


@dataclass(frozen=True)
class ClientHelloOffer:
    """What s2n's first ClientHello carries under a policy, per field (IANA values, s2n's order)."""

    legacy_version: int
    cipher_suites: tuple[int, ...]
    extensions: tuple[int, ...]
    supported_versions: tuple[int, ...]
    groups: tuple[int, ...]
    key_share_groups: tuple[int, ...]
    signature_schemes: tuple[int, ...]


@functools.lru_cache(maxsize=256)  # a pure function of frozen values, asked for by every client handshake
def client_hello_offer(
    security_policy: SecurityPolicy, libcrypto: Libcrypto, *, server_name: bool = True
) -> ClientHelloOffer:
    """Everything policy-dependent in s2n's first ClientHello, on ``libcrypto``."""
    return ClientHelloOffer(
        legacy_version=min(security_policy.maximum_version, TLS12),
        cipher_suites=offered_cipher_suites(security_policy, libcrypto),
        extensions=client_hello_extensions(security_policy, libcrypto, server_name=server_name),
        supported_versions=supported_versions(security_policy),
        groups=offered_groups(security_policy, libcrypto),
        key_share_groups=key_share_groups(security_policy, libcrypto),
        signature_schemes=offered_signature_schemes(security_policy, libcrypto),
    )
