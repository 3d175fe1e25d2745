"""The client's check of the server's chain against the policy's certificate preferences, against s2n-tls.

An s2n client holds every certificate it reads off the wire to the policy's
``certificate_signature_preferences`` (and ``certificate_key_preferences``), and the
trust anchor the path reaches to the key preferences (tls/s2n_x509_validator.c). The
engine client does the same (``engine.handshake.certificates``).

The differential cases drive both endpoints until one fails (``_drive``): the failing
side's last bytes (s2n writes its generic close_notify once the blinding delay has
passed) go to the peer, whose reaction is recorded too. Every record, both
directions, must be the same as between two s2n endpoints; so must the side that
fails. The unit cases check ``check_certificate_preferences`` and
``check_root_certificate`` on certificates made here.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, mldsa, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from engine.config import CertifiedKey, Compat, EngineConfig
from engine.connection import ConnectionClosed, TLSConnection
from engine.crypto.signer import KeySigner
from engine.errors import CertificateUnknownError, TLSError, UnsupportedCertificateError
from engine.handshake.cert_info import canonical_name, cert_info
from engine.handshake.certificates import check_certificate_preferences, check_root_certificate
from engine.policies import (
    AWS_LC,
    CERTIFICATE_KEYS,
    NID_UNDEF,
    OPENSSL_3,
    TLS13_POLICY_NAMES,
    Libcrypto,
    certificate_key_types,
    certificate_signature_oids,
    policy,
)
from engine.randomness import SeededRandomSource, StreamLabel
from s2n_bridge import Config, Connection, Mode, S2NError, ServerCertificate
from s2n_bridge._native import profile
from tlsdiff.certs import certificate_for
from tlsdiff.transcript import Record, split_records

# The engine draws randomness as OpenSSL 3.0 does; ci/test.sh runs these on that build only.
pytestmark = pytest.mark.openssl_engine

SEED = 7
SERVER_NAME = "localhost"
CNSA = "cnsa_1_2_interop"
# The combinations s2n<->s2n refuses with the harness's certificates (tests/engine/test_four_way.py):
# the test CA signs with ECDSA-SHA256, which no CNSA certificate_signature_preferences list allows,
# and a P-256 key has no signature scheme under the CNSA policies or 20250211.
INCOMPATIBLE_CERT = "S2N_ERR_SECURITY_POLICY_INCOMPATIBLE_CERT"
NO_SCHEME = "S2N_ERR_NO_VALID_SIGNATURE_SCHEME"
_CNSA_POLICIES = (
    "ELBSecurityPolicy-TLS13-1-3-CNSA2-INTEROP1-FIPS-PQ-2026-07",
    "ELBSecurityPolicy-TLS13-1-2-CNSA2-INTEROP2-FIPS-PQ-2026-07",
    "20260220",
    "20260720",
    CNSA,
)
S2N_REFUSES: dict[tuple[str, str], str] = {
    **{
        (name, cert_type): NO_SCHEME if cert_type == "ecdsa-p256" else INCOMPATIBLE_CERT
        for name in _CNSA_POLICIES
        for cert_type in ("ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-pss-2048")
    },
    ("20250211", "ecdsa-p256"): NO_SCHEME,
}
# The engine's error for each s2n error (the alert only shows with Compat.rfc()).
ENGINE_ERRORS = {
    INCOMPATIBLE_CERT: "UnsupportedCertificateError",
    NO_SCHEME: "HandshakeFailureError",
    "S2N_ERR_CERT_UNTRUSTED": "CertificateUnknownError",
}
MIXED = [("engine", "s2n"), ("s2n", "engine"), ("engine", "engine")]
_MAX_ROUNDS = 32

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
IssuerKey = PrivateKey | mldsa.MLDSA44PrivateKey
Hash = hashes.SHA256 | hashes.SHA384


@pytest.fixture
def _openssl_build() -> None:
    assert profile().name == "openssl", "run with TLSDIFF_S2N_PROFILE=openssl (deselect with -m 'not openssl_engine')"


# ---- credentials: what the client trusts, what the server sends ----


@dataclass(frozen=True)
class Credentials:
    """A trust anchor for the client; a chain (leaf first) and its key for the server."""

    anchor: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    key: PrivateKey

    def pem(self, certificates: Sequence[x509.Certificate]) -> bytes:
        """PEM of ``certificates``, concatenated."""
        return b"".join(certificate.public_bytes(Encoding.PEM) for certificate in certificates)


@functools.cache
def harness_credentials(cert_type: str) -> Credentials:
    """The harness's certificate of ``cert_type`` (tlsdiff.certs), as every scenario uses it."""
    bundle = certificate_for(cert_type)
    chain = tuple(x509.load_pem_x509_certificates(bundle.chain_pem))
    return Credentials(x509.load_pem_x509_certificate(bundle.ca_pem), chain, bundle.private_key)


# ---- the driver ----


def _error_name(error: S2NError | TLSError) -> str:
    return error.name if isinstance(error, S2NError) else type(error).__name__


class _S2NSide:
    def __init__(self, connection: Connection, direction: str) -> None:
        self.connection, self.direction = connection, direction

    def step(self) -> bool:
        return self.connection.negotiate()

    def feed(self, data: bytes) -> None:
        self.connection.feed(data)

    def output(self) -> bytes:
        return self.connection.take_outgoing()

    def failure_output(self) -> bytes:
        return self.connection.take_outgoing() + self.connection.send_pending_alert()


class _EngineSide:
    def __init__(self, connection: TLSConnection, direction: str) -> None:
        self.connection, self.direction = connection, direction
        self._started = False
        self._pending = b""

    def step(self) -> bool:
        if not self._started:
            self._started = True
            self.connection.start()
        data, self._pending = self._pending, b""
        events = self.connection.receive_data(data) if data else []
        if any(isinstance(event, ConnectionClosed) for event in events):
            self.connection.close()  # answer close_notify with close_notify, as tlsdiff's endpoints do
        return self.connection.handshake_complete

    def feed(self, data: bytes) -> None:
        self._pending += data

    def output(self) -> bytes:
        return self.connection.data_to_send()

    def failure_output(self) -> bytes:
        return self.connection.data_to_send()


_Side = _S2NSide | _EngineSide


@dataclass(frozen=True)
class Outcome:
    """How a handshake ended: who failed (None: nobody) and with what, and every record."""

    failed: str | None
    error: str
    peer_error: str
    records: tuple[Record, ...]


def _open_side(
    stack: ExitStack, implementation: str, policy_name: str, credentials: Credentials, *, client: bool, compat: Compat
) -> _Side:
    direction = "client->server" if client else "server->client"
    if implementation == "s2n":
        if client:
            config = Config(policy_name, trust_pem=credentials.pem([credentials.anchor]))
        else:
            served = ServerCertificate(credentials.pem(credentials.chain), signer=KeySigner(credentials.key))
            config = Config(policy_name, certificates=[served])
        stack.enter_context(config)
        mode, name = (Mode.CLIENT, SERVER_NAME) if client else (Mode.SERVER, None)
        return _S2NSide(stack.enter_context(Connection(config, mode, seed=SEED, server_name=name)), direction)
    if client:
        engine_config = EngineConfig(policy_name, trust_anchors=(credentials.anchor,), compat=compat)
    else:
        chain = tuple(certificate.public_bytes(Encoding.DER) for certificate in credentials.chain)
        served_key = CertifiedKey(chain, KeySigner(credentials.key))
        engine_config = EngineConfig(policy_name, certificates=(served_key,), compat=compat)
    label = StreamLabel.CLIENT if client else StreamLabel.SERVER
    connection = TLSConnection(
        engine_config,
        client=client,
        random=SeededRandomSource(SEED, label),
        server_name=SERVER_NAME if client else None,
    )
    return _EngineSide(connection, direction)


def _drive(
    client_implementation: str,
    server_implementation: str,
    policy_name: str,
    credentials: Credentials,
    *,
    compat: Compat | None = None,
) -> Outcome:
    """Run a handshake until it completes or a side fails; then let the peer react to the last bytes."""
    with ExitStack() as stack:
        client = _open_side(
            stack, client_implementation, policy_name, credentials, client=True, compat=compat or Compat()
        )
        server = _open_side(stack, server_implementation, policy_name, credentials, client=False, compat=Compat())
        transfers: list[tuple[str, bytes]] = []
        done = {"client": False, "server": False}
        for _ in range(_MAX_ROUNDS):
            for role, side, peer in (("client", client, server), ("server", server, client)):
                try:
                    done[role] = side.step()
                except (S2NError, TLSError) as error:
                    peer_error = _fail(side, peer, transfers)
                    return Outcome(role, _error_name(error), peer_error, tuple(split_records(transfers)))
                data = side.output()
                if data:
                    transfers.append((side.direction, data))
                    peer.feed(data)
            if all(done.values()):
                return Outcome(None, "", "", tuple(split_records(transfers)))
    raise AssertionError("the handshake neither completed nor failed")


def _fail(side: _Side, peer: _Side, transfers: list[tuple[str, bytes]]) -> str:
    """Record the failing side's last bytes and the peer's reaction to them; return the peer's error."""
    final = side.failure_output()
    transfers.append((side.direction, final))
    peer.feed(final)
    try:
        peer.step()
    except (S2NError, TLSError) as error:
        transfers.append((peer.direction, peer.failure_output()))
        return _error_name(error)
    transfers.append((peer.direction, peer.output()))
    return ""


@functools.cache
def _reference(policy_name: str, credentials: Credentials) -> Outcome:
    """s2n<->s2n, once per case."""
    return _drive("s2n", "s2n", policy_name, credentials)


def _assert_same_as_s2n(policy_name: str, credentials: Credentials, client: str, server: str) -> Outcome:
    reference = _reference(policy_name, credentials)
    result = _drive(client, server, policy_name, credentials)
    assert result.failed == reference.failed, (result, reference)
    for index, (ours, theirs) in enumerate(zip(result.records, reference.records, strict=False)):
        assert ours == theirs, f"record {index} differs: {ours} vs s2n's {theirs}"
    assert len(result.records) == len(reference.records), (result.records, reference.records)
    failing = {"client": client, "server": server}.get(result.failed or "")
    if failing == "engine":
        assert result.error == ENGINE_ERRORS[reference.error], (result.error, reference.error)
    return result


# ---- the 21 combinations s2n refuses ----


@pytest.mark.usefixtures("_openssl_build")
@pytest.mark.parametrize(("client", "server"), MIXED)
@pytest.mark.parametrize(("policy_name", "cert_type"), sorted(S2N_REFUSES))
def test_refusals_match_s2n(policy_name: str, cert_type: str, client: str, server: str) -> None:
    reference = _reference(policy_name, harness_credentials(cert_type))
    expected = S2N_REFUSES[(policy_name, cert_type)]
    assert reference.error == expected
    assert reference.failed == ("client" if expected == INCOMPATIBLE_CERT else "server")
    assert reference.records[-2].content_type == 21  # the failing side's close_notify ...
    assert reference.records[-1].data[0] in (21, 23)  # ... and the peer's answer (protected, once it can)
    _assert_same_as_s2n(policy_name, harness_credentials(cert_type), client, server)


@pytest.mark.usefixtures("_openssl_build")
def test_rfc_mode_sends_unsupported_certificate() -> None:
    """With Compat.rfc() the engine client names the alert: a plaintext fatal unsupported_certificate."""
    outcome = _drive("engine", "s2n", CNSA, harness_credentials("ecdsa-p384"), compat=Compat.rfc())
    assert outcome.error == "UnsupportedCertificateError"
    sent = [record for record in outcome.records if record.direction == "client->server"]
    assert sent[-1] == Record("client->server", bytes.fromhex("1503030002022b"))
    assert outcome.peer_error == "S2N_ERR_ALERT"


# ---- chains made here, where s2n accepts or refuses for other reasons ----


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(
    subject: str,
    key: PrivateKey,
    issuer: tuple[str, IssuerKey],
    algorithm: Hash | None,
    *,
    ca: bool,
) -> x509.Certificate:
    """A certificate for ``key``, signed by ``issuer`` (its name and key) with ``algorithm``."""
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer[0]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key()),
            critical=False,
        )
    )
    if ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        builder = builder.add_extension(usage, critical=True)
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(SERVER_NAME)]), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.sign(issuer[1], algorithm)


@functools.cache
def _p384_key(label: str) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


@functools.cache
def _p256_key(label: str) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@functools.cache
def custom_credentials(case: str) -> Credentials:
    """A P-384 chain whose signatures are ``case``: see CUSTOM_CASES."""
    root_key, intermediate_key, leaf_key = _p384_key("root"), _p384_key("intermediate"), _p384_key("leaf")
    if case.endswith("trusted-leaf"):
        return _trusted_leaf(case.removesuffix("-trusted-leaf"))
    sha256, sha384 = hashes.SHA256(), hashes.SHA384()
    root_hash = sha256 if case == "sha256-self-signed-root" else sha384
    root = _issue("tlsdiff P-384 root", root_key, ("tlsdiff P-384 root", root_key), root_hash, ca=True)
    if case == "sha256-intermediate":
        intermediate = _issue(
            "tlsdiff intermediate", intermediate_key, ("tlsdiff P-384 root", root_key), sha256, ca=True
        )
        leaf = _issue(SERVER_NAME, leaf_key, ("tlsdiff intermediate", intermediate_key), sha384, ca=False)
        return Credentials(root, (leaf, intermediate), leaf_key)
    leaf = _issue(SERVER_NAME, leaf_key, ("tlsdiff P-384 root", root_key), sha384, ca=False)
    if case == "sha1-leaf":
        leaf = _resigned_sha1(leaf, root_key)
    chain = (leaf, root) if case == "sha256-self-signed-root" else (leaf,)
    return Credentials(root, chain, leaf_key)


def _trusted_leaf(signature: str) -> Credentials:
    """A leaf the client trusts directly (X509_V_FLAG_PARTIAL_CHAIN), signed by an issuer it never sees."""
    leaf_key = _p384_key("leaf")
    if signature == "mldsa44":
        issuer: tuple[str, IssuerKey] = ("tlsdiff ML-DSA-44 root", _mldsa44_key())
        algorithm: Hash | None = None  # ML-DSA signs the message itself
    else:
        issuer = ("tlsdiff P-384 root", _p384_key("root"))
        algorithm = hashes.SHA256() if signature == "sha256" else hashes.SHA384()
    leaf = _issue(SERVER_NAME, leaf_key, issuer, algorithm, ca=False)
    return Credentials(leaf, (leaf,), leaf_key)


@functools.cache
def _mldsa44_key() -> mldsa.MLDSA44PrivateKey:
    return mldsa.MLDSA44PrivateKey.generate()


# case: (what s2n<->s2n does: None when the handshake completes, else its error)
CUSTOM_CASES = {
    "sha384": None,
    "sha256-self-signed-root": None,  # self-signed: exempt, even when sent
    "sha256-intermediate": INCOMPATIBLE_CERT,
    "sha1-leaf": "S2N_ERR_CERT_UNTRUSTED",
    "sha256-trusted-leaf": INCOMPATIBLE_CERT,  # refused as read, before the trust store is consulted
    "sha384-trusted-leaf": None,
    # OpenSSL 3.0 knows no ML-DSA: the signature is NID_undef, which is what s2n's ML-DSA-87
    # entry is on that build, so the check passes; the trust store then vouches for the leaf.
    "mldsa44-trusted-leaf": None,
}


@pytest.mark.usefixtures("_openssl_build")
@pytest.mark.parametrize(("client", "server"), MIXED[:2])
@pytest.mark.parametrize("case", sorted(CUSTOM_CASES))
def test_custom_chains_match_s2n(case: str, client: str, server: str) -> None:
    credentials = custom_credentials(case)
    reference = _reference(CNSA, credentials)
    assert reference.error == (CUSTOM_CASES[case] or ""), reference
    _assert_same_as_s2n(CNSA, credentials, client, server)


# ---- a little DER, for a SHA-1 signature cryptography will not make ----


def _tlv(tag: int, content: bytes) -> bytes:
    size = len(content)
    length = (
        bytes([size])
        if size < 0x80
        else bytes([0x80 | (size.bit_length() + 7) // 8]) + size.to_bytes((size.bit_length() + 7) // 8, "big")
    )
    return bytes([tag]) + length + content


def _split(element: bytes) -> list[bytes]:
    """The elements inside one DER SEQUENCE."""
    header = 2 + (element[1] & 0x7F if element[1] & 0x80 else 0)
    content, parts = element[header:], []
    while content:
        first = content[1]
        header = 2 + (first & 0x7F if first & 0x80 else 0)
        size = int.from_bytes(content[2:header], "big") if first & 0x80 else first
        parts.append(content[: header + size])
        content = content[header + size :]
    return parts


def _resigned_sha1(certificate: x509.Certificate, issuer_key: PrivateKey) -> x509.Certificate:
    """``certificate`` with its signature replaced by ecdsa-with-SHA1 (1.2.840.10045.4.1) from ``issuer_key``."""
    algorithm = _tlv(0x30, bytes.fromhex("06072a8648ce3d0401"))
    fields = _split(certificate.tbs_certificate_bytes)
    fields[2 if fields[0][0] == 0xA0 else 1] = algorithm
    tbs = _tlv(0x30, b"".join(fields))
    assert isinstance(issuer_key, ec.EllipticCurvePrivateKey)
    signature = issuer_key.sign(tbs, ec.ECDSA(hashes.SHA1()))
    return x509.load_der_x509_certificate(_tlv(0x30, tbs + algorithm + _tlv(0x03, b"\x00" + signature)))


# ---- the check itself ----


def _check_chain(chain: Sequence[x509.Certificate], policy_name: str, libcrypto: Libcrypto = OPENSSL_3) -> None:
    security_policy = policy(policy_name)
    for certificate in chain:
        check_certificate_preferences(certificate, security_policy, libcrypto)


def test_policy_certificate_preferences_as_oids() -> None:
    cnsa = policy(CNSA)
    ecdsa_sha384, rsa_sha384, mldsa87 = "1.2.840.10045.4.3.3", "1.2.840.113549.1.1.12", "2.16.840.1.101.3.4.3.19"
    assert certificate_signature_oids(cnsa, AWS_LC) == frozenset({mldsa87, ecdsa_sha384, rsa_sha384})
    # S2N_NID_MLDSA87 is NID_undef without ML-DSA: it then matches any signature OpenSSL does not know.
    assert certificate_signature_oids(cnsa, OPENSSL_3) == frozenset({NID_UNDEF, ecdsa_sha384, rsa_sha384})
    assert certificate_signature_oids(policy("test_all"), OPENSSL_3) is None
    assert certificate_key_types(cnsa, OPENSSL_3) is None
    default_oids = certificate_signature_oids(policy("default_tls13"), OPENSSL_3)
    assert default_oids is not None and "1.2.840.113549.1.1.10" in default_oids  # every RSA-PSS scheme: rsassaPss
    assert CERTIFICATE_KEYS["ecdsa_p384"] == ("secp384r1", 384)
    with_keys = replace(cnsa, certificate_keys=("ecdsa_p384", "rsa_pss_3072", "mldsa_87"))
    expected_keys = {("1.3.132.0.34", 384), ("1.2.840.113549.1.1.10", 3072), (NID_UNDEF, 20736)}
    assert certificate_key_types(with_keys, OPENSSL_3) == frozenset(expected_keys)


def test_p384_sha384_chain_passes_cnsa() -> None:
    credentials = custom_credentials("sha384")
    _check_chain((*credentials.chain, credentials.anchor), CNSA)
    check_root_certificate((*credentials.chain, credentials.anchor), policy(CNSA), OPENSSL_3)


def test_harness_chain_fails_cnsa() -> None:
    credentials = harness_credentials("ecdsa-p384")
    with pytest.raises(UnsupportedCertificateError, match=r"1\.2\.840\.10045\.4\.3\.2"):
        _check_chain(credentials.chain, CNSA)
    _check_chain([credentials.anchor], CNSA)  # the CA signs itself with SHA-256 too, but it is self-signed
    _check_chain(credentials.chain, "default_tls13")
    assert UnsupportedCertificateError.alert == 43


def test_self_signed_is_exempt_from_the_signature_check_not_the_key_check() -> None:
    p256_root = _issue("p256 root", _p256_key("root"), ("p256 root", _p256_key("root")), hashes.SHA256(), ca=True)
    p384_root = custom_credentials("sha256-self-signed-root").anchor
    assert cert_info(p256_root, OPENSSL_3).self_signed
    p384_only = replace(policy(CNSA), certificate_keys=("ecdsa_p384",))
    check_certificate_preferences(p384_root, p384_only, OPENSSL_3)
    with pytest.raises(UnsupportedCertificateError, match="key"):
        check_certificate_preferences(p256_root, p384_only, OPENSSL_3)


def test_root_key_is_checked_even_when_not_sent() -> None:
    root_key, leaf_key = _p256_key("other root"), _p384_key("leaf")
    root = _issue("p256 root", root_key, ("p256 root", root_key), hashes.SHA384(), ca=True)
    leaf = _issue(SERVER_NAME, leaf_key, ("p256 root", root_key), hashes.SHA384(), ca=False)
    p384_only = replace(policy(CNSA), certificate_keys=("ecdsa_p384",))
    check_certificate_preferences(leaf, p384_only, OPENSSL_3)  # the chain as sent passes
    with pytest.raises(UnsupportedCertificateError, match="key"):
        check_root_certificate([leaf, root], p384_only, OPENSSL_3)
    check_root_certificate([leaf, root], policy(CNSA), OPENSSL_3)  # no key preferences: any root


def test_sha1_is_refused_only_under_certificate_preferences() -> None:
    leaf = custom_credentials("sha1-leaf").chain[0]
    assert cert_info(leaf, OPENSSL_3).signature_digest_is_sha1
    with pytest.raises(CertificateUnknownError):
        check_certificate_preferences(leaf, policy(CNSA), OPENSSL_3)
    check_certificate_preferences(leaf, policy("test_all"), OPENSSL_3)


def test_unknown_signature_algorithm_matches_the_undefined_mldsa_nid() -> None:
    """On OpenSSL 3.0, an ML-DSA-44 signature is NID_undef, like s2n's ML-DSA-87 entry there."""
    leaf = _trusted_leaf("mldsa44").chain[0]
    assert cert_info(leaf, OPENSSL_3).signature_oid == NID_UNDEF
    check_certificate_preferences(leaf, policy(CNSA), OPENSSL_3)
    with pytest.raises(UnsupportedCertificateError):
        check_certificate_preferences(leaf, policy(CNSA), AWS_LC)


# ---- names compared as X509_NAME_cmp compares them ----

_CN, _O = bytes.fromhex("0603550403"), bytes.fromhex("060355040a")
_UTF8, _PRINTABLE, _T61, _IA5, _BMP, _UNIVERSAL, _NUMERIC = 0x0C, 0x13, 0x14, 0x16, 0x1E, 0x1C, 0x12


def _der_name(*rdns: Sequence[tuple[bytes, int, bytes]]) -> bytes:
    sets = (_tlv(0x31, b"".join(_tlv(0x30, oid + _tlv(tag, value)) for oid, tag, value in rdn)) for rdn in rdns)
    return _tlv(0x30, b"".join(sets))


NAME_PAIRS = {
    "case and spaces": (_der_name([(_CN, _UTF8, b"Test CA")]), _der_name([(_CN, _UTF8, b"  test \t  ca ")])),
    "string types": (_der_name([(_CN, _PRINTABLE, b"Test CA")]), _der_name([(_CN, _UTF8, b"test ca")])),
    "BMPString": (_der_name([(_CN, _BMP, "Test".encode("utf-16-be"))]), _der_name([(_CN, _UTF8, b"test")])),
    "UniversalString": (_der_name([(_CN, _UNIVERSAL, "AB".encode("utf-32-be"))]), _der_name([(_CN, _IA5, b"ab")])),
    "T61String is Latin-1": (_der_name([(_CN, _T61, b"\xe9")]), _der_name([(_CN, _UTF8, "é".encode())])),
    "non-ASCII keeps its case": (_der_name([(_CN, _UTF8, "É".encode())]), _der_name([(_CN, _UTF8, "é".encode())])),
    "NumericString is compared as is": (_der_name([(_CN, _NUMERIC, b"1")]), _der_name([(_CN, _UTF8, b"1")])),
    "RDN order within a set": (
        _der_name([(_CN, _UTF8, b"a"), (_O, _UTF8, b"b")]),
        _der_name([(_O, _UTF8, b"B"), (_CN, _UTF8, b"a")]),
    ),
    "RDN boundaries": (
        _der_name([(_CN, _UTF8, b"a")], [(_O, _UTF8, b"b")]),
        _der_name([(_CN, _UTF8, b"a"), (_O, _UTF8, b"b")]),
    ),
    "empty names": (_der_name(), _der_name()),
    "different values": (_der_name([(_CN, _UTF8, b"a b")]), _der_name([(_CN, _UTF8, b"ab")])),
}


@functools.cache
def _libcrypto() -> ctypes.CDLL:
    try:
        library = ctypes.CDLL("libcrypto.so.3")
    except OSError:
        pytest.skip("no libcrypto.so.3 to compare with")
    library.d2i_X509_NAME.restype = ctypes.c_void_p
    library.d2i_X509_NAME.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_long]
    library.X509_NAME_cmp.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    library.X509_NAME_free.argtypes = [ctypes.c_void_p]
    return library


def _openssl_names_equal(first: bytes, second: bytes) -> bool:
    library = _libcrypto()
    names = []
    for der in (first, second):
        pointer = ctypes.c_char_p(der)
        name = library.d2i_X509_NAME(None, ctypes.byref(pointer), len(der))
        assert name, "OpenSSL does not parse the name"
        names.append(name)
    try:
        return bool(library.X509_NAME_cmp(names[0], names[1]) == 0)
    finally:
        for name in names:
            library.X509_NAME_free(name)


@pytest.mark.parametrize("case", sorted(NAME_PAIRS))
def test_names_compare_as_openssl_does(case: str) -> None:
    first, second = NAME_PAIRS[case]
    ours = canonical_name(first) is not None and canonical_name(first) == canonical_name(second)
    assert ours == _openssl_names_equal(first, second)


# ---- ECDSA P-521 certificates (ecdsa_secp521r1_sha512), every policy ----


@pytest.mark.usefixtures("_openssl_build")
@pytest.mark.parametrize(("client", "server"), MIXED)
@pytest.mark.parametrize("policy_name", TLS13_POLICY_NAMES)
def test_p521_certificate_under_every_policy(policy_name: str, client: str, server: str) -> None:
    """The handshake with a P-521 certificate is identical to s2n<->s2n's, or refused alike (same records)."""
    credentials = harness_credentials("ecdsa-p521")
    reference = _reference(policy_name, credentials)
    if reference.failed is None:
        assert any(record.content_type == 23 for record in reference.records)  # encrypted flight reached
    _assert_same_as_s2n(policy_name, credentials, client, server)
