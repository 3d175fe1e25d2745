"""Run one scenario: an s2n client and an s2n server in memory, seeded alike.

The scenario is: handshake, application data both ways (``CLIENT_DATA`` then
``SERVER_DATA``), close_notify from the client answered by the server. Both
servers sign through the shared ``Signer`` (s2n's async private-key callback),
as the engine will, so CertificateVerify bytes depend only on the seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.crypto.signer import KeySigner
from s2n_bridge import Config, Connection, ConnectionInfo, InMemoryPair, Mode, ServerCertificate
from tlsdiff.certs import certificate_for
from tlsdiff.transcript import Record, split_records

__all__ = ["CLIENT_DATA", "SERVER_DATA", "PairResult", "run_s2n_pair"]

CLIENT_DATA = bytes(range(256)) * 20  # 5120 bytes: one record each way at s2n's default size
SERVER_DATA = b"tlsdiff server data " * 1000  # 20000 bytes: three records of at most 8087 bytes


@dataclass(frozen=True)
class PairResult:
    """What a scenario produced: both sides' view, every record, and the key logs."""

    policy: str
    cert_type: str
    seed: int
    client: ConnectionInfo
    server: ConnectionInfo
    records: list[Record]
    client_key_log: list[bytes] = field(repr=False)
    server_key_log: list[bytes] = field(repr=False)


def run_s2n_pair(policy: str, cert_type: str, seed: int, *, alpn: tuple[str, ...] = ()) -> PairResult:
    """Run the scenario between two s2n connections; raise the first s2n error."""
    certificate = certificate_for(cert_type)
    client_log: list[bytes] = []
    server_log: list[bytes] = []
    server_certificate = ServerCertificate(certificate.chain_pem, signer=KeySigner(certificate.private_key))
    with (
        Config(policy, certificates=[server_certificate], alpn=alpn, key_log=server_log.append) as server_config,
        Config(policy, trust_pem=certificate.ca_pem, alpn=alpn, key_log=client_log.append) as client_config,
        Connection(client_config, Mode.CLIENT, seed=seed, server_name=certificate.server_name) as client,
        Connection(server_config, Mode.SERVER, seed=seed) as server,
    ):
        pair = InMemoryPair(client, server)
        pair.handshake()
        if pair.send(client, CLIENT_DATA) != CLIENT_DATA or pair.send(server, SERVER_DATA) != SERVER_DATA:
            raise RuntimeError("application data arrived changed")
        client_info, server_info = client.info(), server.info()
        pair.close()
        records = split_records((transfer.direction.value, transfer.data) for transfer in pair.transfers)
    return PairResult(policy, cert_type, seed, client_info, server_info, records, client_log, server_log)
