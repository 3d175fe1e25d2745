"""Shared test helpers: s2n pairs built from the project's deterministic certificates."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from engine.crypto.signer import KeySigner
from s2n_bridge import Config, Connection, InMemoryPair, Mode, ServerCertificate
from tlsdiff.certs import certificate_for


@dataclass
class Pair:
    """An in-memory s2n pair and the key-log lines each side produced."""

    pair: InMemoryPair
    client_key_log: list[bytes] = field(default_factory=list)
    server_key_log: list[bytes] = field(default_factory=list)

    @property
    def client(self) -> Connection:
        return self.pair.client

    @property
    def server(self) -> Connection:
        return self.pair.server


@contextmanager
def s2n_pair(
    policy: str = "default_tls13",
    cert_type: str = "ecdsa-p256",
    seed: int | None = 1,
    *,
    signer: bool = True,
    alpn: tuple[str, ...] = (),
) -> Iterator[Pair]:
    """A client and a server, seeded alike, configured with the test CA and certificate."""
    certificate = certificate_for(cert_type)
    logs = Pair.__new__(Pair)
    client_log: list[bytes] = []
    server_log: list[bytes] = []
    if signer:
        served = ServerCertificate(certificate.chain_pem, signer=KeySigner(certificate.private_key))
    else:
        served = ServerCertificate(certificate.chain_pem, certificate.key_pem)
    with (
        Config(policy, certificates=[served], alpn=alpn, key_log=server_log.append) as server_config,
        Config(policy, trust_pem=certificate.ca_pem, alpn=alpn, key_log=client_log.append) as client_config,
        Connection(client_config, Mode.CLIENT, seed=seed, server_name="localhost") as client,
        Connection(server_config, Mode.SERVER, seed=seed) as server,
    ):
        logs = Pair(InMemoryPair(client, server), client_log, server_log)
        yield logs
