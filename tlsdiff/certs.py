"""Deterministic test certificates for the TLS 1.3 differential harness.

Every byte here is derived from fixed labels, so the certificates are identical on
every run and every machine and no private key is ever committed to the repository.

Derivation (enough to reproduce it in another language):

* Key labels are ``b"tlsdiff-test-key-v1/" + name`` where ``name`` is ``ca-ecdsa-p256``
  for the CA and the certificate type (``ecdsa-p256``, ``ecdsa-p384``, ``ecdsa-p521``, ``rsa-2048``,
  ``rsa-pss-2048``) for each leaf.  The two RSA leaves therefore get different keys.
* EC keys: ``scalar = (int_be(SHAKE-256(label, L + 8)) mod (n - 1)) + 1`` where ``L`` is
  the byte size of the group order ``n``; the 8 extra bytes make the modulo bias
  negligible and the ``+ 1`` keeps the scalar in ``[1, n - 1]``.
* RSA keys (e = 65537): primes come from windows.  Window ``j`` starts at
  ``b_j = int_be(SHAKE-256(label || uint32_be(j), 128)) | (3 << 1022) | 1`` and holds the
  odd numbers ``b_j + 2i`` for ``0 <= i < 4096``.  The prime of window ``j`` is the
  smallest of those that is still 1024 bits long, has no odd factor below 2048, passes
  Miller-Rabin with the first 40 primes as bases and has ``gcd(e, p - 1) = 1``.  Windows
  without such a number are skipped; ``p`` comes from the first window that yields a
  prime and ``q`` from the next one.  ``d = e^-1 mod lcm(p - 1, q - 1)``; the CRT values
  use the usual definitions (``iqmp = q^-1 mod p``).
* The CA is self-signed (CN "tlsdiff test CA"); every certificate is signed with
  ECDSA-SHA256 using RFC 6979 deterministic nonces, is valid from 2025-01-01T00:00:00Z
  to 2045-01-01T00:00:00Z, and has serial ``(int_be(SHA-256(b"tlsdiff-test-serial-v1/" +
  name)[:8]) & (2^63 - 1)) or 1``.
* ``rsa-pss-2048`` is the ``rsa-2048`` recipe with the RSA-PSS key label, after which the
  SubjectPublicKeyInfo in the TBSCertificate is swapped for one using id-RSASSA-PSS
  (1.2.840.113549.1.1.10, parameters absent) and the TBSCertificate is re-signed, because
  ``cryptography``'s builder can only emit rsaEncryption keys.  Its private key is PKCS#8
  with the same algorithm identifier.
* Named variants (``certificate_for(cert_type, host, dns_san=...)``, for certificate
  selection by SNI): the same key as ``cert_type``; subject CN ``host``; SAN
  ``DNS:host`` (left out when ``dns_san`` is false) and ``IP:127.0.0.1``; serial label
  ``cert_type + "/" + host`` (plus ``"/cn-only"`` without the DNS SAN). The default
  ``host="localhost"`` with the DNS SAN is the plain certificate above.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import ipaddress
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CERT_TYPES",
    "EXTRA_CERT_TYPES",
    "TRUST_CHOICES",
    "CertSpec",
    "CertificateBundle",
    "certificate_for",
    "trust_anchors",
]

# The types every policy is tried with; EXTRA_CERT_TYPES are made on demand for single tests.
CERT_TYPES: tuple[str, ...] = ("ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-pss-2048")
EXTRA_CERT_TYPES: tuple[str, ...] = ("ecdsa-p521",)

# What a client may trust, for the certificate-chain differential: the CA that issued every
# leaf; the leaf itself (s2n validates with X509_V_FLAG_PARTIAL_CHAIN, tls/s2n_x509_validator.c:868);
# the CA beside a stranger; a namesake (the CA's subject name, another key: lookup by name must
# not be enough); a stranger alone; nothing at all.
TRUST_CHOICES: tuple[str, ...] = ("ca", "leaf", "ca+stranger", "namesake", "stranger", "none")

_KEY_LABEL_PREFIX = b"tlsdiff-test-key-v1/"
_SERIAL_LABEL_PREFIX = b"tlsdiff-test-serial-v1/"
_CA_NAME = "ca-ecdsa-p256"
_SERVER_NAME = "localhost"
_NOT_BEFORE = datetime(2025, 1, 1, tzinfo=UTC)
_NOT_AFTER = datetime(2045, 1, 1, tzinfo=UTC)

# Group orders from SEC 2 (checked against `openssl ecparam -param_enc explicit`);
# cryptography does not expose them.
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_P521_ORDER = int(
    "01FF" + "FFFFFFFF" * 7 + "FFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409", 16
)
_P384_ORDER = int(
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
    16,
)

_RSA_E = 65537
_RSA_PRIME_BITS = 1024
_SIEVE_WINDOW = 4096  # odd offsets per window; a 1024-bit prime lies within ~355 odds on average
_SIEVE_LIMIT = 2048
_MR_BASE_COUNT = 40

# DER of OBJECT IDENTIFIER 1.2.840.113549.1.1.10 (id-RSASSA-PSS, RFC 4055).
_OID_RSASSA_PSS_DER = bytes.fromhex("06092a864886f70d01010a")
_TAG_INTEGER = 0x02
_TAG_BIT_STRING = 0x03
_TAG_OCTET_STRING = 0x04
_TAG_SEQUENCE = 0x30

_PrivateKey: TypeAlias = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class CertificateBundle:
    """A leaf certificate, its private key and the CA that issued it."""

    cert_type: str
    chain_pem: bytes
    key_pem: bytes
    ca_pem: bytes
    private_key: _PrivateKey
    server_name: str


@dataclass(frozen=True)
class CertSpec:
    """Which certificate a server is given: its type and the name it carries."""

    cert_type: str
    host: str = _SERVER_NAME
    dns_san: bool = True
    ip_san: bool = True

    def bundle(self) -> CertificateBundle:
        """The certificate, key and CA (see ``certificate_for``)."""
        return certificate_for(self.cert_type, self.host, dns_san=self.dns_san, ip_san=self.ip_san)


# --- tiny DER helpers -------------------------------------------------------------


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der_tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(content)) + content


def _der_read(data: bytes, pos: int) -> tuple[int, int, int]:
    """Return (tag, content start, end) of the single-byte-tag TLV at ``pos``."""
    tag = data[pos]
    first = data[pos + 1]
    if first < 0x80:
        return tag, pos + 2, pos + 2 + first
    count = first & 0x7F
    if count == 0 or pos + 2 + count > len(data):
        raise ValueError("unsupported or truncated DER length")
    length = int.from_bytes(data[pos + 2 : pos + 2 + count], "big")
    start = pos + 2 + count
    if start + length > len(data):
        raise ValueError("truncated DER value")
    return tag, start, start + length


def _der_children(sequence: bytes) -> list[bytes]:
    """Split a DER SEQUENCE into the complete TLV encodings of its elements."""
    tag, pos, end = _der_read(sequence, 0)
    if tag != _TAG_SEQUENCE or end != len(sequence):
        raise ValueError("expected a single DER SEQUENCE")
    children = []
    while pos < end:
        _, _, child_end = _der_read(sequence, pos)
        children.append(sequence[pos:child_end])
        pos = child_end
    return children


def _pem(label: str, der: bytes) -> bytes:
    body = base64.b64encode(der)
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    header = f"-----BEGIN {label}-----\n".encode()
    footer = f"-----END {label}-----\n".encode()
    return header + b"\n".join(lines) + b"\n" + footer


# --- key derivation ---------------------------------------------------------------


def _key_label(name: str) -> bytes:
    return _KEY_LABEL_PREFIX + name.encode()


def _derive_ec_key(name: str, curve: ec.EllipticCurve, order: int) -> ec.EllipticCurvePrivateKey:
    size = (order.bit_length() + 7) // 8
    stream = hashlib.shake_256(_key_label(name)).digest(size + 8)
    scalar = int.from_bytes(stream, "big") % (order - 1) + 1
    return ec.derive_private_key(scalar, curve)


@functools.cache
def _small_odd_primes() -> tuple[int, ...]:
    flags = bytearray([1]) * _SIEVE_LIMIT
    flags[0:2] = b"\x00\x00"
    for i in range(2, math.isqrt(_SIEVE_LIMIT - 1) + 1):
        if flags[i]:
            flags[i * i :: i] = bytes(len(range(i * i, _SIEVE_LIMIT, i)))
    return tuple(i for i in range(3, _SIEVE_LIMIT) if flags[i])


def _miller_rabin_bases() -> tuple[int, ...]:
    return (2, *_small_odd_primes()[: _MR_BASE_COUNT - 1])


def _is_probable_prime(n: int) -> bool:
    """Miller-Rabin with fixed bases: deterministic, and ample for test keys."""
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for base in _miller_rabin_bases():
        x = pow(base, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _window_start(label: bytes, counter: int) -> int:
    stream = hashlib.shake_256(label + counter.to_bytes(4, "big")).digest(_RSA_PRIME_BITS // 8)
    # Top two bits make p*q exactly 2048 bits; the low bit makes the start odd.
    return int.from_bytes(stream, "big") | (3 << (_RSA_PRIME_BITS - 2)) | 1


def _sieve_survivors(start: int) -> list[int]:
    """Offsets i for which start + 2i has no odd prime factor below the sieve limit."""
    alive = bytearray([1]) * _SIEVE_WINDOW
    for prime in _small_odd_primes():
        # Solve start + 2i == 0 (mod prime); (prime + 1) // 2 is the inverse of 2.
        first = (-start * ((prime + 1) // 2)) % prime
        alive[first::prime] = bytes(len(range(first, _SIEVE_WINDOW, prime)))
    return [i for i in range(_SIEVE_WINDOW) if alive[i]]


def _window_prime(label: bytes, counter: int) -> int | None:
    start = _window_start(label, counter)
    for offset in _sieve_survivors(start):
        candidate = start + 2 * offset
        if candidate.bit_length() != _RSA_PRIME_BITS:
            return None  # ran past 2**1024; later offsets are larger still
        if math.gcd(_RSA_E, candidate - 1) == 1 and _is_probable_prime(candidate):
            return candidate
    return None


def _rsa_primes(label: bytes) -> tuple[int, int]:
    primes: list[int] = []
    counter = 0
    # Taking p and q from different windows keeps them far apart (no Fermat factoring).
    while len(primes) < 2:
        prime = _window_prime(label, counter)
        if prime is not None and prime not in primes:
            primes.append(prime)
        counter += 1
    return primes[0], primes[1]


def _derive_rsa_key(name: str) -> rsa.RSAPrivateKey:
    p, q = _rsa_primes(_key_label(name))
    # Carmichael's lambda, as FIPS 186-4 and OpenSSL use, gives the smallest valid d.
    d = pow(_RSA_E, -1, math.lcm(p - 1, q - 1))
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(_RSA_E, p * q),
    )
    return numbers.private_key()


@functools.cache
def _leaf_key(cert_type: str) -> _PrivateKey:
    if cert_type == "ecdsa-p256":
        return _derive_ec_key(cert_type, ec.SECP256R1(), _P256_ORDER)
    if cert_type == "ecdsa-p384":
        return _derive_ec_key(cert_type, ec.SECP384R1(), _P384_ORDER)
    if cert_type == "ecdsa-p521":
        return _derive_ec_key(cert_type, ec.SECP521R1(), _P521_ORDER)
    return _derive_rsa_key(cert_type)


# --- certificates -----------------------------------------------------------------


def _serial(name: str) -> int:
    digest = hashlib.sha256(_SERIAL_LABEL_PREFIX + name.encode()).digest()
    return (int.from_bytes(digest[:8], "big") & ((1 << 63) - 1)) or 1


def _common_name(value: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, value)])


def _sign(builder: x509.CertificateBuilder, ca_key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    return builder.sign(ca_key, hashes.SHA256(), ecdsa_deterministic=True)


@functools.cache
def _make_ca(
    label: str = _CA_NAME, common_name: str = "tlsdiff test CA"
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _derive_ec_key(label, ec.SECP256R1(), _P256_ORDER)
    name = _common_name(common_name)
    usage = x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(_serial(label))
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return key, _sign(builder, key)


def _leaf_key_usage(cert_type: str) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        # RFC 4055 section 1.2 forbids keyEncipherment for id-RSASSA-PSS keys.
        key_encipherment=cert_type == "rsa-2048",
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _serial_label(cert_type: str, host: str, dns_san: bool, ip_san: bool) -> str:
    if host == _SERVER_NAME and dns_san and ip_san:
        return cert_type
    return f"{cert_type}/{host}" + ("" if dns_san else "/cn-only") + ("" if ip_san else "/no-ip")


def _make_leaf(
    cert_type: str, key: _PrivateKey, ca_cert: x509.Certificate, host: str, sans: tuple[bool, bool]
) -> x509.CertificateBuilder:
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    dns_san, ip_san = sans
    names: list[x509.GeneralName] = [x509.DNSName(host)] if dns_san else []
    names += [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))] if ip_san else []
    eku = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH])
    builder = x509.CertificateBuilder()
    if names:  # with neither, the certificate is named by its CN alone
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return (
        builder.subject_name(_common_name(host))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(_serial(_serial_label(cert_type, host, dns_san, ip_san)))
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_leaf_key_usage(cert_type), critical=True)
        .add_extension(eku, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
    )


# --- RSA-PSS re-encoding ----------------------------------------------------------


def _pss_spki_der(key: rsa.RSAPrivateKey) -> bytes:
    rsa_public_key = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    # AlgorithmIdentifier with parameters absent: RFC 4055 allows it and it means "any PSS".
    algorithm = _der_tlv(_TAG_SEQUENCE, _OID_RSASSA_PSS_DER)
    return _der_tlv(_TAG_SEQUENCE, algorithm + _der_tlv(_TAG_BIT_STRING, b"\x00" + rsa_public_key))


def _pss_pkcs8_der(key: rsa.RSAPrivateKey) -> bytes:
    rsa_private_key = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,  # PKCS#1 RSAPrivateKey for RSA
        serialization.NoEncryption(),
    )
    version = _der_tlv(_TAG_INTEGER, b"\x00")
    algorithm = _der_tlv(_TAG_SEQUENCE, _OID_RSASSA_PSS_DER)
    return _der_tlv(_TAG_SEQUENCE, version + algorithm + _der_tlv(_TAG_OCTET_STRING, rsa_private_key))


def _replace_spki(certificate: x509.Certificate, new_spki: bytes, ca_key: ec.EllipticCurvePrivateKey) -> bytes:
    """Swap the TBSCertificate's SubjectPublicKeyInfo and re-sign; returns certificate DER."""
    old_spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    parts = _der_children(certificate.public_bytes(serialization.Encoding.DER))
    if len(parts) != 3:
        raise ValueError("certificate is not SEQUENCE { tbs, algorithm, signature }")
    tbs_fields = _der_children(parts[0])
    # Compare whole TBS elements, so an identical byte run elsewhere can never be hit.
    matches = [i for i, field in enumerate(tbs_fields) if field == old_spki]
    if len(matches) != 1:
        raise ValueError("SubjectPublicKeyInfo not found exactly once in TBSCertificate")
    tbs_fields[matches[0]] = new_spki
    tbs = _der_tlv(_TAG_SEQUENCE, b"".join(tbs_fields))
    signature = ca_key.sign(tbs, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    # parts[1] is the original ecdsa-with-SHA256 AlgorithmIdentifier, still correct.
    return _der_tlv(_TAG_SEQUENCE, tbs + parts[1] + _der_tlv(_TAG_BIT_STRING, b"\x00" + signature))


# --- assembly ---------------------------------------------------------------------


def _public_numbers(
    public_key: object,
) -> rsa.RSAPublicNumbers | ec.EllipticCurvePublicNumbers | None:
    if isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        return public_key.public_numbers()
    return None


def _check_key_matches(chain_pem: bytes, key: _PrivateKey) -> None:
    certified = _public_numbers(x509.load_pem_x509_certificate(chain_pem).public_key())
    if certified is None or certified != _public_numbers(key.public_key()):
        raise RuntimeError("generated certificate does not carry the generated public key")


def _encode_leaf(
    cert_type: str, leaf: x509.Certificate, key: _PrivateKey, ca_key: ec.EllipticCurvePrivateKey
) -> tuple[bytes, bytes]:
    """Return (certificate DER, PKCS#8 private key DER) for the leaf."""
    if cert_type == "rsa-pss-2048":
        if not isinstance(key, rsa.RSAPrivateKey):
            raise TypeError("rsa-pss-2048 needs an RSA key")
        return _replace_spki(leaf, _pss_spki_der(key), ca_key), _pss_pkcs8_der(key)
    key_der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return leaf.public_bytes(serialization.Encoding.DER), key_der


@functools.cache
def certificate_for(
    cert_type: str, host: str = _SERVER_NAME, *, dns_san: bool = True, ip_san: bool = True
) -> CertificateBundle:
    """Return the deterministic leaf certificate, key and CA for ``cert_type``.

    ``cert_type`` must be one of ``CERT_TYPES`` or ``EXTRA_CERT_TYPES``; anything else raises ``ValueError``.
    ``host`` names the certificate (CN, and the DNS SAN unless ``dns_san`` is false);
    it may be a wildcard such as ``*.example.test``. An iPAddress SAN of 127.0.0.1 follows
    unless ``ip_san`` is false; with neither SAN the certificate has no subjectAltName.
    Results are cached; ``certificate_for.cache_clear()`` forces regeneration.
    """
    if cert_type not in CERT_TYPES + EXTRA_CERT_TYPES:
        known = ", ".join(CERT_TYPES + EXTRA_CERT_TYPES)
        raise ValueError(f"unknown certificate type {cert_type!r}; known types: {known}")
    if not host or not host.isascii():
        raise ValueError(f"certificate host must be a non-empty ASCII name, got {host!r}")
    ca_key, ca_cert = _make_ca()
    key = _leaf_key(cert_type)
    leaf = _sign(_make_leaf(cert_type, key, ca_cert, host, (dns_san, ip_san)), ca_key)
    leaf_der, key_der = _encode_leaf(cert_type, leaf, key, ca_key)
    chain_pem = _pem("CERTIFICATE", leaf_der)
    _check_key_matches(chain_pem, key)
    return CertificateBundle(
        cert_type=cert_type,
        chain_pem=chain_pem,
        key_pem=_pem("PRIVATE KEY", key_der),
        ca_pem=_pem("CERTIFICATE", ca_cert.public_bytes(serialization.Encoding.DER)),
        private_key=key,
        server_name=host,
    )


def trust_anchors(choice: str, cert_type: str) -> tuple[bytes, ...]:
    """The PEM certificates a client trusts under ``choice`` (one of ``TRUST_CHOICES``), for ``cert_type``'s leaf."""
    ca = certificate_for(cert_type).ca_pem

    def other(label: str, common_name: str) -> bytes:
        return _pem("CERTIFICATE", _make_ca(label, common_name)[1].public_bytes(serialization.Encoding.DER))

    if choice not in TRUST_CHOICES:
        raise ValueError(f"unknown trust choice {choice!r}; known: {', '.join(TRUST_CHOICES)}")
    if choice == "none":
        return ()
    if choice == "leaf":
        return (certificate_for(cert_type).chain_pem,)
    if choice == "namesake":
        return (other("ca-namesake", "tlsdiff test CA"),)
    stranger = other("ca-stranger", "tlsdiff stranger CA")
    return (ca, stranger) if choice == "ca+stranger" else (ca,) if choice == "ca" else (stranger,)
