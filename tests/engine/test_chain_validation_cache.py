"""Path validation is remembered only while the path is valid, and only when it succeeded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509

from engine.errors import BadCertificateError
from engine.handshake.certificates import verify_chain
from tlsdiff.certs import certificate_for, trust_anchors


def _leaf_and_ca(cert_type: str = "ecdsa-p256") -> tuple[x509.Certificate, x509.Certificate]:
    bundle = certificate_for(cert_type)
    return x509.load_pem_x509_certificate(bundle.chain_pem), x509.load_pem_x509_certificate(bundle.ca_pem)


def test_a_remembered_path_is_not_reused_once_the_leaf_expired() -> None:
    leaf, ca = _leaf_and_ca()
    inside = leaf.not_valid_before_utc + timedelta(days=1)
    assert verify_chain([leaf], [ca], "localhost", inside) == [leaf, ca]
    assert verify_chain([leaf], [ca], "localhost", inside) == [leaf, ca]  # (from memory)
    with pytest.raises(BadCertificateError):
        verify_chain([leaf], [ca], "localhost", leaf.not_valid_after_utc + timedelta(seconds=1))
    with pytest.raises(BadCertificateError):
        verify_chain([leaf], [ca], "localhost", leaf.not_valid_before_utc - timedelta(seconds=1))


def test_the_name_is_part_of_what_is_remembered() -> None:
    leaf, ca = _leaf_and_ca("rsa-2048")
    assert verify_chain([leaf], [ca], "localhost") == [leaf, ca]
    with pytest.raises(BadCertificateError):
        verify_chain([leaf], [ca], "other.test")
    assert verify_chain([leaf], [ca], None) == [leaf, ca]  # no name checked: a verify_host callback did


def test_a_refusal_is_not_remembered() -> None:
    leaf, ca = _leaf_and_ca("ecdsa-p384")
    before = leaf.not_valid_before_utc - timedelta(days=1)
    with pytest.raises(BadCertificateError):
        verify_chain([leaf], [ca], "localhost", before)
    assert verify_chain([leaf], [ca], "localhost") == [leaf, ca]


def test_other_anchors_are_not_answered_from_memory() -> None:
    leaf, ca = _leaf_and_ca()
    (stranger,) = (x509.load_pem_x509_certificate(pem) for pem in trust_anchors("namesake", "ecdsa-p256"))
    assert verify_chain([leaf], [ca], "localhost") == [leaf, ca]
    with pytest.raises(BadCertificateError):
        verify_chain([leaf], [stranger], "localhost")
