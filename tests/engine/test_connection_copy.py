"""copy.deepcopy of a connection: an independent twin in the same state, sharing the configuration."""

from __future__ import annotations

import copy

from engine.config import EngineConfig
from engine.connection import DataReceived, TLSConnection
from engine.randomness import SeededRandomSource, StreamLabel
from tlsdiff.harness import Role, Setup, engine_config


def _pair(seed: int) -> tuple[TLSConnection, TLSConnection]:
    client_config = engine_config(Setup(Role.CLIENT, "default_tls13", "ecdsa-p256", seed))
    server_config = engine_config(Setup(Role.SERVER, "default_tls13", "ecdsa-p256", seed))
    client = TLSConnection(client_config, client=True, server_name="localhost",
                           random=SeededRandomSource(seed, StreamLabel.CLIENT))  # fmt: skip
    server = TLSConnection(server_config, client=False, random=SeededRandomSource(seed, StreamLabel.SERVER))
    return client, server


def _pump(sender: TLSConnection, receiver: TLSConnection) -> bytes:
    data, wire = b"", sender.data_to_send()
    if not wire:  # receive_data(b"") would be the end of the stream
        return data
    for event in receiver.receive_data(wire):
        if isinstance(event, DataReceived):
            data += event.data
    return data


def test_a_copied_conversation_goes_on_byte_for_byte_like_the_original() -> None:
    client, server = _pair(5)
    client.start()
    _pump(client, server)
    _pump(server, client)  # the client is done; the server waits for its Finished
    twin_client, twin_server = copy.deepcopy((client, server))
    outputs = []
    for c, s in ((client, server), (twin_client, twin_server)):
        _pump(c, s)
        c.send(b"ping")
        c.key_update(request_peer=True)
        c.send(b"after update")
        wire = c.data_to_send()
        received = b"".join(e.data for e in s.receive_data(wire) if isinstance(e, DataReceived))
        outputs.append((wire, received, s.data_to_send()))
    assert outputs[0] == outputs[1]
    assert outputs[0][1] == b"pingafter update"


def test_a_copy_is_independent() -> None:
    client, server = _pair(6)
    client.start()
    _pump(client, server)
    _pump(server, client)
    _pump(client, server)
    twin = copy.deepcopy(client)
    client.send(b"only the original")
    assert twin.data_to_send() == b""
    twin.send(b"x")
    assert _pump(twin, copy.deepcopy(server)) == b"x"  # the twin's first record, which the server expects


def test_seeded_randomness_continues_where_it_stood() -> None:
    source = SeededRandomSource(9, StreamLabel.CLIENT)
    source.draw(100)
    twin = copy.deepcopy(source)
    assert twin.draw(32) == source.draw(32)


def test_config_is_shared() -> None:
    config = EngineConfig("default_tls13")
    assert copy.deepcopy(config) is config
