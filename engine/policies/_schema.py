"""The row types of the generated ``_data`` module: s2n-tls's tables, one row per C struct.

Protocol versions are wire values (``0x0303`` is TLS 1.2); 0 means "not set" where s2n
uses ``S2N_UNKNOWN_PROTOCOL_VERSION``. Names are s2n's, without the ``s2n_`` prefix.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["CertificateKeyInfo", "CipherSuiteInfo", "CurveInfo", "KemGroupInfo", "PolicyRow", "SignatureSchemeInfo"]


class CipherSuiteInfo(NamedTuple):
    """A ``struct s2n_cipher_suite``: usable when any of its record ciphers is available."""

    name: str
    minimum_version: int
    record_ciphers: tuple[str, ...]
    key_exchange: str


class SignatureSchemeInfo(NamedTuple):
    """A ``struct s2n_signature_scheme``.

    ``libcrypto_nid`` is the NID s2n compares a certificate's signature algorithm with
    (``X509_get_signature_nid``), by its libcrypto name without ``NID_``: ``ecdsa_with_SHA384``,
    ``rsassaPss`` for every RSA-PSS scheme. The ML-DSA schemes name the ML-DSA NID
    (``MLDSA87``), which s2n uses only on a libcrypto with ML-DSA; elsewhere it is NID_undef.
    """

    name: str
    signature_algorithm: str
    minimum_version: int
    maximum_version: int
    libcrypto_nid: str


class CertificateKeyInfo(NamedTuple):
    """A ``struct s2n_certificate_key``: the key type's NID (the curve's, for EC keys) and its size in bits.

    The NID is named as in ``SignatureSchemeInfo.libcrypto_nid`` (``X9_62_prime256v1``,
    ``rsaEncryption``, ``rsassaPss``, ``MLDSA87``).
    """

    libcrypto_nid: str
    bits: int


class CurveInfo(NamedTuple):
    """A ``struct s2n_ecc_named_curve``: its name and the size of a key share."""

    name: str
    share_size: int


class KemGroupInfo(NamedTuple):
    """A ``struct s2n_kem_group`` (TLS 1.3 hybrid or pure ML-KEM group); ``curve`` 0 means none."""

    name: str
    curve: int
    kem: str
    kem_public_key_size: int
    send_kem_first: bool


class PolicyRow(NamedTuple):
    """A ``struct s2n_security_policy`` with its preference lists resolved to IANA values.

    ``s2n_struct`` names the struct (``security_policy_<s2n_struct>``): several policy
    names can share one (``default`` is ``20251014``).

    ``ecc_extension_required`` and ``pq_kem_extension_required`` are what
    ``s2n_security_policies_init`` computes from the cipher suites: the first decides
    whether a ClientHello carries supported_groups and ec_point_formats, the second the
    TLS 1.2 pq_kem_parameters extension. ``hybrid_kem_length_prefixed`` is true when the
    KEM preferences use draft revision 0 (length-prefixed hybrid key shares).
    """

    s2n_struct: str
    minimum_version: int
    cipher_suites: tuple[int, ...]
    allow_chacha20_boosting: bool
    groups: tuple[int, ...]
    kem_groups: tuple[int, ...]
    hybrid_kem_length_prefixed: bool
    signature_schemes: tuple[int, ...]
    certificate_signature_schemes: tuple[int, ...] | None
    certificate_keys: tuple[str, ...] | None
    strongly_preferred_groups: tuple[int, ...] | None
    certificate_preferences_apply_locally: bool
    rules: tuple[str, ...]
    ecc_extension_required: bool
    pq_kem_extension_required: bool
