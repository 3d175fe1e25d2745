"""Four-way transcript equality: the proof that the engine emits s2n-tls's bytes.

For every mirrored policy x certificate type s2n accepts, the records (both
directions, handshake, application data both ways, close_notify) of s2n<->s2n,
s2n-client<->engine-server, engine-client<->s2n-server and engine<->engine are
identical. The combinations s2n itself refuses are pinned below; that the engine refuses
them alike, with the same bytes, is tests/engine/test_certificate_preferences.py.
"""

from __future__ import annotations

import pytest

from engine.policies import TLS13_POLICY_NAMES
from s2n_bridge._native import profile
from tlsdiff.certs import CERT_TYPES
from tlsdiff.harness import Status
from tlsdiff.scenario import ScenarioError, run_pair

# (policy, certificate type, s2n's error) for the combinations s2n<->s2n refuses.
S2N_REFUSES = {
    ("ELBSecurityPolicy-TLS13-1-3-CNSA2-INTEROP1-FIPS-PQ-2026-07", "ecdsa-p256"): "S2N_ERR_NO_VALID_SIGNATURE_SCHEME",
    (
        "ELBSecurityPolicy-TLS13-1-3-CNSA2-INTEROP1-FIPS-PQ-2026-07",
        "ecdsa-p384",
    ): "S2N_ERR_SECURITY_POLICY_INCOMPATIBLE_CERT",
    (
        "ELBSecurityPolicy-TLS13-1-3-CNSA2-INTEROP1-FIPS-PQ-2026-07",
        "rsa-2048",
    ): "S2N_ERR_SECURITY_POLICY_INCOMPATIBLE_CERT",
    (
        "ELBSecurityPolicy-TLS13-1-3-CNSA2-INTEROP1-FIPS-PQ-2026-07",
        "rsa-pss-2048",
    ): "S2N_ERR_SECURITY_POLICY_INCOMPATIBLE_CERT",
    ("ELBSecurityPolicy-TLS13-1-2-CNSA2-INTEROP2-FIPS-PQ-2026-07", "ecdsa-p256"): "S2N_ERR_NO_VALID_SIGNATURE_SCHEME",
    (
        "ELBSecurityPolicy-TLS13-1-2-CNSA2-INTEROP2-FIPS-PQ-2026-07",
        "ecdsa-p384",
    ): "S2N_ERR_SECURITY_POLICY_INCOMPATIBLE_CERT",
    (
        "ELBSecurityPolicy-TLS13-1-2-CNSA2-INTEROP2-FIPS-PQ-2026-07",
        "rsa-2048",
    ): "S2N_ERR_SECURITY_POLICY_INCOMPATIBLE_CERT",
    (
        "ELBSecurityPolicy-TLS13-1-2-CNSA2-INTEROP2-FIPS-PQ-2026-07",
        "rsa-pss-2048",
    ): "S2N_ERR_SECURITY_POLICY_INCOMPATIBLE_CERT",
    ("20250211", "ecdsa-p256"): "S2N_ERR_NO_VALID_SIGNATURE_SCHEME",
    ("20260220", "ecdsa-p256"): "S2N_ERR_NO_VALID_SIGNATURE_SCHEME",
    ("20260220", "ecdsa-p384"): "S2N_ERR_SECURITY_POLICY_INCOMPATIBLE_CERT",
    ("20260220", "rsa-2048"): "S2N_ERR_SECURITY_POLICY_INCOMPATIBLE_CERT",
    ("20260220", "rsa-pss-2048"): "S2N_ERR_SECURITY_POLICY_INCOMPATIBLE_CERT",
    ("20260720", "ecdsa-p256"): "S2N_ERR_NO_VALID_SIGNATURE_SCHEME",
    ("20260720", "ecdsa-p384"): "S2N_ERR_SECURITY_POLICY_INCOMPATIBLE_CERT",
    ("20260720", "rsa-2048"): "S2N_ERR_SECURITY_POLICY_INCOMPATIBLE_CERT",
    ("20260720", "rsa-pss-2048"): "S2N_ERR_SECURITY_POLICY_INCOMPATIBLE_CERT",
    ("cnsa_1_2_interop", "ecdsa-p256"): "S2N_ERR_NO_VALID_SIGNATURE_SCHEME",
    ("cnsa_1_2_interop", "ecdsa-p384"): "S2N_ERR_SECURITY_POLICY_INCOMPATIBLE_CERT",
    ("cnsa_1_2_interop", "rsa-2048"): "S2N_ERR_SECURITY_POLICY_INCOMPATIBLE_CERT",
    ("cnsa_1_2_interop", "rsa-pss-2048"): "S2N_ERR_SECURITY_POLICY_INCOMPATIBLE_CERT",
}
PAIRINGS = [("s2n", "engine"), ("engine", "s2n"), ("engine", "engine")]

# The engine draws randomness as OpenSSL 3.0 does; ci/test.sh runs these on that build only.
pytestmark = pytest.mark.openssl_engine


@pytest.fixture(autouse=True)
def _openssl_build() -> None:
    assert profile().name == "openssl", "run with TLSDIFF_S2N_PROFILE=openssl (deselect with -m 'not openssl_engine')"


@pytest.mark.parametrize("cert_type", CERT_TYPES)
@pytest.mark.parametrize("policy", TLS13_POLICY_NAMES)
def test_four_way_transcripts_are_identical(policy: str, cert_type: str) -> None:
    if (policy, cert_type) in S2N_REFUSES:
        with pytest.raises(ScenarioError) as refused:
            run_pair("s2n", "s2n", policy, cert_type, 7)
        outcome = refused.value.outcome
        assert outcome is not None and (outcome.implementation, outcome.status) == ("s2n", Status.FAILED)
        assert outcome.error == S2N_REFUSES[(policy, cert_type)]
        return
    reference = run_pair("s2n", "s2n", policy, cert_type, 7)
    for client, server in PAIRINGS:
        result = run_pair(client, server, policy, cert_type, 7)
        assert result.records == reference.records, f"{client} client vs {server} server differs from s2n<->s2n"
        assert sorted(result.client_key_log) == sorted(reference.client_key_log)
        for side in ("client", "server"):
            for name in ("handshake_type", "last_message", "cipher", "group"):
                assert getattr(getattr(result, side), name) == getattr(getattr(reference, side), name), (side, name)


@pytest.mark.parametrize("alpn", [("h2",), ("http/1.1", "h2")])
def test_four_way_with_alpn(alpn: tuple[str, ...]) -> None:
    reference = run_pair("s2n", "s2n", "default_tls13", "ecdsa-p256", 9, alpn=alpn)
    assert reference.client.cipher == "TLS_AES_128_GCM_SHA256"
    for client, server in PAIRINGS:
        assert run_pair(client, server, "default_tls13", "ecdsa-p256", 9, alpn=alpn).records == reference.records


@pytest.mark.parametrize(
    ("client_policy", "server_policy", "cert_type", "hello_retry"),
    [
        # The server takes only P-384; the client's P-256 share is refused.
        ("default_tls13", "20250211", "ecdsa-p384", True),
        # The client's x25519 share is usable, but s2n upgrades to its strongly preferred P-384.
        ("test_all_tls13", "20251113", "rsa-2048", True),
        # Different policies, but the client's share is taken: no retry.
        ("default_tls13", "20190801", "rsa-pss-2048", False),
    ],
)
def test_four_way_across_policies_and_hello_retry(
    client_policy: str, server_policy: str, cert_type: str, hello_retry: bool
) -> None:
    reference = run_pair("s2n", "s2n", client_policy, cert_type, 5, server_policy=server_policy)
    assert ("HELLO_RETRY_REQUEST" in reference.client.handshake_type) is hello_retry
    for client, server in PAIRINGS:
        result = run_pair(client, server, client_policy, cert_type, 5, server_policy=server_policy)
        assert result.records == reference.records, f"{client} client vs {server} server differs from s2n<->s2n"
        assert result.server.handshake_type == reference.server.handshake_type
