"""The record-layer target: protected records, sealed and edited, into an established engine server and s2n server.

The handshake is done once per suite (``lockstep.established``); every input restores
both servers from it (the engine one thawed, the s2n one deserialized), seals its records
with the client's application traffic key from the key log (a handshake record holding a
KeyUpdate alone moves the records after it to the next key, as a real client would), applies
its edits to the sealed bytes, and delivers the stream to both alike. Then the oracle
compares what each wrote (alerts, a KeyUpdate answer), what each handed up as data, and
where each stopped. No peer object and no transcript per input: this is the
message-level target, the cheap one.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache

from engine.crypto.key_schedule import next_traffic_secret, traffic_keys
from engine.crypto.suites import TLS13_SUITES, CipherSuite
from engine.record.protection import RecordProtection
from tlsdiff.decode import KeyLog
from tlsdiff.findings import Finding
from tlsdiff.fuzz_scenario import Scenario
from tlsdiff.harness import Endpoint, Outcome, Role, endpoint_info, open_endpoint, restore_s2n
from tlsdiff.locate import locate
from tlsdiff.lockstep import Established, RunResult, deliver, established
from tlsdiff.mutate import PlainRecord, apply_wire_mutation
from tlsdiff.oracle import Divergence, Tier, compare
from tlsdiff.record_input import RecordInput, RecordInputMutator

__all__ = ["RecordLayerTarget", "RecordRun", "run_records", "sealed_stream"]

_TO_SERVER, _TO_CLIENT = "client->server", "server->client"
# A record that is exactly one KeyUpdate moves the records after it to the next key (one split over
# records, or coalesced with others, does not: the servers refuse those before they change keys).
_KEY_UPDATE_HEADER = bytes([24, 0, 0, 1])
_ANSWER_DATA = b"answer after the records"


class HandshakeRefusedError(RuntimeError):
    """The plain handshake the target starts from did not agree: a harness problem, not a finding here."""


@dataclass(frozen=True)
class _Start:
    """What every input of one suite starts from."""

    handshake: Established
    suite: CipherSuite
    client_secret: bytes  # CLIENT_TRAFFIC_SECRET_0


@cache
def _start(policy: str) -> _Start:
    handshake = established(Scenario(role=Role.SERVER, policy=policy, cert_type="ecdsa-p256", seed=0))
    if isinstance(handshake, RunResult):
        raise HandshakeRefusedError(f"the {policy} handshake did not agree: {handshake.divergence}")
    key_log = KeyLog.parse(handshake.key_log)
    secret = key_log.secret("CLIENT_TRAFFIC_SECRET_0", key_log.client_randoms[0])
    cipher = endpoint_info(handshake.engine.thaw()).cipher
    suite = next((s for s in TLS13_SUITES.values() if s.name == cipher), None)
    if secret is None or suite is None:
        raise HandshakeRefusedError(f"no client traffic secret or suite {cipher} after the {policy} handshake")
    return _Start(handshake, suite, secret)


@cache
def _keys(suite: CipherSuite, secret: bytes, generation: int) -> RecordProtection:
    """The client's protection after ``generation`` KeyUpdates, at sequence 0 (derived once, copied per use)."""
    for _ in range(generation):
        secret = next_traffic_secret(suite.hash_name, secret)
    return RecordProtection(suite, traffic_keys(suite.hash_name, secret, suite.key_len, suite.iv_len))


# A mutant keeps most of its parent's records, at the same key and sequence number: sealed once, its
# ciphertext is the same bytes every time (AEAD with a deterministic nonce). Bounded: records reach 16 KiB.
@lru_cache(maxsize=1024)
def _sealed(key: tuple[CipherSuite, bytes, int], sequence: int, record: PlainRecord) -> bytes:
    protection = copy.copy(_keys(*key))  # (suite, secret, KeyUpdate generation)
    protection.sequence = sequence
    return protection.seal(record.content_type, record.content, record.padding)


def sealed_stream(value: RecordInput) -> bytes:
    """The input's records sealed in order (with the client key of its suite's handshake), then its edits applied."""
    start = _start(value.policy)
    generation = sequence = 0
    sealed = []
    for record in value.records:
        sealed.append(_sealed((start.suite, start.client_secret, generation), sequence, record))
        sequence += 1
        if record.content_type == 22 and record.content[:4] == _KEY_UPDATE_HEADER and len(record.content) == 5:
            generation, sequence = generation + 1, 0
    wire = b"".join(sealed)
    for edit in value.edits:
        wire = apply_wire_mutation(wire, edit.op, edit.index, edit.value, edit.data)
    return wire


@dataclass
class RecordRun:
    """One input against both servers: the conversations (handshake included) and the first divergence."""

    value: RecordInput
    handshake: Established
    transfers: dict[str, list[tuple[str, bytes]]]
    steps: list[str]
    outcomes: list[tuple[Outcome, Outcome]] = field(default_factory=list)  # (engine, s2n) per step
    divergence: Divergence | None = None

    def step(self, name: str, engine: Outcome, s2n: Outcome) -> Divergence | None:
        """Record both answers and compare them."""
        self.steps.append(name)
        self.outcomes.append((engine, s2n))
        for side, outcome in (("engine", engine), ("s2n", s2n)):
            if outcome.output:
                self.transfers[side].append((_TO_CLIENT, outcome.output))
        self.divergence = compare(Role.SERVER, name, engine, s2n, self._locate)
        return self.divergence

    def _locate(self, engine: Outcome, s2n: Outcome) -> tuple[str, str, tuple[str, ...]]:
        key_logs = {"peer": list(self.handshake.key_log), "engine": [], "s2n": []}
        difference, _, _ = locate(self.transfers, key_logs, _TO_CLIENT)
        if difference is None:  # the outputs differ only in how they were cut into writes
            return "record", "stream", ()
        return difference.message, difference.field_path, (f"first differing record: {difference.index}",)

    def result(self) -> RunResult:
        """As a lockstep result (for the finding and its report)."""
        key_logs = {"peer": list(self.handshake.key_log), "engine": [], "s2n": []}
        return RunResult(self.handshake.scenario, self.divergence, tuple(self.steps), self.transfers, key_logs, True)


def run_records(value: RecordInput) -> RecordRun:
    """Deliver the input's stream to both established servers and compare their answers.

    The s2n server is restored from its serialization for every input. A divergence is then
    confirmed on an s2n server that made the handshake itself (``_live_s2n``): where that one
    agrees with the engine, or parts otherwise, the restored s2n did not do what s2n does, and
    the divergence is of the ``snapshot`` tier (as ``lockstep.run_scenario`` tells it).
    """
    handshake = _start(value.policy).handshake
    wire = sealed_stream(value)
    with restore_s2n(handshake.s2n) as s2n:
        run = _run_against(value, handshake, wire, s2n)
    if run.divergence is None:
        return run
    with _live_s2n(handshake) as s2n:
        live = _run_against(value, handshake, wire, s2n)
    if live.divergence is None or live.divergence.signature != run.divergence.signature:
        run.divergence = replace(run.divergence, tier=Tier.SNAPSHOT)
    return run


def _run_against(value: RecordInput, handshake: Established, wire: bytes, s2n: Endpoint) -> RecordRun:
    """The stream to a fresh copy of the engine server and to ``s2n``; both answers compared."""
    transfers = {name: [*handshake.transfers[name], (_TO_SERVER, wire)] for name in ("engine", "s2n")}
    run = RecordRun(value, handshake, transfers, [])
    engine: Endpoint = handshake.engine.thaw()
    first = (deliver(engine, wire, value.chunk, eof=value.eof), deliver(s2n, wire, value.chunk, eof=value.eof))
    if run.step("records", *first) is None and value.answer and not first[0].ended:
        run.step("answer", engine.send(_ANSWER_DATA), s2n.send(_ANSWER_DATA))
    return run


@contextmanager
def _live_s2n(handshake: Established) -> Iterator[Endpoint]:
    """An s2n server that made the handshake itself: the peer's flights replayed into a fresh one,
    seeded alike, which must write what the s2n of the handshake wrote."""
    with open_endpoint(handshake.s2n.setup, "s2n") as s2n:
        written = b"".join(s2n.deliver(data).output for direction, data in handshake.transfers["s2n"]
                           if direction == _TO_SERVER)  # fmt: skip
        recorded = b"".join(data for direction, data in handshake.transfers["s2n"] if direction == _TO_CLIENT)
        if written != recorded:
            raise HandshakeRefusedError("a replayed handshake into a fresh s2n server wrote other bytes")
        yield s2n


class RecordLayerTarget:
    """The ``record_diff`` target."""

    name = "record_diff"
    description = "protected records into established servers: both decrypt alike or reject alike"

    def __init__(self) -> None:
        self.mutator = RecordInputMutator()

    def check(self, data: bytes) -> Finding | None:
        """Decode the input, deliver its sealed records to both servers; the finding if they part."""
        from tlsdiff.targets import crash_finding, divergence_finding  # noqa: PLC0415  (targets imports this module)

        value = RecordInput.decode(data)
        try:
            run = run_records(value)
        except HandshakeRefusedError:
            raise
        except Exception as error:  # (anything but a TLSError is a finding)
            return replace(crash_finding(self.name, "server", error, None), scenario_json=value.to_json())
        finding = divergence_finding(self.name, run.result())
        if finding is None:
            return None
        return replace(finding, scenario_json=value.to_json(), summary={**finding.summary, "policy": value.policy})
