"""A lockstep driver for bad-input tests: one actor, two targets (s2n and the engine).

The actor is an engine connection (its output can be mutated, or its internals patched
to misbehave). Every flight it sends goes to both targets; each target either answers
(the answers must be identical, and the actor gets them) or fails (then both must
fail, and the alert bytes each writes must be identical; s2n writes its alert once the
blinding delay has passed on its config's clock).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from engine.config import Compat
from engine.connection import TLSConnection
from engine.crypto.signer import KeySigner
from engine.errors import TLSError
from engine.randomness import SeededRandomSource, StreamLabel
from s2n_bridge import Config, Connection, Mode, S2NError, ServerCertificate
from tlsdiff.certs import certificate_for
from tlsdiff.endpoints import EndpointSpec, engine_config

Mutation = Callable[[int, bytes], bytes]


@dataclass(frozen=True)
class Outcome:
    """What a target did with one flight."""

    failed: bool
    output: bytes
    error: str = ""


@dataclass(frozen=True)
class Verdict:
    """The end of a lockstep run: both targets' last outcomes and how many flights went."""

    s2n: Outcome
    engine: Outcome
    flights: int


def engine_connection(
    policy: str, cert_type: str, seed: int, *, client: bool, compat: Compat | None = None
) -> TLSConnection:
    """An engine endpoint configured as the scenario runner configures it (``compat``: other switches)."""
    spec = EndpointSpec("engine", client, policy, cert_type, seed)
    label = StreamLabel.CLIENT if client else StreamLabel.SERVER
    name = certificate_for(cert_type).server_name if client else None
    config = engine_config(spec) if compat is None else replace(engine_config(spec), compat=compat)
    return TLSConnection(config, client=client, random=SeededRandomSource(seed, label), server_name=name)


@contextmanager
def s2n_connection(policy: str, cert_type: str, seed: int, *, client: bool) -> Iterator[Connection]:
    """An s2n endpoint configured as the scenario runner configures it."""
    certificate = certificate_for(cert_type)
    if client:
        config = Config(policy, trust_pem=certificate.ca_pem)
    else:
        served = ServerCertificate(certificate.chain_pem, signer=KeySigner(certificate.private_key))
        config = Config(policy, certificates=[served])
    with config, Connection(config, Mode.CLIENT if client else Mode.SERVER, seed=seed,
                            server_name=certificate.server_name if client else None) as connection:  # fmt: skip
        yield connection


def _deliver_s2n(target: Connection, data: bytes) -> Outcome:
    target.feed(data)
    try:
        target.negotiate()
    except S2NError as error:
        return Outcome(True, target.take_outgoing() + target.send_pending_alert(), error.name)
    return Outcome(False, target.take_outgoing())


def _deliver_engine(target: TLSConnection, data: bytes) -> Outcome:
    try:
        target.receive_data(data)
    except TLSError as error:
        return Outcome(True, target.data_to_send(), type(error).__name__)
    return Outcome(False, target.data_to_send())


def lockstep(
    actor: TLSConnection, s2n_target: Connection, engine_target: TLSConnection, mutate: Mutation | None = None
) -> Verdict:
    """Drive the actor against both targets until one fails, both finish, or nothing moves."""
    actor.start()
    if actor.ctx.is_client is False:
        s2n_target.negotiate()
        engine_target.start()
        hello = s2n_target.take_outgoing()
        assert hello == engine_target.data_to_send(), "the two targets' ClientHellos differ"
        actor.receive_data(hello)
    last = Outcome(False, b"")
    for flight in range(16):
        data = actor.data_to_send()
        if mutate is not None:
            data = mutate(flight, data)
        if not data:
            return Verdict(last, last, flight)
        s2n_outcome, engine_outcome = _deliver_s2n(s2n_target, data), _deliver_engine(engine_target, data)
        if s2n_outcome.failed or engine_outcome.failed or s2n_outcome.output != engine_outcome.output:
            return Verdict(s2n_outcome, engine_outcome, flight)
        last = s2n_outcome
        if s2n_outcome.output:
            try:
                actor.receive_data(s2n_outcome.output)
            except TLSError:
                # The actor's own view broke (e.g. its ClientHello was mutated): the targets agreed so far.
                return Verdict(s2n_outcome, engine_outcome, flight)
    return Verdict(last, last, 16)
