"""The PEM files every peer reads: tlsdiff's deterministic test certificates, written once per directory.

For each certificate type there is a chain and a key for ``localhost`` (the name every
cell verifies) and a chain for ``SNI_HOST`` (same key: served beside the first, it is
chosen only when the client asks for that name), and one ``ca.pem`` that issued them all::

    cert_dir = write_certificates(tmp_path)
    chain_path(cert_dir, "rsa-2048"), key_path(cert_dir, "rsa-2048"), ca_path(cert_dir)
"""

from __future__ import annotations

from pathlib import Path

from tlsdiff.atomic import write_atomic
from tlsdiff.certs import certificate_for

__all__ = [
    "DEFAULT_HOST",
    "INTEROP_CERT_TYPES",
    "SNI_HOST",
    "ca_path",
    "chain_path",
    "key_path",
    "write_certificates",
]

INTEROP_CERT_TYPES: tuple[str, ...] = ("ecdsa-p256", "rsa-2048", "rsa-pss-2048")
DEFAULT_HOST = "localhost"
SNI_HOST = "interop.example"
_COMPLETE = ".complete"


def chain_path(cert_dir: Path, cert_type: str, host: str = DEFAULT_HOST) -> Path:
    """The certificate (leaf only; the CA is the trust anchor) of ``cert_type`` for ``host``."""
    return cert_dir / f"{cert_type}@{host}.pem"


def key_path(cert_dir: Path, cert_type: str) -> Path:
    """The PKCS#8 private key of ``cert_type`` (one key serves every name)."""
    return cert_dir / f"{cert_type}.key.pem"


def ca_path(cert_dir: Path) -> Path:
    """The CA certificate that issued every leaf."""
    return cert_dir / "ca.pem"


def write_certificates(directory: Path) -> Path:
    """Write every file into ``directory/certs`` (once: a later call finds them) and return that folder."""
    cert_dir = directory / "certs"
    if (cert_dir / _COMPLETE).exists():
        return cert_dir
    cert_dir.mkdir(parents=True, exist_ok=True)
    for cert_type in INTEROP_CERT_TYPES:
        for host in (DEFAULT_HOST, SNI_HOST):
            write_atomic(chain_path(cert_dir, cert_type, host), certificate_for(cert_type, host).chain_pem)
        bundle = certificate_for(cert_type)
        write_atomic(key_path(cert_dir, cert_type), bundle.key_pem)
        write_atomic(ca_path(cert_dir), bundle.ca_pem)
    write_atomic(cert_dir / _COMPLETE, b"")
    return cert_dir
