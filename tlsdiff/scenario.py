"""Run one scenario between any client and any server implementation, seeded alike.

The scenario: handshake, ``CLIENT_DATA`` client to server, ``SERVER_DATA`` back,
close_notify from the client answered by the server. Every write is recorded with
its direction; the records are what the four-way comparison compares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tlsdiff.certs import CertSpec
from tlsdiff.endpoints import Endpoint, EndpointSpec, open_endpoint
from tlsdiff.transcript import Record, split_records

__all__ = ["CLIENT_DATA", "SERVER_DATA", "PairResult", "ScenarioStalledError", "run_pair", "run_s2n_pair"]

CLIENT_DATA = bytes(range(256)) * 20  # 5120 bytes: one record at s2n's default size
SERVER_DATA = b"tlsdiff server data " * 1000  # 20000 bytes: records of 8087, 8087 and 3826 bytes
_MAX_ROUNDS = 64


class ScenarioStalledError(RuntimeError):
    """Both sides wait and nothing is in flight."""


@dataclass(frozen=True)
class PairResult:
    """What a scenario produced: both sides' view, every record, the key logs."""

    client_implementation: str
    server_implementation: str
    policy: str
    cert_type: str
    seed: int
    client: dict[str, str]
    server: dict[str, str]
    records: list[Record]
    client_key_log: list[bytes] = field(repr=False)
    server_key_log: list[bytes] = field(repr=False)


class _Wire:
    """Moves bytes between the two endpoints and records every write."""

    def __init__(self, client: Endpoint, server: Endpoint) -> None:
        self.client, self.server = client, server
        self.transfers: list[tuple[str, bytes]] = []

    def pump(self) -> int:
        moved = 0
        for sender, receiver, direction in (
            (self.client, self.server, "client->server"),
            (self.server, self.client, "server->client"),
        ):
            data = sender.take_outgoing()
            if data:
                self.transfers.append((direction, data))
                receiver.feed(data)
                moved += len(data)
        return moved

    def drive(self, client_step: Callable[[], bool], server_step: Callable[[], bool], what: str) -> None:
        client_done = server_done = False
        for _ in range(_MAX_ROUNDS):
            client_done = client_done or client_step()
            moved = self.pump()
            server_done = server_done or server_step()
            moved += self.pump()
            if client_done and server_done:
                return
            if moved == 0:
                raise ScenarioStalledError(f"{what} stalled")
        raise ScenarioStalledError(f"{what} did not finish")

    def transfer(self, sender: Endpoint, receiver: Endpoint, data: bytes) -> None:
        sender.send(data)
        received = b""
        for _ in range(_MAX_ROUNDS):
            self.pump()
            chunk, closed = receiver.read_available()
            received += chunk
            if received == data:
                return
            if closed:
                break
        raise ScenarioStalledError(f"sent {len(data)} bytes, {len(received)} arrived")


def _close(wire: _Wire) -> None:
    wire.client.close()
    for _ in range(_MAX_ROUNDS):
        if not wire.pump():
            break
        _, closed = wire.server.read_available()
        if closed:
            wire.server.close()
    wire.pump()


def run_pair(
    client: str,
    server: str,
    policy: str,
    cert_type: str,
    seed: int,
    *,
    alpn: tuple[str, ...] = (),
    server_policy: str | None = None,
    served: tuple[CertSpec, ...] = (),
    server_name: str | None = "localhost",
    verify: bool = True,
) -> PairResult:
    """Run the scenario with ``client`` and ``server`` each ``"engine"`` or ``"s2n"``.

    ``server_policy`` gives the server another policy than the client's (e.g. to force
    a HelloRetryRequest); ``served`` gives the server several certificates (first added
    first; default ``cert_type`` for localhost); ``server_name`` is the client's SNI
    (None: none) and ``verify`` whether the client validates the chain and name.
    """
    client_spec = EndpointSpec(client, True, policy, cert_type, seed, alpn, server_name=server_name, verify=verify)
    server_spec = EndpointSpec(server, False, server_policy or policy, cert_type, seed, alpn, served=served)
    with open_endpoint(client_spec) as client_end, open_endpoint(server_spec) as server_end:
        wire = _Wire(client_end, server_end)
        wire.drive(client_end.handshake_step, server_end.handshake_step, "handshake")
        wire.transfer(client_end, server_end, CLIENT_DATA)
        wire.transfer(server_end, client_end, SERVER_DATA)
        client_view, server_view = client_end.describe(), server_end.describe()
        _close(wire)
    return PairResult(
        client, server, policy, cert_type, seed, client_view, server_view,
        split_records(wire.transfers), client_spec.key_log, server_spec.key_log,
    )  # fmt: skip


def run_s2n_pair(policy: str, cert_type: str, seed: int, *, alpn: tuple[str, ...] = ()) -> PairResult:
    """The scenario between two s2n connections."""
    return run_pair("s2n", "s2n", policy, cert_type, seed, alpn=alpn)
