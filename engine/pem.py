"""Certificates, keys and trust anchors from PEM files, for ``EngineConfig``.

    config = EngineConfig(certificates=(load_certified_key("server.pem", "server.key"),))
    config = EngineConfig(trust_anchors=load_trust_anchors("ca.pem"))

Every failure is a ``ConfigurationError`` whose one-line message names the file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key

from engine.config import CertifiedKey
from engine.crypto.signer import KeySigner
from engine.errors import ConfigurationError

__all__ = ["load_certified_key", "load_trust_anchors"]

StrPath = str | os.PathLike[str]

# What a trust directory's files are called: PEM suffixes, and OpenSSL's hash links (c_rehash: 8 hex digits, a
# dot, a number) as /etc/ssl/certs holds them beside the .pem files they point to.
_ANCHOR_FILE = re.compile(r"(?:.*\.(?:pem|crt|cer)|[0-9a-f]{8}\.[0-9]+)", re.IGNORECASE)


def _read(path: StrPath) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise ConfigurationError(f"{os.fspath(path)}: cannot read: {error.strerror or error}") from None


def _certificates(path: StrPath) -> list[x509.Certificate]:
    """Every CERTIFICATE block of the PEM file at ``path``, in order (other blocks, such as a key, are skipped)."""
    data = _read(path)  # outside the try: its ConfigurationError is a ValueError too
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ConfigurationError(f"{os.fspath(path)}: no PEM certificate in the file, or one does not parse") from None


def load_certified_key(cert_path: StrPath, key_path: StrPath, *, password: bytes | None = None) -> CertifiedKey:
    """A server's certificate chain (leaf first, as in the file) and a signer for its private key.

    The key file holds one PEM private key (PKCS#8, or the traditional RSA/EC form), encrypted
    when ``password`` is given; it may be the certificate file itself. The key must be the
    leaf's, RSA or ECDSA on P-256/P-384/P-521 (``CertifiedKey.check``).

        >>> served = load_certified_key("server.pem", "server.key")  # doctest: +SKIP
        >>> config = EngineConfig(certificates=(served,))  # doctest: +SKIP
    """
    chain = tuple(certificate.public_bytes(Encoding.DER) for certificate in _certificates(cert_path))
    key_pem = _read(key_path)
    try:
        private_key = load_pem_private_key(key_pem, password)
    except (ValueError, TypeError) as error:
        # TypeError: a password for a plain key, or none for an encrypted one.
        raise ConfigurationError(f"{os.fspath(key_path)}: no usable PEM private key: {error}") from None
    if not isinstance(private_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ConfigurationError(f"{os.fspath(key_path)}: a {type(private_key).__name__} cannot sign for TLS 1.3 here")
    certified = CertifiedKey(chain, KeySigner(private_key))
    try:
        certified.check()
    except ConfigurationError as error:
        raise ConfigurationError(f"{os.fspath(cert_path)}, {os.fspath(key_path)}: {error}") from None
    return certified


def load_trust_anchors(path: StrPath) -> tuple[x509.Certificate, ...]:
    """The certificates a client trusts: a PEM file of one or more, or a directory of such files.

    In a directory, the files named ``*.pem``, ``*.crt``, ``*.cer`` or as OpenSSL's hash links
    (``1a2b3c4d.0``) are read, in name order, without recursion; each must hold a certificate.
    A certificate present twice (a hash link and its target) is kept once.

        >>> anchors = load_trust_anchors("/etc/ssl/certs")  # doctest: +SKIP
    """
    directory = Path(path)
    if not directory.is_dir():
        return tuple(_certificates(path))
    try:
        names = sorted(entry.name for entry in directory.iterdir())
    except OSError as error:
        raise ConfigurationError(f"{os.fspath(path)}: cannot list: {error.strerror or error}") from None
    anchors: dict[bytes, x509.Certificate] = {}
    for name in names:
        file = directory / name
        if _ANCHOR_FILE.fullmatch(name) and file.is_file():
            for certificate in _certificates(file):
                anchors.setdefault(certificate.public_bytes(Encoding.DER), certificate)
    if not anchors:
        raise ConfigurationError(f"{os.fspath(path)}: no certificate files in the directory")
    return tuple(anchors.values())
