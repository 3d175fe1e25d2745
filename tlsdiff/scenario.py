"""Run one scenario between any client and any server implementation, seeded alike.

The scenario: handshake, ``CLIENT_DATA`` client to server, ``SERVER_DATA`` back,
close_notify from the client answered by the server. Both sides are the harness's
endpoints (``tlsdiff.harness.open_endpoint``), built as every fuzz target builds them;
each side's output is carried to the other and recorded with its direction, and the
records are what the four-way comparison compares.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.connection import ConnectionInfo
from tlsdiff.certs import CertSpec
from tlsdiff.harness import Endpoint, Outcome, Role, Setup, Status, endpoint_info, open_endpoint
from tlsdiff.transcript import Record, split_records

__all__ = ["CLIENT_DATA", "SERVER_DATA", "PairResult", "ScenarioError", "run_pair", "run_s2n_pair"]

CLIENT_DATA = bytes(range(256)) * 20  # 5120 bytes: one record at s2n's default size
SERVER_DATA = b"tlsdiff server data " * 1000  # 20000 bytes: records of 8087, 8087 and 3826 bytes
_MAX_ROUNDS = 64
_CLIENT_TO_SERVER, _SERVER_TO_CLIENT = "client->server", "server->client"
_REVERSE = {_CLIENT_TO_SERVER: _SERVER_TO_CLIENT, _SERVER_TO_CLIENT: _CLIENT_TO_SERVER}
_RECEIVER = {_CLIENT_TO_SERVER: "server", _SERVER_TO_CLIENT: "client"}


class ScenarioError(RuntimeError):
    """The scenario did not run through: a side ended early (``outcome`` says how) or nothing moved (None)."""

    def __init__(self, message: str, outcome: Outcome | None = None) -> None:
        super().__init__(message)
        self.outcome = outcome


@dataclass(frozen=True)
class PairResult:
    """What a scenario produced: both sides' view (after the data, before the close), every record, the key logs."""

    client_implementation: str
    server_implementation: str
    policy: str
    cert_type: str
    seed: int
    client: ConnectionInfo
    server: ConnectionInfo
    records: list[Record]
    client_key_log: list[bytes] = field(repr=False)
    server_key_log: list[bytes] = field(repr=False)


class _Wire:
    """Carries each side's output to the other, records every write and gathers the data that arrives."""

    def __init__(self, client: Endpoint, server: Endpoint) -> None:
        self.routes = {_CLIENT_TO_SERVER: (client, server), _SERVER_TO_CLIENT: (server, client)}
        self.transfers: list[tuple[str, bytes]] = []
        self.arrived = {direction: bytearray() for direction in self.routes}

    def converse(self, said: dict[str, Outcome], what: str, *, closing: bool = False) -> dict[str, Outcome]:
        """Carry outputs both ways until neither side has more to say.

        ``said`` holds a side's latest outcome under the direction it sends in; so does the answer.
        """
        pending = {direction: said[direction].output if direction in said else b"" for direction in self.routes}
        last = dict(said)
        for _ in range(_MAX_ROUNDS):
            if not any(pending.values()):
                return last
            for direction, (_, receiver) in self.routes.items():
                output, pending[direction] = pending[direction], b""
                if output:
                    self.transfers.append((direction, output))
                    answer = _checked(receiver.deliver(output), _RECEIVER[direction], what, closing=closing)
                    self.arrived[direction] += answer.data
                    last[_REVERSE[direction]] = answer
                    pending[_REVERSE[direction]] += answer.output
        raise ScenarioError(f"{what} did not finish")

    def transfer(self, direction: str, data: bytes) -> None:
        """Send ``data`` in ``direction`` and check that all of it arrives."""
        sender, _ = self.routes[direction]
        sent = _checked(sender.send(data), _RECEIVER[_REVERSE[direction]], "data")
        self.converse({direction: sent}, "data")
        received, self.arrived[direction] = bytes(self.arrived[direction]), bytearray()
        if received != data:
            raise ScenarioError(f"sent {len(data)} bytes {direction}, {len(received)} arrived")


def _checked(outcome: Outcome, side: str, what: str, *, closing: bool = False) -> Outcome:
    """``outcome`` of the ``side`` ("client"/"server"), unless it ended the connection (only the peer's
    close_notify may, while closing)."""
    if outcome.ended and not (closing and outcome.status is Status.PEER_CLOSED):
        detail = f": {outcome.error}" + (f" ({outcome.meaning})" if outcome.meaning else "") if outcome.error else ""
        raise ScenarioError(f"{what}: the {outcome.implementation} {side} ended ({outcome.status}){detail}", outcome)
    return outcome


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
    (None: none) and ``verify`` whether the client validates the chain and name. A side
    that fails (or a scenario that stalls) raises ``ScenarioError``.
    """
    client_setup = Setup(Role.CLIENT, policy, cert_type, seed, alpn=alpn, server_name=server_name, verify=verify)
    server_setup = Setup(Role.SERVER, server_policy or policy, cert_type, seed, alpn=alpn, served=served)
    with open_endpoint(client_setup, client) as client_end, open_endpoint(server_setup, server) as server_end:
        wire = _Wire(client_end, server_end)
        starts = {
            _CLIENT_TO_SERVER: _checked(client_end.start(), "client", "handshake"),
            _SERVER_TO_CLIENT: _checked(server_end.start(), "server", "handshake"),
        }
        handshake = wire.converse(starts, "handshake")
        if any(outcome.status is not Status.COMPLETE for outcome in handshake.values()):
            raise ScenarioError("handshake stalled")
        wire.transfer(_CLIENT_TO_SERVER, CLIENT_DATA)
        wire.transfer(_SERVER_TO_CLIENT, SERVER_DATA)
        client_info, server_info = endpoint_info(client_end), endpoint_info(server_end)
        closing = {_CLIENT_TO_SERVER: _checked(client_end.close(), "client", "close")}
        answer = wire.converse(closing, "close", closing=True).get(_SERVER_TO_CLIENT)
        if answer is None or answer.status is not Status.PEER_CLOSED:
            raise ScenarioError(f"close: the {server} server did not see the client's close_notify", answer)
    return PairResult(
        client, server, policy, cert_type, seed, client_info, server_info,
        split_records(wire.transfers), list(client_end.key_log), list(server_end.key_log),
    )  # fmt: skip


def run_s2n_pair(policy: str, cert_type: str, seed: int, *, alpn: tuple[str, ...] = ()) -> PairResult:
    """The scenario between two s2n connections."""
    return run_pair("s2n", "s2n", policy, cert_type, seed, alpn=alpn)
