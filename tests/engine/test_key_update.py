"""KeyUpdate between the engine and s2n, both directions (RFC 8446 section 4.6.3)."""

from __future__ import annotations

import pytest

from engine.connection import DataReceived
from tests.engine.lockstep import engine_connection, s2n_connection

pytestmark = pytest.mark.openssl_engine


def test_s2n_client_updates_its_keys_and_the_engine_server_follows() -> None:
    server = engine_connection("default_tls13", "ecdsa-p256", 1, client=False)
    with s2n_connection("default_tls13", "ecdsa-p256", 1, client=True) as client:
        while not client.negotiate():
            server.receive_data(client.take_outgoing())
            client.feed(server.data_to_send())
        server.receive_data(client.take_outgoing())
        assert server.handshake_complete
        old_read_keys = server.ctx.records.read_protection
        client.request_key_update()
        assert client.send(b"after the update") == 16
        events = server.receive_data(client.take_outgoing())
        assert events == [DataReceived(b"after the update")]
        assert server.ctx.records.read_protection is not old_read_keys
        server.send(b"reply")
        client.feed(server.data_to_send())
        assert client.recv() == b"reply"


def test_engine_client_updates_its_keys_and_s2n_follows() -> None:
    client = engine_connection("default_tls13", "ecdsa-p256", 2, client=True)
    with s2n_connection("default_tls13", "ecdsa-p256", 2, client=False) as server:
        client.start()
        while not client.handshake_complete:
            server.feed(client.data_to_send())
            server.negotiate()
            client.receive_data(server.take_outgoing())
        server.feed(client.data_to_send())
        assert server.negotiate()
        for round_number in range(3):
            client.key_update()
            client.send(b"round %d" % round_number)
            server.feed(client.data_to_send())
            assert server.recv() == b"round %d" % round_number
