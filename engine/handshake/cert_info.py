"""What s2n-tls learns about one certificate before checking it against a policy (``struct s2n_cert_info``).

``s2n_openssl_x509_get_cert_info`` (crypto/s2n_openssl_x509.c) reads, through the
libcrypto: whether the certificate is self-signed (issuer and subject compare equal
under ``X509_NAME_cmp``), its signature algorithm (``X509_get_signature_nid``) and that
algorithm's digest (``OBJ_find_sigid_algs``), and its public key's type (the curve for
an EC key, else ``EVP_PKEY_id``) and size (``EVP_PKEY_bits``). Here NIDs are OIDs, and
``NID_UNDEF`` stands for an object the libcrypto does not know (``engine.policies``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, mldsa, x448, x25519

from engine.errors import BadCertificateError, DecodeError, UnsupportedCertificateError
from engine.policies import NID_UNDEF, Libcrypto, libcrypto_object
from engine.wire.reader import Reader

__all__ = ["CertInfo", "canonical_name", "cert_info"]

# OpenSSL 3.0's signature algorithms whose digest (OBJ_find_sigid_algs, crypto/objects/obj_xref.txt)
# is NID_sha1: RSA-SHA1, DSA-SHA1-old, DSA-SHA1, RSA-SHA1-2, ecdsa-with-SHA1 and the two
# sha1kdf ECDH schemes (listed from libcrypto.so.3 3.0.19). RSASSA-PSS has no digest there.
_SHA1_SIGNATURE_OIDS = frozenset({
    "1.2.840.113549.1.1.5", "1.3.14.3.2.27", "1.2.840.10040.4.3", "1.3.14.3.2.29", "1.2.840.10045.4.1",
    "1.3.133.16.840.63.0.2", "1.3.133.16.840.63.0.3",
})  # fmt: skip
# EVP_PKEY_bits of the fixed-size key types (ED25519_BITS, X448_BITS, ...).
_FIXED_BITS: tuple[tuple[type, int], ...] = (
    (ed25519.Ed25519PublicKey, 253), (ed448.Ed448PublicKey, 456),
    (x25519.X25519PublicKey, 253), (x448.X448PublicKey, 448),
)  # fmt: skip
# ASN.1 string types X509_NAME_cmp compares case- and space-insensitively (ASN1_MASK_CANON),
# with how each decodes to Unicode: bytes per character, or 0 for UTF-8.
_UTF8, _BMP, _UNIVERSAL = 0x0C, 0x1E, 0x1C
_CANON_STRING_TYPES = {_UTF8: 0, _BMP: 2, _UNIVERSAL: 4, 0x13: 1, 0x14: 1, 0x16: 1, 0x1A: 1}
_SPACE = b" \t\n\v\f\r"  # ossl_isspace


@dataclass(frozen=True)
class CertInfo:
    """``struct s2n_cert_info``: OIDs where s2n has NIDs (NID_UNDEF for an unknown object)."""

    self_signed: bool
    signature_oid: str
    signature_digest_is_sha1: bool
    public_key_oid: str
    public_key_bits: int


@functools.lru_cache(maxsize=256)  # a pure function of the DER (cryptography hashes and compares certificates by it)
def cert_info(certificate: x509.Certificate, libcrypto: Libcrypto) -> CertInfo:
    """``s2n_openssl_x509_get_cert_info`` for ``certificate`` on ``libcrypto``.

    A public key the libcrypto cannot load is S2N_ERR_DECODE_CERTIFICATE (``bad_certificate``);
    a key without size or type is S2N_ERR_CERT_TYPE_UNSUPPORTED (``unsupported_certificate``).
    """
    issuer, subject, key_info = _tbs_fields(certificate.tbs_certificate_bytes)
    issuer_name, subject_name = canonical_name(issuer), canonical_name(subject)
    signature_oid = libcrypto_object(certificate.signature_algorithm_oid.dotted_string, libcrypto)
    key_oid, bits = _public_key(certificate, key_info, libcrypto)
    if bits <= 0 or key_oid == NID_UNDEF:
        raise UnsupportedCertificateError("certificate key of an unknown type or size")
    return CertInfo(
        self_signed=issuer_name is not None and issuer_name == subject_name,
        signature_oid=signature_oid,
        signature_digest_is_sha1=signature_oid in _SHA1_SIGNATURE_OIDS,
        public_key_oid=key_oid,
        public_key_bits=bits,
    )


def _public_key(certificate: x509.Certificate, key_info: bytes, libcrypto: Libcrypto) -> tuple[str, int]:
    """(the key type's or curve's OID, EVP_PKEY_bits) of the certificate's key (``key_info``: its SPKI)."""
    algorithm = libcrypto_object(certificate.public_key_algorithm_oid.dotted_string, libcrypto)
    try:
        if algorithm == NID_UNDEF:
            raise UnsupportedAlgorithm("the libcrypto has no such key type")
        key = certificate.public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise BadCertificateError("certificate public key does not load") from None
    if isinstance(key, ec.EllipticCurvePublicKey):
        # EVP_PKEY_bits is the group order's size: the field size for the curves s2n lists.
        return _named_curve(key_info), key.curve.key_size
    if isinstance(key, mldsa.MLDSA44PublicKey | mldsa.MLDSA65PublicKey | mldsa.MLDSA87PublicKey):
        return algorithm, 8 * len(key.public_bytes_raw())  # aws-lc: the encoded key's size
    fixed = next((bits for kind, bits in _FIXED_BITS if isinstance(key, kind)), None)
    # RSA and DSA (and finite-field DH) keys: the modulus size, as EVP_PKEY_bits.
    return algorithm, fixed if fixed is not None else int(getattr(key, "key_size", 0))


# ---- names, as X509_NAME_cmp compares them ----


def canonical_name(name_der: bytes) -> tuple[tuple[tuple[bytes, int, bytes], ...], ...] | None:
    """A DER Name in OpenSSL's canonical form (``x509_name_canon``); None when it has none.

    Two names are equal under ``X509_NAME_cmp`` when their canonical forms are: per RDN,
    the set of (type, value) with string values in UTF-8, trimmed, inner spaces collapsed
    to one and ASCII lower-cased.

    >>> canonical_name(bytes.fromhex("300f310d300b06035504030c04 20 41 42 20".replace(" ", "")))
    (((b'\\x06\\x03U\\x04\\x03', 12, b'ab'),),)
    """
    rdns: list[tuple[tuple[bytes, int, bytes], ...]] = []
    try:
        for rdn in _children(name_der, 0x30):
            entries = []
            for entry in _children(rdn, 0x31):
                oid, value = _two_children(entry)
                entries.append((oid, *_canonical_value(value)))
            rdns.append(tuple(sorted(entries)))
    except (ValueError, DecodeError):
        return None  # x509_name_canon fails: X509_NAME_cmp reports a difference
    return tuple(rdns)


def _canonical_value(value: bytes) -> tuple[int, bytes]:
    """``asn1_string_canon``: (type, bytes) of one attribute value (its full TLV in ``value``)."""
    tag, content = _content(value)
    width = _CANON_STRING_TYPES.get(tag)
    if width is None:
        return tag, content
    text = content.decode("utf-8") if width == 0 else _decode_fixed_width(content, width)
    data = text.encode("utf-8").strip(_SPACE)
    canon = bytearray()
    for byte in data:
        if byte in _SPACE:
            if not canon.endswith(b" "):
                canon.append(0x20)
        else:
            canon.append(byte + 32 if 0x41 <= byte <= 0x5A else byte)
    return _UTF8, bytes(canon)


def _decode_fixed_width(content: bytes, width: int) -> str:
    """BMPString (2), UniversalString (4) or a one-byte string type (Latin-1), as OpenSSL reads them."""
    if len(content) % width:
        raise ValueError("string length is not a multiple of its character size")
    points = [int.from_bytes(content[i : i + width], "big") for i in range(0, len(content), width)]
    if any(0xD800 <= point <= 0xDFFF or point > 0x10FFFF for point in points):
        raise ValueError("not a Unicode scalar value")
    return "".join(map(chr, points))


# ---- a little DER, through the engine's bounded Reader ----


def _element(reader: Reader) -> tuple[int, bytes, bytes]:
    """(tag, the whole TLV, its content) of the next DER element, read through the bounded ``Reader``."""
    tag, first = reader.uint(1), reader.uint(1)
    length_bytes = bytes(reader.bytes(first & 0x7F)) if first & 0x80 else b""
    length = int.from_bytes(length_bytes, "big") if first & 0x80 else first
    content = bytes(reader.bytes(length))
    return tag, bytes([tag, first]) + length_bytes + content, content


def _content(element: bytes) -> tuple[int, bytes]:
    """(tag, content) of ``element``, which must be exactly one TLV."""
    reader = Reader(element)
    tag, _, content = _element(reader)
    reader.expect_end()
    return tag, content


def _children(element: bytes, tag: int) -> list[bytes]:
    """The elements (each a whole TLV) inside ``element``, which must have ``tag`` and be exactly one TLV."""
    found, content = _content(element)
    if found != tag:
        raise DecodeError(f"expected DER tag {tag:#x}")
    reader = Reader(content)
    children: list[bytes] = []
    while reader.remaining:
        children.append(_element(reader)[1])
    return children


def _two_children(element: bytes) -> tuple[bytes, bytes]:
    """The (type, value) pair of an AttributeTypeAndValue."""
    children = _children(element, 0x30)
    if len(children) != 2:
        raise DecodeError("AttributeTypeAndValue is not a pair")
    return children[0], children[1]


def _tbs_fields(tbs_certificate: bytes) -> tuple[bytes, bytes, bytes]:
    """The issuer, subject and subjectPublicKeyInfo elements of a TBSCertificate (RFC 5280 section 4.1)."""
    try:
        fields = _children(tbs_certificate, 0x30)
        if fields and fields[0][0] == 0xA0:  # [0] EXPLICIT version
            fields = fields[1:]
        # serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, ...
        return fields[2], fields[4], fields[5]
    except (DecodeError, IndexError):
        raise BadCertificateError("TBSCertificate does not parse") from None


def _named_curve(key_info: bytes) -> str:
    """The namedCurve OID in an EC SubjectPublicKeyInfo (RFC 5480); NID_UNDEF for other parameters."""
    try:
        algorithm = _children(key_info, 0x30)[0]
        parameters = _children(algorithm, 0x30)[1]
        tag, content = _content(parameters)
        return _oid_text(content) if tag == 0x06 else NID_UNDEF
    except (ValueError, DecodeError, IndexError):
        return NID_UNDEF


def _oid_text(content: bytes) -> str:
    """The dotted form of an OBJECT IDENTIFIER's content octets."""
    arcs: list[int] = []
    value = 0
    for byte in content:
        value = value << 7 | byte & 0x7F
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if not arcs or content[-1] & 0x80:
        raise ValueError("malformed OBJECT IDENTIFIER")
    first = min(arcs[0] // 40, 2)
    return ".".join(map(str, [first, arcs[0] - 40 * first, *arcs[1:]]))
