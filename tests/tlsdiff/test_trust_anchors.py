"""The certificate-chain differential's trust anchors: what a client trusts, alike in the engine and in s2n."""

from __future__ import annotations

import pytest
from cryptography import x509

from engine.config import EngineConfig
from engine.connection import TLSConnection
from engine.errors import CertificateUnknownError
from tlsdiff.certs import CERT_TYPES, TRUST_CHOICES, trust_anchors
from tlsdiff.fuzz_scenario import Scenario
from tlsdiff.harness import Role, Setup, open_engine
from tlsdiff.lockstep import run_scenario

# The chain verifies against these choices and no others (s2n's partial chains make the leaf an anchor).
_TRUSTED = {"ca", "leaf", "ca+stranger"}


@pytest.mark.openssl_engine
@pytest.mark.parametrize("cert_type", CERT_TYPES)
@pytest.mark.parametrize("trust", TRUST_CHOICES)
def test_engine_and_s2n_clients_trust_alike(trust: str, cert_type: str) -> None:
    result = run_scenario(Scenario(role=Role.CLIENT, cert_type=cert_type, trust=trust, seed=11))
    assert result.divergence is None, result.divergence
    assert result.handshake_complete is (trust in _TRUSTED)


def test_trust_choice_travels_in_both_forms() -> None:
    for trust in TRUST_CHOICES:
        scenario = Scenario(role=Role.CLIENT, trust=trust)
        assert Scenario.decode(scenario.encode()) == scenario
        assert Scenario.from_json(scenario.to_json()) == scenario
    assert Scenario.decode(bytes([0x10 * len(TRUST_CHOICES)])).trust == "ca"  # taken modulo the choices


def test_namesake_has_the_ca_name_and_another_key() -> None:
    (ca,) = (x509.load_pem_x509_certificate(pem) for pem in trust_anchors("ca", "ecdsa-p256"))
    (namesake,) = (x509.load_pem_x509_certificate(pem) for pem in trust_anchors("namesake", "ecdsa-p256"))
    assert namesake.subject == ca.subject
    assert namesake.public_key() != ca.public_key()


def test_engine_client_without_anchors_refuses_as_untrusted() -> None:
    # cryptography's Store refuses to be empty; the engine must answer with a TLS error, never a ValueError.
    server = open_engine(Setup(Role.SERVER, "default_tls13", "ecdsa-p256", 1))
    client = TLSConnection(EngineConfig("default_tls13", trust_anchors=(), verify=True), client=True,
                           server_name="localhost")  # fmt: skip
    client.start()
    answer = server.deliver(client.data_to_send())
    with pytest.raises(CertificateUnknownError):
        client.receive_data(answer.output)
