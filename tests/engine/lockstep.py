"""A lockstep driver for bad-input tests: one actor, two targets (s2n and the engine), all harness endpoints.

The actor is an engine endpoint (``engine_endpoint``, over ``tlsdiff.harness.open_engine``): its
messages can be rewritten inside it (``message_hook``), its configuration changed (``config``), and
each flight it sends mutated on the way (``mutate``). Every flight goes to both targets through
``Endpoint.deliver``; each target either answers (the answers must be identical, and the actor gets
them) or ends (then the run stops). A target that rejects a flight ends with ``Status.FAILED`` and the
alert it wrote in its output: the harness's s2n endpoint lets the blinding delay pass on its config's
clock (``s2n_bridge.Connection.send_pending_alert``), so s2n's alert comes out too.

>>> with open_endpoint(Setup(Role.SERVER, "default_tls13", "ecdsa-p256", 3), "s2n") as s2n_target:
...     verdict = lockstep(engine_endpoint(Setup(Role.CLIENT, "default_tls13", "ecdsa-p256", 3)), s2n_target,
...                        engine_endpoint(Setup(Role.SERVER, "default_tls13", "ecdsa-p256", 3)))
>>> verdict.s2n.status, verdict.engine.status, verdict.flights
(<Status.COMPLETE: 'complete'>, <Status.COMPLETE: 'complete'>, 2)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from engine.config import Compat, EngineConfig
from engine.connection import TLSConnection
from engine.instrument import Instrumentation, MessageHook
from tlsdiff.harness import Endpoint, EngineEndpoint, Outcome, Role, Setup, engine_config, open_endpoint, open_engine

__all__ = ["Mutation", "Verdict", "engine_connection", "engine_endpoint", "handshake", "lockstep", "run_lockstep"]

Mutation = Callable[[int, bytes], bytes]
"""``(flight number, the actor's flight) -> the bytes both targets get instead``."""

_MAX_FLIGHTS = 16


@dataclass(frozen=True)
class Verdict:
    """The end of a lockstep run: both targets' last outcomes, how many flights went, and the actor's last."""

    s2n: Outcome
    engine: Outcome
    flights: int
    actor: Outcome


def engine_endpoint(
    setup: Setup,
    *,
    compat: Compat | None = None,
    config: EngineConfig | None = None,
    message_hook: MessageHook | None = None,
) -> EngineEndpoint:
    """The harness's engine endpoint for ``setup``; ``compat`` or ``config`` replace its configuration's
    (``compat``: the switches of ``engine_config(setup)``); ``message_hook`` rewrites what it sends."""
    if compat is not None:
        config = replace(engine_config(setup) if config is None else config, compat=compat)
    instrumentation = None if message_hook is None else Instrumentation(message_hook=message_hook)
    return open_engine(setup, config=config, instrumentation=instrumentation)


def engine_connection(
    policy: str,
    cert_type: str,
    seed: int,
    *,
    client: bool,
    compat: Compat | None = None,
    config: EngineConfig | None = None,
    message_hook: MessageHook | None = None,
) -> TLSConnection:
    """The ``TLSConnection`` of ``engine_endpoint`` for ``Setup(role, policy, cert_type, seed)``, for tests that
    drive the engine's own verbs."""
    setup = Setup(Role.CLIENT if client else Role.SERVER, policy, cert_type, seed)
    return engine_endpoint(setup, compat=compat, config=config, message_hook=message_hook).connection


def lockstep(
    actor: EngineEndpoint, s2n_target: Endpoint, engine_target: Endpoint, mutate: Mutation | None = None
) -> Verdict:
    """Drive the actor against both targets until one ends, the outputs differ, or nothing moves."""
    actor_outcome = actor.start()
    s2n_outcome, engine_outcome = s2n_target.start(), engine_target.start()
    if not actor.connection.is_client:
        assert s2n_outcome.output == engine_outcome.output, "the two targets' ClientHellos differ"
        actor_outcome = actor.deliver(s2n_outcome.output)
    if actor_outcome.ended:
        return Verdict(s2n_outcome, engine_outcome, 0, actor_outcome)
    for flight in range(_MAX_FLIGHTS):
        data = actor_outcome.output if mutate is None else mutate(flight, actor_outcome.output)
        if not data:
            return Verdict(s2n_outcome, engine_outcome, flight, actor_outcome)
        s2n_outcome, engine_outcome = s2n_target.deliver(data), engine_target.deliver(data)
        if s2n_outcome.ended or engine_outcome.ended or s2n_outcome.output != engine_outcome.output:
            return Verdict(s2n_outcome, engine_outcome, flight, actor_outcome)
        # Nothing came back: the actor has nothing new to say (its output was all taken).
        answer = s2n_outcome.output
        actor_outcome = actor.deliver(answer) if answer else replace(actor_outcome, output=b"")
        if actor_outcome.ended:
            # The actor's own view broke (e.g. its ClientHello was mutated): the targets agreed so far.
            return Verdict(s2n_outcome, engine_outcome, flight, actor_outcome)
    return Verdict(s2n_outcome, engine_outcome, _MAX_FLIGHTS, actor_outcome)


def handshake(client: Endpoint, server: Endpoint) -> tuple[Outcome, Outcome]:
    """Pass each side's flights to the other until one has nothing to say or ends; the last outcome of each
    (the client's first). Both are ``Status.COMPLETE`` after a good handshake."""
    last = [client.start(), server.start()]
    sender = 0
    for _ in range(_MAX_FLIGHTS):
        flight = last[sender].output
        if not flight or last[sender].ended:
            break
        sender = 1 - sender
        last[sender] = (client, server)[sender].deliver(flight)
    return last[0], last[1]


def run_lockstep(
    actor: EngineEndpoint, target: Setup, mutate: Mutation | None = None, *, compat: Compat | None = None
) -> Verdict:
    """``lockstep`` against an s2n target and an engine target of ``target`` (the engine's with ``compat``)."""
    with open_endpoint(target, "s2n") as s2n_target:
        return lockstep(actor, s2n_target, engine_endpoint(target, compat=compat), mutate)
