"""s2n <-> s2n through the bridge: policies x certificate types, data both ways, key logs."""

from __future__ import annotations

import pytest

from engine.crypto.signer import KeySigner
from s2n_bridge import (
    ClientAuth,
    Config,
    Connection,
    InMemoryPair,
    Mode,
    RecordSize,
    S2NError,
    S2NUsageError,
    ServerCertificate,
    tcp_handshake,
)
from tests.conftest import s2n_pair
from tlsdiff.certs import CERT_TYPES, certificate_for

POLICIES = ("default_tls13", "20190801", "test_all_tls13")
EXPECTED_SCHEME = {
    "ecdsa-p256": "ecdsa_secp256r1_sha256",
    "ecdsa-p384": "ecdsa_secp384r1_sha384",
    "rsa-2048": "rsa_pss_rsae_sha256",
    "rsa-pss-2048": "rsa_pss_pss_sha256",
}
KEY_LOG_LABELS = {
    b"CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    b"SERVER_HANDSHAKE_TRAFFIC_SECRET",
    b"CLIENT_TRAFFIC_SECRET_0",
    b"SERVER_TRAFFIC_SECRET_0",
    b"EXPORTER_SECRET",
}


@pytest.mark.parametrize("signer", [True, False], ids=["async-signer", "key-in-s2n"])
@pytest.mark.parametrize("cert_type", CERT_TYPES)
@pytest.mark.parametrize("policy", POLICIES)
def test_handshake_data_both_ways_and_key_log(policy: str, cert_type: str, signer: bool) -> None:
    with s2n_pair(policy, cert_type, seed=11, signer=signer) as sides:
        sides.pair.handshake()
        assert sides.pair.send(sides.client, b"ping" * 3000) == b"ping" * 3000
        assert sides.pair.send(sides.server, b"pong" * 9000) == b"pong" * 9000
        client_info, server_info = sides.client.info(), sides.server.info()
        sides.pair.close()
    assert client_info.protocol == server_info.protocol == "TLSv1.3"
    assert client_info.cipher == server_info.cipher
    assert client_info.handshake_type == "NEGOTIATED|FULL_HANDSHAKE|MIDDLEBOX_COMPAT"
    assert server_info.signature_scheme == EXPECTED_SCHEME[cert_type]
    for log in (sides.client_key_log, sides.server_key_log):
        assert {line.split(b" ")[0] for line in log} == KEY_LOG_LABELS
    # Both sides log the same secrets for the same client random.
    assert sorted(sides.client_key_log) == sorted(sides.server_key_log)


def test_alpn_and_sni() -> None:
    with s2n_pair(alpn=("h2", "http/1.1")) as sides:
        sides.pair.handshake()
        assert sides.client.info().alpn == "h2"
        assert sides.server.info().server_name == "localhost"


def test_key_update_then_data() -> None:
    with s2n_pair() as sides:
        sides.pair.handshake()
        sides.pair.transfers.clear()
        sides.client.request_key_update()
        assert sides.pair.send(sides.client, b"after update") == b"after update"
        assert sides.pair.send(sides.server, b"answer") == b"answer"
        # KeyUpdate (its own record) went first, then the data under the new key.
        assert len([t for t in sides.pair.transfers if t.direction.value == "client->server"]) == 2
        # s2n-tls does not support asking the peer to update in this version.
        with pytest.raises(S2NUsageError):
            sides.client.request_key_update(peer_update=True)


@pytest.mark.parametrize(
    ("record_size", "plaintext"),
    [(RecordSize.DEFAULT, 8087), (RecordSize.THROUGHPUT, 16384), (RecordSize.LOW_LATENCY, 1435)],
)
def test_record_sizes_follow_s2n_settings(record_size: RecordSize, plaintext: int) -> None:
    certificate = certificate_for("ecdsa-p256")
    with (
        Config(certificates=[ServerCertificate(certificate.chain_pem, certificate.key_pem)]) as server_config,
        Config(trust_pem=certificate.ca_pem) as client_config,
        Connection(client_config, Mode.CLIENT, seed=1, server_name="localhost") as client,
        Connection(server_config, Mode.SERVER, seed=1, record_size=record_size) as server,
    ):
        pair = InMemoryPair(client, server)
        pair.handshake()
        pair.transfers.clear()
        pair.send(server, bytes(40000))
    # Application data records: 5-byte header, plaintext, 1 content-type byte, 16-byte tag.
    assert max(len(t.data) for t in pair.transfers) == plaintext + 22


def test_raw_client_hello_reaches_the_server() -> None:
    with s2n_pair() as sides:
        sides.pair.handshake()
        client_hello = sides.server.client_hello()
    assert client_hello[:2] == b"\x03\x03"  # legacy_version, then the 32-byte random
    assert len(client_hello) > 100


def test_untrusted_server_certificate_is_rejected() -> None:
    served, other = certificate_for("ecdsa-p256"), certificate_for("rsa-2048")
    with (
        Config(certificates=[ServerCertificate(served.chain_pem, served.key_pem)]) as server_config,
        Config(trust_pem=served.chain_pem, verify_host=lambda name: False) as client_config,
        Connection(client_config, Mode.CLIENT, seed=1, server_name="localhost") as client,
        Connection(server_config, Mode.SERVER, seed=1) as server,
        pytest.raises(S2NError) as raised,
    ):
        del other
        InMemoryPair(client, server).handshake()
    assert raised.value.name.startswith("S2N_ERR_CERT")


def test_tcp_mode_handshake_and_echo() -> None:
    certificate = certificate_for("ecdsa-p256")
    with (
        Config(certificates=[ServerCertificate(certificate.chain_pem, certificate.key_pem)]) as server_config,
        Config(trust_pem=certificate.ca_pem) as client_config,
    ):
        received_by_client, received_by_server = tcp_handshake(
            lambda fd: Connection(client_config, Mode.CLIENT, seed=2, server_name="localhost", fd=fd),
            lambda fd: Connection(server_config, Mode.SERVER, seed=2, fd=fd),
        )
    assert (received_by_client, received_by_server) == (b"pong!", b"ping!")


def test_client_auth_required_with_client_certificate() -> None:
    server_cert, client_cert = certificate_for("ecdsa-p256"), certificate_for("rsa-2048")
    with (
        Config(
            certificates=[ServerCertificate(server_cert.chain_pem, server_cert.key_pem)],
            trust_pem=client_cert.ca_pem,
            client_auth=ClientAuth.REQUIRED,
        ) as server_config,
        Config(
            certificates=[ServerCertificate(client_cert.chain_pem, signer=KeySigner(client_cert.private_key))],
            trust_pem=server_cert.ca_pem,
            client_auth=ClientAuth.REQUIRED,
        ) as client_config,
        Connection(client_config, Mode.CLIENT, seed=3, server_name="localhost") as client,
        Connection(server_config, Mode.SERVER, seed=3) as server,
    ):
        InMemoryPair(client, server).handshake()
        assert "CLIENT_AUTH" in server.info().handshake_type
