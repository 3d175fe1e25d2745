"""Tests for tlsdiff.certs: deterministic test certificates."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import shutil
import ssl
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Imported by name on purpose: this also checks that pytest does not collect
# `certificate_for` or `CertificateBundle` as tests.
from tlsdiff import certs
from tlsdiff.certs import CERT_TYPES, CertificateBundle, certificate_for

# Regression pins: any change to the derivation changes these. Update them only on a
# deliberate, versioned change of the certificates (and bump the labels' "-v1").
PINNED_CHAIN_SHA256 = {
    "ecdsa-p256": "819cef22b9540c75d2b49d5aac1e1cc754167ac761cb6a5a22d90b2568e624c7",
    "ecdsa-p384": "5630e524dbc38dc5503c06e41646077f0035ba172c257b1c86aa0b17420bf9e6",
    "rsa-2048": "22f4717c46aa8be4ed159b18bd92316bbfc4785fe91f898851b1b270208e6761",
    "rsa-pss-2048": "c9514da5fc357094234b535057d8ebd209b6b7408cef3fe82087f5dd91b9ad63",
}

RSASSA_PSS_OID = "1.2.840.113549.1.1.10"
RSA_ENCRYPTION_OID = "1.2.840.113549.1.1.1"
# AlgorithmIdentifier { id-RSASSA-PSS } with absent parameters, in DER.
PSS_ALGORITHM_ID_DER = bytes.fromhex("300b06092a864886f70d01010a")

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not found")


def _leaf(cert_type: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(certificate_for(cert_type).chain_pem)


def _ca(cert_type: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(certificate_for(cert_type).ca_pem)


def _public_numbers(key: object) -> object:
    assert isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
    return key.public_numbers()


def _pem_body(pem: bytes) -> bytes:
    lines = pem.strip().splitlines()
    return base64.b64decode(b"".join(lines[1:-1]))


def _chain_digests() -> dict[str, str]:
    return {t: hashlib.sha256(certificate_for(t).chain_pem).hexdigest() for t in CERT_TYPES}


def test_cert_types_are_exactly_the_four_names() -> None:
    assert CERT_TYPES == ("ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-pss-2048")
    assert set(certs.__all__) == {
        "CERT_TYPES", "EXTRA_CERT_TYPES", "TRUST_CHOICES", "CertSpec", "CertificateBundle", "certificate_for",
        "trust_anchors",
    }  # fmt: skip


@pytest.mark.parametrize("cert_type", CERT_TYPES)
def test_fields_and_pem_parse(cert_type: str) -> None:
    tc = certificate_for(cert_type)
    assert isinstance(tc, CertificateBundle)
    assert tc.cert_type == cert_type
    assert tc.server_name == "localhost"
    assert tc.chain_pem.count(b"-----BEGIN CERTIFICATE-----") == 1  # leaf only
    assert tc.key_pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")  # PKCS#8
    x509.load_pem_x509_certificate(tc.chain_pem)
    x509.load_pem_x509_certificate(tc.ca_pem)


@pytest.mark.parametrize("cert_type", CERT_TYPES)
def test_private_key_matches_certificate(cert_type: str) -> None:
    tc = certificate_for(cert_type)
    cert_numbers = _public_numbers(_leaf(cert_type).public_key())
    assert _public_numbers(tc.private_key.public_key()) == cert_numbers
    loaded = serialization.load_pem_private_key(tc.key_pem, password=None)
    assert _public_numbers(loaded.public_key()) == cert_numbers


@pytest.mark.parametrize("cert_type", CERT_TYPES)
def test_key_types(cert_type: str) -> None:
    key = certificate_for(cert_type).private_key
    if cert_type.startswith("ecdsa"):
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        expected = ec.SECP256R1 if cert_type == "ecdsa-p256" else ec.SECP384R1
        assert isinstance(key.curve, expected)
    else:
        assert isinstance(key, rsa.RSAPrivateKey)
        numbers = key.private_numbers()
        assert key.key_size == 2048
        assert numbers.public_numbers.e == 65537
        assert numbers.p.bit_length() == numbers.q.bit_length() == 1024
        assert abs(numbers.p - numbers.q).bit_length() > 900  # from different windows


def test_rsa_leaves_use_different_keys() -> None:
    plain = certificate_for("rsa-2048").private_key
    pss = certificate_for("rsa-pss-2048").private_key
    assert isinstance(plain, rsa.RSAPrivateKey)
    assert isinstance(pss, rsa.RSAPrivateKey)
    assert plain.public_key().public_numbers().n != pss.public_key().public_numbers().n


@pytest.mark.parametrize("cert_type", CERT_TYPES)
def test_regeneration_is_byte_identical(cert_type: str) -> None:
    first = certificate_for(cert_type)
    certificate_for.cache_clear()
    second = certificate_for(cert_type)
    assert second is not first
    assert second.chain_pem == first.chain_pem
    assert second.key_pem == first.key_pem
    assert second.ca_pem == first.ca_pem


def test_chain_pems_match_pinned_digests() -> None:
    assert _chain_digests() == PINNED_CHAIN_SHA256


def test_determinism_across_processes() -> None:
    code = (
        "import hashlib, json\n"
        "from tlsdiff.certs import CERT_TYPES, certificate_for\n"
        "print(json.dumps({t: hashlib.sha256(certificate_for(t).chain_pem).hexdigest()"
        " for t in CERT_TYPES}, sort_keys=True))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert json.loads(result.stdout) == _chain_digests()


def test_all_types_share_one_ca() -> None:
    assert len({certificate_for(t).ca_pem for t in CERT_TYPES}) == 1


def test_ca_certificate() -> None:
    ca = _ca("ecdsa-p256")
    assert ca.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "tlsdiff test CA"
    assert ca.issuer == ca.subject
    ca.verify_directly_issued_by(ca)  # self-signed
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
    assert ca.signature_algorithm_oid == x509.SignatureAlgorithmOID.ECDSA_WITH_SHA256
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert not usage.value.digital_signature
    ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)


@pytest.mark.parametrize("cert_type", CERT_TYPES)
def test_leaf_verifies_under_ca(cert_type: str) -> None:
    leaf = _leaf(cert_type)
    leaf.verify_directly_issued_by(_ca(cert_type))
    assert leaf.signature_algorithm_oid == x509.SignatureAlgorithmOID.ECDSA_WITH_SHA256


@pytest.mark.parametrize("cert_type", CERT_TYPES)
def test_leaf_names_validity_and_serial(cert_type: str) -> None:
    leaf = _leaf(cert_type)
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "localhost"
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert leaf.not_valid_before_utc == datetime(2025, 1, 1, tzinfo=UTC)
    assert leaf.not_valid_after_utc == datetime(2045, 1, 1, tzinfo=UTC)
    assert 0 < leaf.serial_number < 2**63


def test_serials_are_distinct() -> None:
    serials = {_leaf(t).serial_number for t in CERT_TYPES} | {_ca("rsa-2048").serial_number}
    assert len(serials) == len(CERT_TYPES) + 1


@pytest.mark.parametrize("cert_type", CERT_TYPES)
def test_leaf_extensions(cert_type: str) -> None:
    leaf = _leaf(cert_type)
    constraints = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert not constraints.ca
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature
    # keyEncipherment only for the rsaEncryption key; RFC 4055 forbids it for PSS keys.
    assert usage.value.key_encipherment == (cert_type == "rsa-2048")
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = _ca(cert_type).extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest


def test_rsa_pss_spki_algorithm() -> None:
    pss_der = _pem_body(certificate_for("rsa-pss-2048").chain_pem)
    # SPKI = SEQUENCE { AlgorithmIdentifier { id-RSASSA-PSS }, BIT STRING (270 bytes) }.
    assert pss_der.count(PSS_ALGORITHM_ID_DER + bytes.fromhex("0382010f00")) == 1
    assert _leaf("rsa-pss-2048").public_key_algorithm_oid.dotted_string == RSASSA_PSS_OID
    assert _leaf("rsa-2048").public_key_algorithm_oid.dotted_string == RSA_ENCRYPTION_OID


def test_rsa_pss_private_key_is_pkcs8_with_pss_oid() -> None:
    tc = certificate_for("rsa-pss-2048")
    der = _pem_body(tc.key_pem)
    # SEQUENCE (long form, 2 length bytes) { INTEGER 0, AlgorithmIdentifier, OCTET STRING ... }
    assert der[:2] == b"\x30\x82"
    assert der[4:7] == b"\x02\x01\x00"
    assert der[7 : 7 + len(PSS_ALGORITHM_ID_DER)] == PSS_ALGORITHM_ID_DER
    assert der[7 + len(PSS_ALGORITHM_ID_DER)] == 0x04
    loaded = serialization.load_pem_private_key(tc.key_pem, password=None)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    assert isinstance(tc.private_key, rsa.RSAPrivateKey)
    assert loaded.private_numbers() == tc.private_key.private_numbers()


@needs_openssl
def test_openssl_sees_rsassa_pss_public_key(tmp_path: Path) -> None:
    text = subprocess.run(
        ["openssl", "x509", "-noout", "-text"],
        input=certificate_for("rsa-pss-2048").chain_pem,
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert "Public Key Algorithm: rsassaPss" in text
    key_path = tmp_path / "key.pem"
    key_path.write_bytes(certificate_for("rsa-pss-2048").key_pem)
    subprocess.run(["openssl", "pkey", "-in", str(key_path), "-check", "-noout"], check=True)


@needs_openssl
@pytest.mark.parametrize("cert_type", CERT_TYPES)
def test_openssl_verifies_chain(cert_type: str, tmp_path: Path) -> None:
    tc = certificate_for(cert_type)
    (tmp_path / "ca.pem").write_bytes(tc.ca_pem)
    (tmp_path / "leaf.pem").write_bytes(tc.chain_pem)
    subprocess.run(
        ["openssl", "verify", "-purpose", "sslserver", "-CAfile", "ca.pem", "leaf.pem"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )


def _tls13_handshake(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext) -> ssl.SSLObject:
    """Drive a TLS handshake over memory BIOs; returns the client side."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_ctx.wrap_bio(c_in, c_out, server_hostname="localhost")
    server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(10):
        for name, side in (("client", client), ("server", server)):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
            s_in.write(c_out.read())
            c_in.write(s_out.read())
        if all(done.values()):
            return client
    raise AssertionError("handshake did not finish")


@pytest.mark.parametrize("cert_type", CERT_TYPES)
def test_tls13_handshake_with_python_ssl(cert_type: str, tmp_path: Path) -> None:
    tc = certificate_for(cert_type)
    (tmp_path / "leaf.pem").write_bytes(tc.chain_pem)
    (tmp_path / "key.pem").write_bytes(tc.key_pem)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    server_ctx.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "key.pem")
    client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    client_ctx.load_verify_locations(cadata=tc.ca_pem.decode())
    client = _tls13_handshake(server_ctx, client_ctx)
    assert client.version() == "TLSv1.3"
    peer = client.getpeercert(binary_form=True)
    assert peer == _pem_body(tc.chain_pem)


def test_unknown_type_raises_value_error() -> None:
    with pytest.raises(ValueError, match="known types") as excinfo:
        certificate_for("rsa-1024")
    message = str(excinfo.value)
    assert "\n" not in message
    assert all(name in message for name in CERT_TYPES)


@pytest.mark.parametrize("length", [0, 1, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000])
def test_der_length_round_trip(length: int) -> None:
    encoded = certs._der_tlv(0x04, bytes(length))
    tag, start, end = certs._der_read(encoded, 0)
    assert (tag, end - start, end) == (0x04, length, len(encoded))
    assert (len(encoded) - length - 1 == 1) == (length < 0x80)  # short form only below 128
