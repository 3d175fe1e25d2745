"""``progress()``: the three state names of ``info()``, on the engine's connections and on s2n's alike."""

from __future__ import annotations

from engine.connection import TLSConnection
from s2n_bridge import Config, Connection, InMemoryPair, Mode, ServerCertificate
from tlsdiff.certs import certificate_for
from tlsdiff.harness import Role, Setup, open_engine


def _names(connection: TLSConnection | Connection) -> tuple[str, str, str]:
    info = connection.info()
    return info.protocol, info.handshake_type, info.last_message


def test_engine_progress_is_what_info_says_at_every_step() -> None:
    client = open_engine(Setup(Role.CLIENT, "default_tls13", "ecdsa-p256", 3)).connection
    server = open_engine(Setup(Role.SERVER, "default_tls13", "ecdsa-p256", 3)).connection
    assert tuple(client.progress()) == _names(client) == ("NONE", "INITIAL", "CLIENT_HELLO")
    client.start()
    for sender, receiver in ((client, server), (server, client), (client, server)):
        receiver.receive_data(sender.data_to_send())
        for connection in (client, server):
            assert tuple(connection.progress()) == _names(connection)
    assert server.progress().last_message == "APPLICATION_DATA"


def test_s2n_progress_is_what_info_says() -> None:
    cert = certificate_for("ecdsa-p256")
    with (
        Config("default_tls13", certificates=[ServerCertificate(cert.chain_pem, cert.key_pem)]) as server_config,
        Config("default_tls13", trust_pem=cert.ca_pem) as client_config,
        Connection(client_config, Mode.CLIENT, seed=3, server_name="localhost") as client,
        Connection(server_config, Mode.SERVER, seed=3) as server,
    ):
        assert tuple(client.progress()) == _names(client)
        InMemoryPair(client, server).handshake()
        for connection in (client, server):
            assert tuple(connection.progress()) == _names(connection)
        assert server.progress().protocol == "TLSv1.3"
