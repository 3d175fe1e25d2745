"""A lockstep conversation that keeps every step: one peer, two targets (the engine and s2n) of the same side.

Each target is a harness endpoint (``tlsdiff.harness``), so every step gives both
``Outcome``s: status, the bytes written, and where the state machine stands
(``last_message``, ``handshake_type``). The peer is an engine endpoint whose flights a
``Rewrite`` may change record by record before they are sealed (its own record
protection seals them, so protected records stay valid), a ``tlsdiff.peer.MutatingPeer``,
or C s2n-tls.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from engine.config import MessageLayout
from engine.connection import TLSConnection
from engine.instrument import Instrumentation, MessageHook, PlaintextRecord
from tlsdiff.fuzz_scenario import Mutation
from tlsdiff.harness import Endpoint, Outcome, Role, Setup, open_endpoint, open_engine
from tlsdiff.peer import MutatingPeer

Rewrite = Callable[[int, TLSConnection, list[PlaintextRecord]], list[PlaintextRecord]]

# The HelloRetryRequest setups of tests/tlsdiff/test_lockstep.py: the server wants secp384r1, the client shares x25519.
_HRR_SERVER_POLICY, _HRR_CLIENT_POLICY = "20250211", "default_tls13"


@dataclass(frozen=True)
class Step:
    """One step of the conversation: what each target did with the same input."""

    name: str
    engine: Outcome
    s2n: Outcome

    @property
    def view(self) -> tuple[tuple[str, str, str, bytes], tuple[str, str, str, bytes]]:
        """(status, last_message, handshake_type, output) of the engine and of s2n."""
        return _view(self.engine), _view(self.s2n)


def _view(outcome: Outcome) -> tuple[str, str, str, bytes]:
    return outcome.status.value, outcome.last_message, outcome.handshake_type, outcome.output


@dataclass(frozen=True)
class Sides:
    """The target's setup and its peer's."""

    target: Setup
    peer: Setup


def sides(
    role: Role, *, hrr: bool = False, seed: int = 7, peer_layout: MessageLayout | None = None, cert: str = "ecdsa-p256"
) -> Sides:
    """Setups for a target of ``role``; with ``hrr`` the server asks for another key share."""
    server_policy, client_policy = (_HRR_SERVER_POLICY, _HRR_CLIENT_POLICY) if hrr else ("default_tls13",) * 2
    cert = "ecdsa-p384" if hrr else cert
    target_policy, peer_policy = (
        (server_policy, client_policy) if role is Role.SERVER else (client_policy, server_policy)
    )
    peer_role = Role.CLIENT if role is Role.SERVER else Role.SERVER
    target = Setup(role, target_policy, cert, seed)
    peer = Setup(peer_role, peer_policy, cert, seed, layout=peer_layout or MessageLayout())
    return Sides(target, peer)


def _rewriting_peer(setup: Setup, rewrite: Rewrite) -> Endpoint:
    flights = itertools.count()

    def take(connection: TLSConnection) -> bytes:
        records = connection.take_plaintext_records()
        if not records:
            return b""
        return connection.seal_records(rewrite(next(flights), connection, records))

    return open_engine(setup, take, instrumentation=Instrumentation(defer_sealing=True))


@dataclass
class Conversation:
    """The two targets, the peer, and every step so far."""

    engine: Endpoint
    s2n: Endpoint
    peer: Endpoint
    target_is_client: bool
    steps: list[Step] = field(default_factory=list)

    def step(self, name: str, engine: Outcome, s2n: Outcome) -> Step:
        """Keep a step both targets took."""
        step = Step(name, engine, s2n)
        self.steps.append(step)
        return step

    def deliver(self, name: str, wire: bytes, *, eof: bool = False) -> Step:
        """The same bytes (and maybe the end of the stream) to both targets."""
        return self.step(name, self.engine.deliver(wire, eof=eof), self.s2n.deliver(wire, eof=eof))

    def handshake(self, *, eof_at: int | None = None, max_flights: int = 8) -> list[Step]:
        """Flights of the peer to both targets until one ends, the two differ, or nobody has more to say.

        ``eof_at``: after that many flights the stream ends instead of the next flight.
        """
        wire = self._first_wire()
        for flight in range(max_flights):
            if flight == eof_at:
                self.deliver(f"flight{flight}:eof", b"", eof=True)
                break
            if not wire:
                break
            step = self.deliver(f"flight{flight}", wire)
            if step.engine.ended or step.s2n.ended or step.engine.output != step.s2n.output or not step.engine.output:
                break
            wire = self.peer.deliver(step.engine.output).output
        return self.steps

    def _first_wire(self) -> bytes:
        if self.target_is_client:
            start = self.step("start", self.engine.start(), self.s2n.start())
            return self.peer.deliver(start.engine.output).output
        return self.peer.start().output


@contextmanager
def conversation(
    setups: Sides,
    *,
    peer: str = "engine",
    rewrite: Rewrite | None = None,
    mutations: Sequence[Mutation] = (),
    message_hook: MessageHook | None = None,
) -> Iterator[Conversation]:
    """Both targets and the peer (``"engine"`` or ``"s2n"``; an engine peer may rewrite or mutate its flights).

    ``message_hook`` rewrites the engine peer's messages before its transcript (``engine.instrument``).
    """
    with ExitStack() as stack:
        engine = open_engine(setups.target)
        s2n = stack.enter_context(open_endpoint(setups.target, "s2n"))
        if peer == "s2n":
            peer_endpoint = stack.enter_context(open_endpoint(setups.peer, "s2n"))
        elif rewrite is not None:
            peer_endpoint = _rewriting_peer(setups.peer, rewrite)
        elif mutations:
            peer_endpoint = MutatingPeer(setups.peer, mutations).endpoint
        else:
            peer_endpoint = open_engine(setups.peer, instrumentation=Instrumentation(message_hook=message_hook))
        yield Conversation(engine, s2n, peer_endpoint, setups.target.is_client)


def assert_lockstep(steps: Sequence[Step]) -> None:
    """At every step both targets have the same status, position, handshake type and output.

    The handshake type only while s2n is on TLS 1.3 (or has no version yet): below it s2n names
    the same flags with its TLS 1.2 labels, and the engine speaks TLS 1.3 only.
    """
    assert steps
    for step in steps:
        engine, s2n = step.view
        if step.s2n.protocol not in ("", "NONE", "TLSv1.3"):
            engine, s2n = (*engine[:2], "", engine[3]), (*s2n[:2], "", s2n[3])
        assert engine == s2n, (
            f"{step.name}: engine {engine[:3]} != s2n {s2n[:3]} (outputs equal: {engine[3] == s2n[3]})"
        )


def positions(steps: Sequence[Step]) -> list[str]:
    """s2n's last message after each step."""
    return [step.s2n.last_message for step in steps]
