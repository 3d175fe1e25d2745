"""The certificate-chain differential: mutated server chains and trust anchors before both clients.

A lockstep target with the client under test whose mutations all land on the server's
Certificate message (the third handshake message of its first flight), before the
peer's transcript: the peer's CertificateVerify then signs over the mutated chain, so
both clients get as far as their chain and policy checks (tls/s2n_x509_validator.c)
and must accept or refuse alike. The scenario's ``trust`` picks what the clients trust
(``certs.TRUST_CHOICES``: the issuing CA, the leaf itself, the CA beside a stranger, a
namesake of the CA with another key, a stranger, nothing).
"""

from __future__ import annotations

from dataclasses import replace

from tlsdiff.fuzz_scenario import Peer, Scenario, Stage
from tlsdiff.harness import Role
from tlsdiff.targets import LockstepTarget

__all__ = ["CERTIFICATE_MESSAGE_INDEX", "CertificateChainTarget"]

CERTIFICATE_MESSAGE_INDEX = 2  # ServerHello, EncryptedExtensions, Certificate: the CCS is no handshake message


def _chain_lane(scenario: Scenario) -> Scenario:
    mutations = tuple(
        replace(m, stage=Stage.MESSAGE if m.stage is Stage.MESSAGE else Stage.SENT_MESSAGE, flight=0,
                target=CERTIFICATE_MESSAGE_INDEX)
        for m in scenario.mutations
        if m.stage in (Stage.MESSAGE, Stage.SENT_MESSAGE)
    )  # fmt: skip
    # No peer policy of its own: a HelloRetryRequest would move the Certificate to the second flight.
    return replace(scenario, role=Role.CLIENT, peer=Peer.ENGINE, peer_policy=None, mutations=mutations, events=())


def CertificateChainTarget() -> LockstepTarget:  # noqa: N802  (a target is named like the others' classes)
    """The ``cert_chain_diff`` target."""
    return LockstepTarget(
        "cert_chain_diff",
        "client under test: mutated server certificate chains (before the peer's transcript)",
        _chain_lane,
        stages=(Stage.MESSAGE, Stage.SENT_MESSAGE),
    )
