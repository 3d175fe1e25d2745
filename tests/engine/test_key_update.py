"""KeyUpdate between the engine and s2n, both directions (RFC 8446 section 4.6.3)."""

from __future__ import annotations

import pytest

from tests.engine.lockstep import handshake
from tlsdiff.harness import Role, Setup, Status, open_endpoint, open_engine

pytestmark = pytest.mark.openssl_engine


def test_s2n_client_updates_its_keys_and_the_engine_server_follows() -> None:
    server = open_engine(Setup(Role.SERVER, "default_tls13", "ecdsa-p256", 1))
    with open_endpoint(Setup(Role.CLIENT, "default_tls13", "ecdsa-p256", 1), "s2n") as client:
        assert [outcome.status for outcome in handshake(client, server)] == [Status.COMPLETE] * 2
        assert client.key_update(request_peer=False).output == b""  # s2n writes it with its next record
        sent = client.send(b"after the update")
        assert len(sent.records) == 2  # the KeyUpdate, then the data under the new keys
        received = server.deliver(sent.output)
        # The data was sealed under the new keys: reading it at all means the server took the update.
        assert (received.status, received.data) == (Status.COMPLETE, b"after the update")
        reply = server.send(b"reply")
        assert client.deliver(reply.output).data == b"reply"


def test_engine_client_updates_its_keys_and_s2n_follows() -> None:
    client = open_engine(Setup(Role.CLIENT, "default_tls13", "ecdsa-p256", 2))
    with open_endpoint(Setup(Role.SERVER, "default_tls13", "ecdsa-p256", 2), "s2n") as server:
        assert [outcome.status for outcome in handshake(client, server)] == [Status.COMPLETE] * 2
        for round_number in range(3):
            client.key_update(request_peer=False)
            sent = client.send(b"round %d" % round_number)
            received = server.deliver(sent.output)
            assert (received.status, received.data) == (Status.COMPLETE, b"round %d" % round_number)
