"""engine.pem: certificates, keys and trust anchors from PEM files, and every way a file can be unusable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from engine import ConfigurationError, EngineConfig, load_certified_key, load_trust_anchors
from engine.crypto.signer import KeySigner
from tests.engine.socket_peers import pem_files
from tlsdiff.certs import CERT_TYPES, certificate_for, trust_anchors


def _der(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)


@pytest.mark.parametrize("cert_type", CERT_TYPES)
def test_a_certificate_and_key_round_trip(tmp_path: Path, cert_type: str) -> None:
    cert, key, _ = pem_files(tmp_path, cert_type)
    certified = load_certified_key(cert, key)
    bundle = certificate_for(cert_type)
    assert certified.chain == (_der(bundle.chain_pem),)
    assert isinstance(certified.signer, KeySigner)
    assert certified.signer.public_key().public_numbers() == bundle.private_key.public_key().public_numbers()
    EngineConfig(certificates=(certified,))  # the config's own checks pass


def test_the_chain_file_keeps_its_order_leaf_first(tmp_path: Path) -> None:
    bundle = certificate_for("ecdsa-p256")
    cert = tmp_path / "chain.pem"
    cert.write_bytes(bundle.chain_pem + bundle.ca_pem)
    _, key, _ = pem_files(tmp_path)
    assert load_certified_key(cert, key).chain == (_der(bundle.chain_pem), _der(bundle.ca_pem))


def test_one_file_may_hold_the_certificate_and_its_key(tmp_path: Path) -> None:
    bundle = certificate_for("rsa-2048")
    both = tmp_path / "both.pem"
    both.write_bytes(bundle.key_pem + bundle.chain_pem)
    assert load_certified_key(both, both).chain == (_der(bundle.chain_pem),)


def test_an_encrypted_key_needs_its_password(tmp_path: Path) -> None:
    bundle = certificate_for("ecdsa-p384")
    cert, _, _ = pem_files(tmp_path, "ecdsa-p384")
    key = tmp_path / "encrypted.key"
    key.write_bytes(
        bundle.private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(b"secret"))
    )
    assert load_certified_key(cert, key, password=b"secret").chain == (_der(bundle.chain_pem),)
    for password in (None, b"wrong"):
        with pytest.raises(ConfigurationError, match=r"encrypted\.key"):
            load_certified_key(cert, key, password=password)


def _one_line(error: pytest.ExceptionInfo[ConfigurationError]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_unusable_files_are_named_in_a_one_line_error(tmp_path: Path) -> None:
    cert, key, _ = pem_files(tmp_path)
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"not a PEM file\n")
    cases = [
        (tmp_path / "missing.pem", key, "missing.pem: cannot read"),
        (cert, tmp_path / "missing.key", "missing.key: cannot read"),
        (garbage, key, "garbage.pem: no PEM certificate"),
        (key, key, "ecdsa-p256.key: no PEM certificate"),  # a key file holds no certificate
        (cert, garbage, "garbage.pem: no usable PEM private key"),
        (cert, cert, "ecdsa-p256.pem: no usable PEM private key"),  # a certificate file holds no key
        (cert, tmp_path, f"{tmp_path}: cannot read"),  # a directory cannot be read as a key
    ]
    for cert_path, key_path, expected in cases:
        with pytest.raises(ConfigurationError) as error:
            load_certified_key(cert_path, key_path)
        assert expected in _one_line(error), (cert_path, key_path)


def test_a_key_that_is_not_the_certificates_is_refused(tmp_path: Path) -> None:
    cert, _, _ = pem_files(tmp_path, "ecdsa-p256")
    _, other_key, _ = pem_files(tmp_path, "ecdsa-p384")
    with pytest.raises(ConfigurationError, match="not the certificate's key") as error:
        load_certified_key(cert, other_key)
    assert "ecdsa-p256.pem" in _one_line(error)


def test_a_key_type_tls_1_3_cannot_sign_with_here_is_refused(tmp_path: Path) -> None:
    cert, _, _ = pem_files(tmp_path)
    key = tmp_path / "ed25519.key"
    key.write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    )
    with pytest.raises(ConfigurationError, match=r"ed25519\.key"):
        load_certified_key(cert, key)


def test_trust_anchors_from_a_file_of_several(tmp_path: Path) -> None:
    pems = trust_anchors("ca+stranger", "ecdsa-p256")
    path = tmp_path / "bundle.pem"
    path.write_bytes(b"".join(pems))
    anchors = load_trust_anchors(path)
    assert [anchor.public_bytes(Encoding.DER) for anchor in anchors] == [_der(pem) for pem in pems]


def test_trust_anchors_from_a_directory_with_hash_links(tmp_path: Path) -> None:
    ca, stranger = trust_anchors("ca+stranger", "ecdsa-p256")
    (tmp_path / "b-ca.pem").write_bytes(ca)
    (tmp_path / "a-stranger.crt").write_bytes(stranger)
    os.symlink(tmp_path / "b-ca.pem", tmp_path / "0a1b2c3d.0")  # as c_rehash links them: read once
    (tmp_path / "README").write_text("not a certificate, and not named like one: skipped")
    (tmp_path / "sub.pem").mkdir()  # not a file: skipped, no recursion
    anchors = load_trust_anchors(tmp_path)
    assert sorted(anchor.public_bytes(Encoding.DER) for anchor in anchors) == sorted([_der(ca), _der(stranger)])


def test_unusable_trust_anchors_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("nothing here")
    with pytest.raises(ConfigurationError, match="no certificate files"):
        load_trust_anchors(empty)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "ca.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigurationError, match=r"ca\.pem"):
        load_trust_anchors(broken)
    with pytest.raises(ConfigurationError, match=r"nowhere\.pem: cannot read"):
        load_trust_anchors(tmp_path / "nowhere.pem")
