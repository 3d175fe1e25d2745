"""Checking the peer's certificate chain and its CertificateVerify signature.

With verification on, s2n-tls also holds the chain to the security policy's certificate
preferences (tls/s2n_x509_validator.c): every certificate as it is read off the wire
(``check_certificate_preferences``), then the key of the last certificate of the
validated chain, the trust anchor (``check_root_certificate``).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from engine.crypto.signer import SignatureScheme, ecdsa_prehashed, scheme_hash
from engine.errors import (
    BadCertificateError,
    CertificateUnknownError,
    DecodeError,
    DecryptError,
    IllegalParameterError,
    UnsupportedCertificateError,
)
from engine.handshake.cert_info import CertInfo, cert_info
from engine.handshake.context import certificate_verify_digest
from engine.handshake.negotiation import schemes_for_certificate
from engine.policies import Libcrypto, SecurityPolicy, certificate_key_types, certificate_signature_oids

__all__ = [
    "MAX_CHAIN_DEPTH",
    "check_certificate_preferences",
    "check_root_certificate",
    "parse_chain",
    "reference_identity",
    "verify_chain",
    "verify_signature",
]


MAX_CHAIN_DEPTH = 7
"""s2n's default ``max_chain_depth`` (tls/s2n_x509_validator.c:58, ``DEFAULT_MAX_CHAIN_DEPTH``)."""

MAX_LEAF_TRAILING_BYTES = 3
"""s2n's ``S2N_MAX_ALLOWED_CERT_TRAILING_BYTES`` (crypto/s2n_openssl_x509.h:26): what may follow the leaf's DER."""


def parse_chain(
    chain: Sequence[bytes], check: Callable[[x509.Certificate], None] | None = None, *, trailing: bool = False
) -> list[x509.Certificate]:
    """Parse DER certificates; a malformed one is a ``bad_certificate``.

    ``check`` sees each certificate as soon as it parses, before the next one is read,
    as s2n's ``s2n_x509_validator_read_cert_chain`` checks them. With ``trailing`` bytes
    after a certificate's DER encoding are read as s2n's ``d2i_X509`` does: ignored, at
    most ``MAX_LEAF_TRAILING_BYTES`` of them after the leaf (tls/s2n_x509_validator.c:592-598,
    ``s2n_openssl_x509_parse`` for the leaf, ``s2n_openssl_x509_parse_without_length_validation``
    for the others; crypto/s2n_openssl_x509.c:64-89). Without it, the RFC reading:
    cert_data is one DER certificate (RFC 8446 section 4.4.2), nothing after it.
    """
    if not chain:
        raise DecodeError("empty certificate list")
    certificates: list[x509.Certificate] = []
    for index, cert_data in enumerate(chain):
        der = (
            _without_trailing_bytes(cert_data, MAX_LEAF_TRAILING_BYTES if index == 0 else None)
            if trailing
            else cert_data
        )
        try:
            certificate = x509.load_der_x509_certificate(der)
        except ValueError:
            raise BadCertificateError("certificate does not parse") from None
        if check is not None:
            check(certificate)
        certificates.append(certificate)
    return certificates


def _without_trailing_bytes(der: bytes, allowed: int | None) -> bytes:
    """``der`` cut to its outer TLV, as ``d2i_X509`` reads it; more than ``allowed`` bytes after it (None: any
    number) are ``S2N_ERR_DECODE_CERTIFICATE`` (crypto/s2n_openssl_x509.c:85-86).

    A header that does not parse leaves ``der`` whole, for the parser to refuse.
    """
    if len(der) < 2:
        return der
    first = der[1]
    if first < 0x80:
        header, length = 2, first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or len(der) < 2 + count:
            return der
        header, length = 2 + count, int.from_bytes(der[2 : 2 + count], "big")
    end = header + length
    if end >= len(der):
        return der
    if allowed is not None and len(der) - end > allowed:
        raise BadCertificateError(f"{len(der) - end} bytes after the leaf certificate: more than {allowed}")
    return der[:end]


@functools.lru_cache(maxsize=256)  # a pure function of the name, which a client checks handshake after handshake
def reference_identity(name: str) -> x509.DNSName | x509.IPAddress:
    """What a certificate must name for ``name``: an iPAddress SAN for an IP literal, else a DNS name.

    RFC 6125 section 6.2.1 (reference identities: an IP address is matched against
    iPAddress entries only, never a DNS name or the CN). s2n-tls does the same with one
    string: its default ``verify_host`` (tls/s2n_connection.c ``s2n_default_verify_host``)
    compares the server name with each DNS and URI SAN, and with each iPAddress SAN
    printed by ``inet_ntop`` (tls/s2n_x509_validator.c
    ``s2n_verify_host_information_san_entry``), and refuses a CN that parses as an IP
    address (unless ``s2n_config_allow_ip_in_cn``).
    """
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def verify_chain(
    chain: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate],
    server_name: str | None,
    now: datetime | None = None,
) -> list[x509.Certificate]:
    """Path validation to one of ``anchors`` and a match of ``server_name`` (RFC 5280, RFC 6125).

    ``server_name`` is a DNS name or an IP address literal (``reference_identity``), or None
    for no name check (a ``verify_host`` callback did it: ``host_check``). Then the leaf is
    held to the Web PKI's end-entity rules but for its subjectAltName, which may be absent
    (s2n's CN fallback), and its extendedKeyUsage, which must allow serverAuth when present,
    as s2n's ``X509_PURPOSE_SSL_SERVER`` has it (tls/s2n_x509_validator.c:771-777).
    Returns the validated path, leaf first, ending with the trust anchor it reached, as of
    ``now`` (None: the current time). A success is remembered for as long as the path is valid.
    """
    if not anchors:  # cryptography's Store refuses to be empty (ValueError): nothing is trusted
        raise CertificateUnknownError("no trust anchors: no chain can be trusted")
    now = datetime.now(UTC) if now is None else now
    key = (tuple(chain), tuple(anchors), server_name)
    known = _VALIDATED.get(key)
    if known is not None and known.start <= now <= known.end:
        return list(known.path)
    path = _validate(chain, anchors, server_name, now)
    _remember(key, path)
    return path


@dataclass(frozen=True)
class _Validated:
    """A validated path and when it validates: inside every certificate's validity period."""

    path: tuple[x509.Certificate, ...]
    start: datetime
    end: datetime


# Path validation is a pure function of the chain, the anchors, the name and the time, and the time
# enters only through validity periods: a client that sees the same chain handshake after handshake
# (a fuzz job's peer, a benchmark, a client of one server) validates it once per period. Only
# successes are kept, a bounded number of them, the oldest dropped first.
_VALIDATED: dict[tuple[tuple[x509.Certificate, ...], tuple[x509.Certificate, ...], str | None], _Validated] = {}
_MAX_VALIDATED = 64


def _remember(key: tuple[tuple[x509.Certificate, ...], tuple[x509.Certificate, ...], str | None],
              path: list[x509.Certificate]) -> None:  # fmt: skip
    start = max(certificate.not_valid_before_utc for certificate in path)
    end = min(certificate.not_valid_after_utc for certificate in path)
    _VALIDATED[key] = _Validated(tuple(path), start, end)
    while len(_VALIDATED) > _MAX_VALIDATED:
        del _VALIDATED[next(iter(_VALIDATED))]


def _validate(
    chain: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate], server_name: str | None, now: datetime
) -> list[x509.Certificate]:
    builder = _trusting(tuple(anchors)).time(now)
    try:
        if server_name is None:
            unnamed = builder.extension_policies(ee_policy=_ANY_NAME_SERVER, ca_policy=_CA_POLICY)
            return unnamed.build_client_verifier().verify(chain[0], list(chain[1:])).chain
        verifier = builder.build_server_verifier(reference_identity(server_name))
        return verifier.verify(chain[0], list(chain[1:]))
    except (VerificationError, ValueError) as error:
        raise BadCertificateError(f"certificate does not verify: {error}") from None


def _allows_server_auth(policy: Policy, certificate: x509.Certificate, usage: x509.ExtendedKeyUsage | None) -> None:
    """An extension validator: raising refuses the leaf."""
    if usage is not None and not _SERVER_USAGES & set(usage):
        raise ValueError("the leaf's extendedKeyUsage does not allow serverAuth")


_SERVER_USAGES = frozenset({ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE})
_CA_POLICY = ExtensionPolicy.webpki_defaults_ca()
# A client verifier checks no name; this end-entity policy gives it a server's key usage instead of a client's.
_ANY_NAME_SERVER = (
    ExtensionPolicy.webpki_defaults_ee()
    .may_be_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
    .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _allows_server_auth)
)


@functools.lru_cache(maxsize=32)
def _trusting(anchors: tuple[x509.Certificate, ...]) -> PolicyBuilder:
    """A policy builder over a store of ``anchors``, made once per set of anchors (a config's, in practice).

    The store holds only the anchors (immutable, public): a fresh one per handshake would parse
    their keys again on every verification (a sixth of a P-256 chain's verification time).
    """
    return PolicyBuilder().store(Store(list(anchors)))


def check_certificate_preferences(
    certificate: x509.Certificate, security_policy: SecurityPolicy, libcrypto: Libcrypto
) -> None:
    """``s2n_x509_validator_check_cert_preferences``: one certificate of the chain the peer sent.

    Unless the certificate is self-signed, a policy with certificate preferences refuses a
    SHA-1 signature (TLS 1.3 only; the engine speaks nothing else) and the signature
    algorithm must be one of ``certificate_signature_preferences``; the key must be one
    of ``certificate_key_preferences``, self-signed or not. A policy without either list
    accepts every certificate.
    """
    info = cert_info(certificate, libcrypto)
    signatures = certificate_signature_oids(security_policy, libcrypto)
    keys = certificate_key_types(security_policy, libcrypto)
    if (signatures is not None or keys is not None) and not info.self_signed and info.signature_digest_is_sha1:
        # S2N_ERR_CERT_UNTRUSTED
        raise CertificateUnknownError("SHA-1 certificate signature under a policy with certificate preferences")
    if not info.self_signed and signatures is not None and info.signature_oid not in signatures:
        # S2N_ERR_SECURITY_POLICY_INCOMPATIBLE_CERT (s2n_security_policy_validate_cert_signature)
        raise UnsupportedCertificateError(f"certificate signature algorithm {info.signature_oid} not allowed")
    _check_key(info, keys)


def check_root_certificate(
    validated_chain: Sequence[x509.Certificate], security_policy: SecurityPolicy, libcrypto: Libcrypto
) -> None:
    """``s2n_x509_validator_check_root_cert``: the key of the validated chain's last certificate.

    That is the trust anchor the path reached, whether or not the peer sent it.
    """
    if not validated_chain:
        raise CertificateUnknownError("empty validated chain")
    keys = certificate_key_types(security_policy, libcrypto)
    _check_key(cert_info(validated_chain[-1], libcrypto), keys)


def _check_key(info: CertInfo, keys: frozenset[tuple[str, int]] | None) -> None:
    """``s2n_security_policy_validate_cert_key``: the key type (curve) and size must be listed."""
    if keys is not None and (info.public_key_oid, info.public_key_bits) not in keys:
        # S2N_ERR_SECURITY_POLICY_INCOMPATIBLE_CERT
        raise UnsupportedCertificateError(
            f"certificate key {info.public_key_oid} ({info.public_key_bits} bits) not allowed"
        )


@functools.lru_cache(maxsize=64)  # by DER: a server presents the same leaf handshake after handshake
def _public_key(certificate: x509.Certificate) -> CertificatePublicKeyTypes:
    """The certificate's public key, loaded (and its point checked) once per certificate, not per signature."""
    return certificate.public_key()


def verify_signature(certificate: x509.Certificate, scheme: int, transcript_hash: bytes, signature: bytes) -> None:
    """Check a server's CertificateVerify signature over the transcript hash with the leaf's key."""
    if scheme not in schemes_for_certificate(certificate):
        raise IllegalParameterError(f"signature scheme 0x{scheme:04x} does not fit the certificate")
    digest = certificate_verify_digest(scheme, transcript_hash, server=True)
    signature_scheme = SignatureScheme(scheme)
    key = _public_key(certificate)
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, digest, ecdsa_prehashed(signature_scheme))
        elif isinstance(key, rsa.RSAPublicKey):
            algorithm = scheme_hash(signature_scheme)
            pss = padding.PSS(mgf=padding.MGF1(type(algorithm)()), salt_length=algorithm.digest_size)
            key.verify(signature, digest, pss, utils.Prehashed(algorithm))
        else:
            raise IllegalParameterError("unsupported certificate key")
    except InvalidSignature:
        # = https://www.rfc-editor.org/rfc/rfc8446#section-4.4.3
        # = type=implementation
        ## If the verification fails, the receiver MUST terminate the handshake with a "decrypt_error" alert.
        raise DecryptError("CertificateVerify signature does not verify") from None
