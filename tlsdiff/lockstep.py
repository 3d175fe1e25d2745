"""The lockstep driver: the side under test runs twice, engine and s2n, seeded alike, against one peer.

Every flight of the peer goes to both targets; their answers are compared by the oracle
before the peer sees them (identical targets give identical keys, so the peer's next
flight is valid for both). The first divergence ends the run. After the handshake the
scenario's events run the same way (application data, KeyUpdate, alerts, close, EOF).

    result = run_scenario(Scenario(role=Role.SERVER, policy="default_tls13", seed=7))
    result.divergence        # None: the two agreed at every step
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from typing import TypeVar

from tlsdiff.delivery import deliver, merge, payload, within_budget
from tlsdiff.freeze import Frozen
from tlsdiff.fuzz_scenario import Action, Event, Peer, Scenario, Stage
from tlsdiff.harness import (
    Endpoint,
    Outcome,
    Role,
    S2NSnapshot,
    Setup,
    Status,
    open_endpoint,
    open_engine,
    restore_s2n,
    snapshot_s2n,
)
from tlsdiff.locate import locate
from tlsdiff.oracle import Divergence, Tier, compare
from tlsdiff.peer import FLIGHT_MODULUS, MutatingPeer, WireMutatingPeer

__all__ = [
    "Established",
    "RunResult",
    "SnapshotMismatchError",
    "deliver",
    "established",
    "run_scenario",
    "target_direction",
]

_MAX_ROUNDS = 12  # a TLS 1.3 handshake takes at most 4 flights each way; more means a loop
_SNAPSHOT_LIMIT = 2048  # handshakes (and openings, in their own cache) kept for reuse: about 30 KiB each
_MAX_HANDSHAKE_FLIGHTS = 4  # a peer's flights in one handshake: two ClientHellos and a Finished at most


@dataclass(frozen=True)
class RunResult:
    """What one lockstep run did: the divergence (None: agreement), both conversations, every key log."""

    scenario: Scenario
    divergence: Divergence | None
    steps: tuple[str, ...]
    transfers: dict[str, list[tuple[str, bytes]]]  # "engine" / "s2n": the peer's view of each target
    key_logs: dict[str, list[bytes]]  # "peer", "engine", "s2n"
    handshake_complete: bool


def target_direction(role: Role) -> str:
    """The direction the targets write in."""
    return "server->client" if role is Role.SERVER else "client->server"


def _step_name(step: str, round_number: int) -> str:
    """``flight`` rounds are numbered from 0; an event's first round is the event itself, then ``+1``, ``+2``."""
    if step == "flight":
        return f"flight{round_number}"
    return step if round_number == 0 else f"{step}+{round_number}"


@dataclass
class _Run:
    scenario: Scenario
    engine: Endpoint
    s2n: Endpoint
    peer: Endpoint
    mutating: MutatingPeer | None
    steps: list[str] = field(default_factory=list)
    transfers: dict[str, list[tuple[str, bytes]]] = field(default_factory=lambda: {"engine": [], "s2n": []})
    complete: bool = False
    targets_closed: bool = False

    @property
    def _to_target(self) -> str:
        return "client->server" if self.scenario.role is Role.SERVER else "server->client"

    @property
    def _to_peer(self) -> str:
        return target_direction(self.scenario.role)

    def _check(self, step: str, engine: Outcome, s2n: Outcome) -> Divergence | None:
        self.steps.append(step)
        for name, outcome in (("engine", engine), ("s2n", s2n)):
            if outcome.output:
                self.transfers[name].append((self._to_peer, outcome.output))
        self.complete = engine.status is Status.COMPLETE and s2n.status is Status.COMPLETE
        return compare(self.scenario.role, step, engine, s2n, self._locate)

    def _locate(self, engine: Outcome, s2n: Outcome) -> tuple[str, str, tuple[str, ...]]:
        key_logs = {"peer": self.peer.key_log, "engine": self.engine.key_log, "s2n": self.s2n.key_log}
        difference, _, _ = locate(self.transfers, key_logs, self._to_peer)
        if difference is None:  # the outputs differ only in how they were cut into writes
            return "record", "stream", ()
        return difference.message, difference.field_path, (f"first differing record: {difference.index}",)

    def _record_peer(self, wire: bytes) -> None:
        for name in ("engine", "s2n"):
            self.transfers[name].append((self._to_target, wire))

    def exchange(
        self, step: str, wire: bytes, *, eof: bool = False, first_round: int = 0
    ) -> tuple[Divergence | None, bool]:
        """The peer's bytes to both targets and back until nobody has more to say; (divergence, ended)."""
        for round_number in range(first_round, _MAX_ROUNDS):
            if not wire and not eof:
                return None, False
            divergence, ended, answer = self._round(step, round_number, wire, eof)
            if ended:
                return divergence, True
            wire, eof = self._answer(answer), False
        return None, False

    def _round(self, step: str, round_number: int, wire: bytes, eof: bool) -> tuple[Divergence | None, bool, bytes]:
        """One flight of the peer to both targets: (divergence, ended, the targets' answer)."""
        self._record_peer(wire)
        chunk = self.scenario.chunk
        engine, s2n = deliver(self.engine, wire, chunk, eof=eof), deliver(self.s2n, wire, chunk, eof=eof)
        divergence = self._check(_step_name(step, round_number), engine, s2n)
        return divergence, divergence is not None or engine.ended, engine.output

    def _answer(self, target_output: bytes) -> bytes:
        """Hand the targets' (identical) answer to the peer; return what the peer says next."""
        if not target_output:
            return b""
        return self.peer.deliver(target_output).output

    def targets_act(
        self, step: str, engine: Outcome, s2n: Outcome, reply: str | None = None
    ) -> tuple[Divergence | None, bool]:
        """The targets spoke first (ClientHello, data, KeyUpdate, close): compare, then let the peer answer."""
        divergence = self._check(step, engine, s2n)
        if divergence is not None or engine.ended:
            return divergence, True
        return self.exchange(reply or f"{step}:reply", self._answer(engine.output))

    def handshake(self) -> tuple[Divergence | None, bool]:
        """Steps: ``start`` (a client target's ClientHello), then ``flight0``, ``flight1``... (the peer's flights)."""
        divergence, ended, answer = self.opening()
        if answer is None:
            return divergence, ended
        return self.rest_of_handshake(answer)

    def opening(self) -> tuple[Divergence | None, bool, bytes | None]:
        """The handshake up to the targets' answer to the peer's flight 0, which the peer has not read:
        (divergence, ended, that answer), or None for the answer when the handshake is already over."""
        if self.scenario.role is Role.CLIENT:
            engine, s2n = self.engine.start(), self.s2n.start()
            divergence = self._check("start", engine, s2n)
            if divergence is not None or engine.ended:
                return divergence, True, None
            wire = self._answer(engine.output)
        else:
            wire = self.peer.start().output
        if not wire:
            return None, False, None
        divergence, ended, answer = self._round("flight", 0, wire, False)
        return divergence, ended, None if ended else answer

    def rest_of_handshake(self, answer: bytes) -> tuple[Divergence | None, bool]:
        """From the opening's answer (``opening``) to the end of the handshake."""
        return self.exchange("flight", self._answer(answer), first_round=1)

    def event(self, index: int, event: Event) -> tuple[Divergence | None, bool]:
        step = f"event{index}:{event.action.name.lower()}"
        action, data = event.action, payload(event.size)
        if action is Action.PEER_DATA:
            return self.exchange(step, self._peer_send(data, event.chunk))
        if action is Action.PEER_KEY_UPDATE:
            update = self.peer.key_update(request_peer=event.size % 2 == 1)
            return self.exchange(step, update.output + self.peer.send(data or b"k").output)
        if action is Action.PEER_CLOSE:
            return self.exchange(step, self.peer.close().output)
        if action is Action.PEER_ALERT:
            return self.exchange(step, self.mutating.alert(event.size % 256) if self.mutating else b"")
        if action is Action.PEER_EOF:
            return self.exchange(step, b"", eof=True)
        return self._target_event(step, action, data)

    def _peer_send(self, data: bytes, chunk: int) -> bytes:
        if not chunk:
            return self.peer.send(data).output
        return b"".join(self.peer.send(data[start : start + chunk]).output for start in range(0, len(data), chunk))

    def _target_event(self, step: str, action: Action, data: bytes) -> tuple[Divergence | None, bool]:
        if self.targets_closed:
            # After their close_notify the targets write nothing more (both refuse): no step to compare.
            return None, False
        if action is Action.TARGET_DATA:
            return self.targets_act(step, self.engine.send(data), self.s2n.send(data))
        if action is Action.TARGET_CLOSE:
            self.targets_closed = True
            return self.targets_act(step, self.engine.close(), self.s2n.close())
        # TARGET_KEY_UPDATE: s2n writes its KeyUpdate with the next record, so the step is "update, then send";
        # and s2n cannot ask its peer to update (tls/s2n_key_update.c), so neither target does.
        engine = merge(self.engine.key_update(request_peer=False), self.engine.send(data or b"k"))
        s2n = merge(self.s2n.key_update(request_peer=False), self.s2n.send(data or b"k"))
        return self.targets_act(step, engine, s2n)


def _setups(scenario: Scenario, target_compat: str) -> tuple[Setup, Setup]:
    target = Setup(
        scenario.role, scenario.policy, scenario.cert_type, scenario.seed, compat=target_compat, trust=scenario.trust
    )
    peer_role = Role.CLIENT if scenario.role is Role.SERVER else Role.SERVER
    peer = Setup(peer_role, scenario.peer_policy or scenario.policy, scenario.cert_type, scenario.seed,
                 compat=scenario.peer_compat)  # fmt: skip
    return target, peer


class _Echo:
    """The second target of a one-target run: answers each verb with the first target's outcome of it."""

    implementation = "echo"

    def __init__(self, engine: Endpoint) -> None:
        self.key_log = engine.key_log
        self.last: Outcome | None = None

    def _record(self, outcome: Outcome) -> Outcome:
        self.last = outcome
        return outcome

    def start(self) -> Outcome:
        return self._echo()

    def deliver(self, data: bytes, *, eof: bool = False) -> Outcome:
        return self._echo()

    def deliver_pieces(self, pieces: Sequence[bytes], *, eof: bool = False) -> Outcome:
        return self._echo()

    def send(self, data: bytes) -> Outcome:
        return self._echo()

    def key_update(self, *, request_peer: bool) -> Outcome:
        return self._echo()

    def close(self) -> Outcome:
        return self._echo()

    def _echo(self) -> Outcome:
        return self.last if self.last is not None else Outcome("engine", Status.WAITING, b"")


class _Recorded:
    """The one target of a one-target run; its ``_Echo`` repeats its every outcome."""

    implementation = "alone"

    def __init__(self, engine: Endpoint, echo: _Echo) -> None:
        self._engine, self._echo = engine, echo
        self.key_log = engine.key_log

    def start(self) -> Outcome:
        return self._echo._record(self._engine.start())

    def deliver(self, data: bytes, *, eof: bool = False) -> Outcome:
        return self._echo._record(self._engine.deliver(data, eof=eof))

    def deliver_pieces(self, pieces: Sequence[bytes], *, eof: bool = False) -> Outcome:
        return self._echo._record(self._engine.deliver_pieces(pieces, eof=eof))

    def send(self, data: bytes) -> Outcome:
        return self._echo._record(self._engine.send(data))

    def key_update(self, *, request_peer: bool) -> Outcome:
        return self._echo._record(self._engine.key_update(request_peer=request_peer))

    def close(self) -> Outcome:
        return self._echo._record(self._engine.close())


@contextmanager
def _endpoints(scenario: Scenario, alone: str | None, target_compat: str) -> Iterator[_Run]:
    target_setup, peer_setup = _setups(scenario, target_compat)
    with ExitStack() as stack:
        engine: Endpoint
        s2n: Endpoint
        if alone is not None:
            if alone not in ("engine", "s2n"):
                raise ValueError(f"alone must be 'engine' or 's2n', not {alone!r}")
            # target_setup carries target_compat: the engine's switches when it runs alone too.
            single = stack.enter_context(open_endpoint(target_setup, alone))
            echo = _Echo(single)
            engine, s2n = _Recorded(single, echo), echo
        else:
            engine = open_engine(target_setup)
            s2n = stack.enter_context(open_endpoint(target_setup, "s2n"))
        mutating: MutatingPeer | None = None
        peer: Endpoint
        if scenario.peer is Peer.S2N:
            peer = WireMutatingPeer(stack.enter_context(open_endpoint(peer_setup, "s2n")), scenario.mutations)
        else:
            mutating = MutatingPeer(peer_setup, scenario.mutations)
            peer = mutating.endpoint
        yield _Run(scenario, engine, s2n, peer, mutating)


def run_scenario(
    scenario: Scenario, *, alone: str | None = None, target_compat: str = "s2n", snapshots: bool = True
) -> RunResult:
    """Run ``scenario`` in lockstep and return the first divergence, if any, with everything needed to report it.

    ``target_compat`` gives the engine target other switches than s2n's (``"rfc"``: every
    place where the RFC and s2n part shows as a divergence). With ``alone`` one target runs
    by itself against the peer: ``"s2n"``, or ``"engine"`` with ``target_compat``'s switches
    (the robustness target, where only exceptions matter, and the benchmarks' engine-only
    and s2n-only costs).

    With ``snapshots`` a run starts from what an earlier run with the same beginning kept: a
    scenario with events from the established handshake (``_Snapshot``), any handshake from
    its opening, the state once the targets answered the peer's flight 0 (``_Opening``). A
    fuzzer mostly changes what comes later, and the beginning is most of a run's cost. A
    divergence found from a snapshot is confirmed by a run from the start, which is what is
    returned.
    """
    fast: RunResult | None = None
    if snapshots and alone is None and scenario.peer is Peer.ENGINE:
        fast, restored = (_from_snapshot if scenario.events else _from_opening)(scenario, target_compat)
        if fast.divergence is None or not restored:
            return fast
    with _endpoints(scenario, alone, target_compat) as run:
        divergence, ended = run.handshake()
        result = _finish(run, divergence, ended, run.complete)
    if fast is not None and _signature(fast) != _signature(result):
        return _restored_s2n_parted(fast, result)
    return result


def _restored_s2n_parted(fast: RunResult, result: RunResult) -> RunResult:
    """A run from a snapshot diverged where the run from the start agreed: the snapshot tier, if only s2n's side
    of the conversation changed (a restored s2n is not the s2n that handshook); anything else is a harness bug."""
    if (
        fast.divergence is None
        or result.divergence is not None
        or _streams(fast, "engine") != _streams(result, "engine")
    ):
        raise SnapshotMismatchError(f"from a snapshot {_signature(fast)}, from the start {_signature(result)}")
    return replace(fast, divergence=replace(fast.divergence, tier=Tier.SNAPSHOT))


def _streams(result: RunResult, side: str) -> dict[str, bytes]:
    """Each direction of one target's conversation as one byte string (however the bytes were cut into writes)."""
    pieces: dict[str, list[bytes]] = {}
    for direction, data in result.transfers[side]:
        pieces.setdefault(direction, []).append(data)
    return {direction: b"".join(parts) for direction, parts in pieces.items()}


class SnapshotMismatchError(RuntimeError):
    """A run from a snapshot ended otherwise than the same run from the start: a harness bug, never a finding."""


def _signature(result: RunResult) -> str | None:
    return result.divergence.signature if result.divergence is not None else None


def _finish(run: _Run, divergence: Divergence | None, ended: bool, complete: bool) -> RunResult:
    """The scenario's events after the handshake, then the result."""
    for index, event in enumerate(within_budget(run.scenario.events)):
        if divergence is not None or ended or not run.complete:
            break
        divergence, ended = run.event(index, event)
    key_logs = {"peer": run.peer.key_log, "engine": run.engine.key_log, "s2n": run.s2n.key_log}
    return RunResult(run.scenario, divergence, tuple(run.steps), run.transfers, key_logs, complete)


_SideObjects = tuple[Endpoint, Endpoint, MutatingPeer, dict[str, list[tuple[str, bytes]]]]


@dataclass(frozen=True)
class _Sides:
    """The engine target, the peer, its mutation state and the transfers so far, frozen at one point
    of a run (one graph: the peer's endpoint and its MutatingPeer stay one object), and the run's
    other state then; every restore thaws its own copy."""

    objects: Frozen[_SideObjects]
    transfers: dict[str, list[tuple[str, bytes]]]  # as they were then: read, never written
    steps: tuple[str, ...]
    complete: bool

    @classmethod
    def of(cls, run: _Run, mutating: MutatingPeer) -> _Sides:
        objects = Frozen.of((run.engine, run.peer, mutating, run.transfers))
        return cls(objects, copy.deepcopy(run.transfers), tuple(run.steps), run.complete)

    def run(self, scenario: Scenario, s2n: Endpoint) -> _Run:
        """A fresh run of ``scenario`` from here, with ``s2n`` as the s2n target and its own mutations."""
        engine, peer, mutating, transfers = self.objects.thaw()
        mutating.use_mutations(scenario.mutations)
        return _Run(scenario, engine, s2n, peer, mutating, list(self.steps), transfers, self.complete)


@dataclass(frozen=True)
class _Snapshot:
    """Both sides just after an agreed, complete handshake: the s2n target as s2n serialized it;
    ``flights``: how many flights the peer wrote in it (mutations on later flights do not change it)."""

    sides: _Sides
    s2n: S2NSnapshot
    flights: int


_Key = tuple[Scenario, bool, str]
_Entry = TypeVar("_Entry")

# What a handshake depends on (``_handshake_key``) -> a snapshot, or the handshake's own result
# when there is nothing to continue from (a divergence, a failure, s2n holding input).
_SNAPSHOTS: OrderedDict[_Key, _Snapshot | RunResult] = OrderedDict()


def _handshake_key(scenario: Scenario, target_compat: str, flights: int | None) -> _Key:
    """Everything but the events; of the mutations, those on the peer's first ``flights`` flights
    (None: all); and whether the peer hooks messages at all (decided when it is built)."""
    mutations = scenario.mutations
    if flights is not None:
        mutations = tuple(m for m in mutations if m.flight % FLIGHT_MODULUS < flights)
    hooked = any(m.stage is Stage.MESSAGE for m in scenario.mutations)
    return replace(scenario, events=(), mutations=mutations), hooked, target_compat


def _lookup(scenario: Scenario, target_compat: str) -> _Snapshot | RunResult | None:
    # A snapshot of an h-flight handshake serves every scenario whose mutations on flights < h
    # are its own; a result serves only the same scenario.
    for flights in (None, *range(1, _MAX_HANDSHAKE_FLIGHTS + 1)):
        key = _handshake_key(scenario, target_compat, flights)
        entry = _SNAPSHOTS.get(key)
        if entry is not None and (flights is None or (isinstance(entry, _Snapshot) and entry.flights == flights)):
            _SNAPSHOTS.move_to_end(key)
            return entry
    return None


def _from_snapshot(scenario: Scenario, target_compat: str) -> tuple[RunResult, bool]:
    """The run from the handshake's snapshot; (result, whether it was restored from one)."""
    entry = _lookup(scenario, target_compat)
    if entry is None:
        entry, from_opening = _take_snapshot(replace(scenario, events=()), target_compat)
        if isinstance(entry, RunResult) and from_opening:
            # The handshake itself ran from a snapshot: not a result to keep, nor one to report unconfirmed.
            return replace(entry, scenario=scenario), entry.divergence is not None
        flights = entry.flights if isinstance(entry, _Snapshot) else None
        _remember(_SNAPSHOTS, _handshake_key(scenario, target_compat, flights), entry)
    if isinstance(entry, RunResult):
        return replace(entry, scenario=scenario), False
    with restore_s2n(entry.s2n) as s2n:
        return _finish(entry.sides.run(scenario, s2n), None, False, True), True


def _take_snapshot(handshake: Scenario, target_compat: str) -> tuple[_Snapshot | RunResult, bool]:
    """A snapshot after the handshake (or its result); and whether it ran from an opening snapshot."""
    with _handshaken(handshake, target_compat) as (run, divergence, ended, from_opening):
        result = _finish(run, divergence, ended, run.complete)
        if divergence is not None or ended or not run.complete or run.targets_closed or run.mutating is None:
            return result, from_opening
        s2n = snapshot_s2n(run.s2n, _setups(handshake, target_compat)[0])
        if s2n is None:
            return result, from_opening
        return _Snapshot(_Sides.of(run, run.mutating), s2n, run.mutating.flights_sent), from_opening


def _remember(cache: OrderedDict[_Key, _Entry], key: _Key, entry: _Entry) -> None:
    cache[key] = entry
    if len(cache) > _SNAPSHOT_LIMIT:
        cache.popitem(last=False)


@dataclass(frozen=True)
class _Opening:
    """Both sides once the targets answered the peer's flight 0, before the peer reads ``answer``
    (``_Run.opening``); the s2n target, which s2n cannot serialize before the end of the
    handshake, is rebuilt by making the same calls again."""

    sides: _Sides
    answer: bytes


_OPENINGS: OrderedDict[_Key, _Opening] = OrderedDict()


def _from_opening(scenario: Scenario, target_compat: str) -> tuple[RunResult, bool]:
    """A scenario without events, from the opening it shares with earlier ones; (result, restored)."""
    with _handshaken(scenario, target_compat) as (run, divergence, ended, restored):
        return _finish(run, divergence, ended, run.complete), restored


@contextmanager
def _handshaken(scenario: Scenario, target_compat: str) -> Iterator[tuple[_Run, Divergence | None, bool, bool]]:
    """A run after its handshake: (run, divergence, ended, whether it went on from a kept opening)."""
    key = _handshake_key(scenario, target_compat, 1)  # the opening depends on the peer's flight 0 only
    entry = _OPENINGS.get(key)
    with ExitStack() as stack:
        if entry is None:
            run = stack.enter_context(_endpoints(scenario, None, target_compat))
            divergence, ended, answer = run.opening()
            if answer is not None and run.mutating is not None:
                _remember(_OPENINGS, key, _Opening(_Sides.of(run, run.mutating), answer))
        else:
            _OPENINGS.move_to_end(key)
            run, divergence, ended, answer = (
                _restore_opening(entry, scenario, target_compat, stack),
                None,
                False,
                entry.answer,
            )
        if answer is not None:
            divergence, ended = run.rest_of_handshake(answer)
        yield run, divergence, ended, entry is not None


def _restore_opening(entry: _Opening, scenario: Scenario, target_compat: str, stack: ExitStack) -> _Run:
    s2n = stack.enter_context(open_endpoint(_setups(scenario, target_compat)[0], "s2n"))
    run = entry.sides.run(scenario, s2n)
    # s2n is deterministic for a seed: the same calls must write the same bytes, or the snapshot is wrong.
    kept = entry.sides.transfers["s2n"]
    written = [s2n.start().output] if scenario.role is Role.CLIENT else []
    flight0 = next(wire for direction, wire in kept if direction == run._to_target)
    written.append(deliver(s2n, flight0, scenario.chunk).output)
    expected = [wire for direction, wire in kept if direction == run._to_peer]
    if [wire for wire in written if wire] != expected:
        raise SnapshotMismatchError("the s2n target did not repeat its opening")
    return run


@dataclass(frozen=True)
class Established:
    """An agreed, complete handshake of ``scenario`` (mutations and events dropped), for targets that
    start after it: the engine target frozen (``thaw`` gives a fresh copy), the s2n target as s2n
    serialized it, every secret of the handshake and what the two conversations carried."""

    scenario: Scenario
    engine: Frozen[Endpoint]
    s2n: S2NSnapshot
    key_log: tuple[bytes, ...]
    transfers: dict[str, list[tuple[str, bytes]]]


def established(scenario: Scenario, target_compat: str = "s2n") -> Established | RunResult:
    """The handshake of ``scenario`` (its mutations and events dropped) as an ``Established``, or its
    result when there is nothing to continue from (a divergence, a failure, s2n holding input)."""
    handshake = replace(scenario, mutations=(), events=())
    entry, _ = _take_snapshot(handshake, target_compat)
    if isinstance(entry, RunResult):
        return entry
    engine, peer, _, transfers = entry.sides.objects.thaw()
    key_log = tuple(dict.fromkeys([*peer.key_log, *engine.key_log]))
    return Established(handshake, Frozen.of(engine), entry.s2n, key_log, transfers)
