"""Checking the peer's certificate chain and its CertificateVerify signature."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from engine.crypto.signer import SignatureScheme, scheme_hash
from engine.errors import BadCertificateError, DecodeError, DecryptError, IllegalParameterError
from engine.handshake.context import certificate_verify_digest
from engine.handshake.negotiation import schemes_for_certificate

__all__ = ["parse_chain", "verify_chain", "verify_signature"]


def parse_chain(chain: Sequence[bytes]) -> list[x509.Certificate]:
    """Parse DER certificates; a malformed one is a ``bad_certificate``."""
    if not chain:
        raise DecodeError("empty certificate list")
    try:
        return [x509.load_der_x509_certificate(der) for der in chain]
    except ValueError:
        raise BadCertificateError("certificate does not parse") from None


def verify_chain(chain: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate], server_name: str) -> None:
    """Path validation to one of ``anchors`` and a host-name match (RFC 5280, RFC 6125)."""
    builder = PolicyBuilder().store(Store(list(anchors))).time(datetime.now(UTC))
    try:
        verifier = builder.build_server_verifier(x509.DNSName(server_name))
        verifier.verify(chain[0], list(chain[1:]))
    except (VerificationError, ValueError) as error:
        raise BadCertificateError(f"certificate does not verify: {error}") from None


def verify_signature(certificate: x509.Certificate, scheme: int, transcript_hash: bytes, signature: bytes) -> None:
    """Check a server's CertificateVerify signature over the transcript hash with the leaf's key."""
    if scheme not in schemes_for_certificate(certificate):
        raise IllegalParameterError(f"signature scheme 0x{scheme:04x} does not fit the certificate")
    digest = certificate_verify_digest(scheme, transcript_hash, server=True)
    algorithm = scheme_hash(SignatureScheme(scheme))
    key = certificate.public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, digest, ec.ECDSA(utils.Prehashed(algorithm)))
        elif isinstance(key, rsa.RSAPublicKey):
            pss = padding.PSS(mgf=padding.MGF1(type(algorithm)()), salt_length=algorithm.digest_size)
            key.verify(signature, digest, pss, utils.Prehashed(algorithm))
        else:
            raise IllegalParameterError("unsupported certificate key")
    except InvalidSignature:
        # = https://www.rfc-editor.org/rfc/rfc8446#section-4.4.3
        # = type=implementation
        ## If the verification fails, the receiver MUST terminate the handshake with a "decrypt_error" alert.
        raise DecryptError("CertificateVerify signature does not verify") from None
