"""Server certificate selection and SNI, four ways: the engine picks s2n-tls's certificate.

A server holds several certificates (first added first); the client's SNI picks the
candidates per key type: the exact name, else the wildcard for its first label, else the
first certificate added of each type. The signature scheme then follows the policy's
order among the candidates, and EncryptedExtensions acknowledges server_name only when a
name matched (tls/s2n_handshake.c, tls/s2n_signature_algorithms.c). Every case compares
every record of s2n<->s2n with the three pairings that involve the engine.
"""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from engine.config import CertifiedKey
from engine.crypto.signer import KeySigner
from engine.handshake.negotiation import KeyKind, select_certificates, select_signature
from engine.policies import OPENSSL_3, client_hello_offer, policy
from tlsdiff.certs import CertSpec, certificate_for
from tlsdiff.scenario import run_pair

pytestmark = pytest.mark.openssl_engine  # the engine reproduces the OpenSSL build's draws

PAIRINGS = [("s2n", "engine"), ("engine", "s2n"), ("engine", "engine")]
P256, P384, RSA, PSS = (CertSpec("ecdsa-p256"), CertSpec("ecdsa-p384"), CertSpec("rsa-2048"), CertSpec("rsa-pss-2048"))
WILDCARD_P384 = CertSpec("ecdsa-p384", "*.example.test")
OTHER_P256 = CertSpec("ecdsa-p256", "other.example.test")
CN_ONLY_P256 = CertSpec("ecdsa-p256", "cn.example.test", dns_san=False)

# (id, policy, certificates in the order added, client SNI, client validates, expected leaf, SNI acknowledged)
CASES = [
    ("ecdsa-preferred-of-two-defaults", "default_tls13", (RSA, P256), "localhost", True, P256, True),
    ("rsa-policy-order", "20190801", (P256, RSA), "localhost", True, RSA, True),
    ("pss-key-of-three", "test_all_tls13", (RSA, PSS, P384), "localhost", True, P384, True),
    ("exact-name-beats-preferred-type", "default_tls13", (RSA, OTHER_P256), "localhost", True, RSA, True),
    ("exact-other-name", "default_tls13", (RSA, OTHER_P256), "other.example.test", True, OTHER_P256, True),
    ("name-case-folded", "default_tls13", (RSA, OTHER_P256), "Other.EXAMPLE.test", True, OTHER_P256, True),
    ("wildcard-first-label", "default_tls13", (RSA, WILDCARD_P384), "a.example.test", True, WILDCARD_P384, True),
    ("wildcard-not-two-labels", "default_tls13", (RSA, WILDCARD_P384), "a.b.example.test", False, WILDCARD_P384, False),
    ("trailing-dot-no-match", "default_tls13", (RSA, OTHER_P256), "other.example.test.", False, OTHER_P256, False),
    ("unknown-name-defaults", "default_tls13", (OTHER_P256, RSA), "nobody.test", False, OTHER_P256, False),
    ("no-sni-defaults", "default_tls13", (RSA, OTHER_P256), None, False, OTHER_P256, False),
    ("cn-when-no-dns-san", "default_tls13", (RSA, CN_ONLY_P256), "cn.example.test", False, CN_ONLY_P256, True),
    ("same-type-two-names", "default_tls13", (P256, OTHER_P256), "other.example.test", True, OTHER_P256, True),
    ("same-type-first-is-default", "default_tls13", (OTHER_P256, P256), "nobody.test", False, OTHER_P256, False),
]


def _leaf_der(spec: CertSpec) -> bytes:
    return x509.load_pem_x509_certificate(spec.bundle().chain_pem).public_bytes(Encoding.DER)


@pytest.mark.parametrize(
    ("policy_name", "served", "server_name", "verify", "expected", "acknowledged"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_server_certificate_selection_four_ways(
    policy_name: str,
    served: tuple[CertSpec, ...],
    server_name: str | None,
    verify: bool,
    expected: CertSpec,
    acknowledged: bool,
) -> None:
    # The premise, from the engine's pure functions: which leaf, and whether the SNI is acknowledged.
    candidates = select_certificates(tuple(_certified(spec) for spec in served), server_name)
    offer = client_hello_offer(policy(policy_name), OPENSSL_3, server_name=server_name is not None)
    _, chosen = select_signature(policy(policy_name), offer.signature_schemes, candidates, fallback=True)
    assert chosen.chain[0] == _leaf_der(expected)
    assert candidates.name_matched is acknowledged
    # The proof: every record (the Certificate and EncryptedExtensions inside) equals s2n<->s2n's.
    options = {"served": served, "server_name": server_name, "verify": verify}
    reference = run_pair("s2n", "s2n", policy_name, served[0].cert_type, 11, **options)  # type: ignore[arg-type]
    for client, server in PAIRINGS:
        result = run_pair(client, server, policy_name, served[0].cert_type, 11, **options)  # type: ignore[arg-type]
        assert result.records == reference.records, f"{client} client vs {server} server differs from s2n<->s2n"


def _certified(spec: CertSpec) -> CertifiedKey:
    return CertifiedKey((_leaf_der(spec),), KeySigner(spec.bundle().private_key))


def test_candidates_follow_s2n_name_rules() -> None:
    rsa, wildcard, other = _certified(RSA), _certified(WILDCARD_P384), _certified(OTHER_P256)
    held = (rsa, wildcard, other)
    exact = select_certificates(held, "localhost")
    assert exact.name_matched and dict(exact.by_kind) == {KeyKind.RSA: rsa}
    wild = select_certificates(held, "x.EXAMPLE.test")
    assert wild.name_matched and dict(wild.by_kind) == {KeyKind.ECDSA: wildcard}
    for unmatched in (None, "", "example.test", "x.y.example.test", "localhost."):
        defaults = select_certificates(held, unmatched)
        assert not defaults.name_matched and dict(defaults.by_kind) == {KeyKind.RSA: rsa, KeyKind.ECDSA: wildcard}


def test_named_certificates_are_deterministic_variants() -> None:
    plain, named = certificate_for("ecdsa-p256"), certificate_for("ecdsa-p256", "other.example.test")
    assert plain.key_pem == named.key_pem and plain.chain_pem != named.chain_pem
    assert named.server_name == "other.example.test"
    cn_only = x509.load_pem_x509_certificate(CN_ONLY_P256.bundle().chain_pem)
    san = cn_only.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == []
    with pytest.raises(ValueError, match="host"):
        certificate_for("ecdsa-p256", "")
