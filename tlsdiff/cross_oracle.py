"""The cross-build oracle: where s2n on one libcrypto and s2n on another first part, step by step.

Both traces (``tlsdiff.cross_protocol.Trace``) are the same scenario run by the same s2n
source on OpenSSL 3.0 and on aws-lc, each against its own, identically seeded, engine
peer. Step by step, most severe first:

- ``verdict``: one build fails where the other goes on, they fail at different messages,
  or they stand in different states (status, last message, handshake type, version);
  one conversation having more steps is a verdict too;
- ``bytes``: while the builds draw alike, their records must be byte-identical (the
  first differing record, message and field path are named); once they draw apart,
  each step's records must still carry the same messages in the same order;
- ``alert``: the same verdict with different alerts (decrypted with each build's own
  keys), or with different s2n error names.

The builds draw apart at a key share of any group but x25519 (a TLS 1.3 key_share entry,
or a TLS 1.2 ServerKeyExchange or ClientKeyExchange): from the same seeded bytes aws-lc
and OpenSSL make different NIST-curve keys (docs/fuzzing.md). Such a key share is the
only byte difference that is expected; from there on the two conversations have
different keys and only what the records carry is compared, and only while both builds
are given equivalent flights (``_given_alike``): where a mutated flight of the peers differs
in length, a mutation placed by length lands elsewhere in each, and the comparison ends there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from engine.wire.extensions import NamedGroup
from engine.wire.handshake import HandshakeType
from engine.wire.record import ContentType
from tlsdiff.cross_protocol import Step, Trace
from tlsdiff.decode import DecodedRecord, decode_conversation
from tlsdiff.fieldtree import find
from tlsdiff.harness import Role, Status, split_records
from tlsdiff.locate import Difference, first_difference
from tlsdiff.lockstep import target_direction
from tlsdiff.oracle import Tier, describe_outcome
from tlsdiff.peer import FLIGHT_MODULUS

__all__ = ["ALIKE_GROUPS", "Comparison", "CrossDivergence", "compare_traces"]

ALIKE_GROUPS = frozenset({NamedGroup.X25519})
"""Groups whose key shares the two builds make alike from the same seeded draws (measured: docs/fuzzing.md)."""

_ALIKE_GROUP_NAMES = frozenset(group.name.lower() for group in ALIKE_GROUPS)  # as s2n names groups: "x25519"
_KEY_EXCHANGE = ".key_exchange"
_FLIGHT = "flight"  # the lockstep driver's step name for the peer's flight N: "flightN"
_MSG_TYPE = "Handshake.msg_type"
_TLS12_KEY_EXCHANGES = frozenset({12, 16})  # server_key_exchange, client_key_exchange (RFC 5246 section 7.4)


@dataclass(frozen=True)
class CrossDivergence:
    """Where and how the two builds parted."""

    tier: Tier
    role: Role
    step: str
    message: str
    field_path: str
    left: Step | None
    right: Step | None
    detail: tuple[str, ...] = ()
    difference: Difference | None = None  # the first differing record, for bytes divergences

    @property
    def signature(self) -> str:
        """``crossbuild/tier/role/step/message/field``: what findings are grouped by."""
        return "/".join(("crossbuild", self.tier.value, self.role.value, self.step, self.message, self.field_path))


@dataclass(frozen=True)
class Comparison:
    """The first divergence (None: the builds agreed), the step from which bytes were not compared, and
    the step from which nothing was (the builds were given flights of different layouts)."""

    divergence: CrossDivergence | None
    drawn_apart_at: str | None = None  # None: every step's bytes were compared
    incomparable_at: str | None = None  # None: every step was compared


def _record_shape(record: DecodedRecord) -> str:
    """What one record carries, whatever its keys: content type, handshake messages, alert."""
    kind = record.inner_type if record.inner_type is not None else record.content_type
    if record.protected and record.plaintext is None:
        return "undecrypted"
    if kind == ContentType.HANDSHAKE:
        names = (HandshakeType(msg_type).name for msg_type, _ in record.messages)
        return "handshake(" + ",".join(names) + ")"
    if kind == ContentType.ALERT and record.plaintext is not None:
        return "alert(" + ",".join(str(byte) for byte in record.plaintext) + ")"
    return ContentType(kind).name.lower() if kind is not None else "incomplete"


class _Sides:
    """The two traces; their conversations decoded on first use, each with its own build's keys."""

    def __init__(self, left: Trace, right: Trace) -> None:
        self.left, self.right = left, right
        self.role = left.role
        self.direction = target_direction(left.role)

    @cached_property
    def decoded(self) -> tuple[list[DecodedRecord], list[DecodedRecord]]:
        return (decode_conversation(self.left.transfers, self.left.key_log),
                decode_conversation(self.right.transfers, self.right.key_log))  # fmt: skip

    def first_difference(self) -> Difference | None:
        left, right = self.decoded
        return first_difference(left, right, self.direction)

    def shapes(self, index: int) -> tuple[list[str], list[str]]:
        """What the records each build wrote in step ``index`` carry."""
        return (self._shapes(self.left.steps, self.decoded[0], index),
                self._shapes(self.right.steps, self.decoded[1], index))  # fmt: skip

    def _shapes(self, steps: Sequence[Step], records: list[DecodedRecord], index: int) -> list[str]:
        first = sum(len(split_records(step.outcome.output)) for step in steps[:index])
        count = len(split_records(steps[index].outcome.output))
        written = [record for record in records if record.direction == self.direction]
        return [_record_shape(record) for record in written[first : first + count]]


def _tls12_key_exchange(difference: Difference) -> bool:
    record = difference.engine
    if record is not None and any(msg_type in _TLS12_KEY_EXCHANGES for msg_type, _ in record.messages):
        return True
    # The record read on its own: reassembly across records loses the message boundaries after a
    # stray byte (S2N-1 writes one, a 0x00, in place of a TLS 1.2 ServerHello, on both builds alike).
    msg_type = find(difference.engine_tree, _MSG_TYPE) if difference.engine_tree is not None else None
    in_message = difference.field_path.startswith("Handshake.")
    return in_message and msg_type is not None and msg_type.value in _TLS12_KEY_EXCHANGES


def _drawn_apart(difference: Difference | None, step: Step) -> bool:
    """Whether the first byte difference is a key share of a group the builds draw apart: a TLS 1.3
    key_share entry (its group read beside it), or a TLS 1.2 key exchange message (the group s2n
    reports; an RSA or DHE exchange, with no group, draws apart too)."""
    if difference is None or difference.engine_tree is None:
        return False
    if _tls12_key_exchange(difference):
        return step.group not in _ALIKE_GROUP_NAMES
    if "key_share" not in difference.field_path or not difference.field_path.endswith(_KEY_EXCHANGE):
        return False
    group = find(difference.engine_tree, difference.field_path.removesuffix(_KEY_EXCHANGE) + ".group")
    return group is not None and group.value not in ALIKE_GROUPS


def _verdict(sides: _Sides, left: Step, right: Step) -> CrossDivergence | None:
    a, b = left.outcome, right.outcome
    verdicts = f"{sides.left.profile}={describe_outcome(a)}|{sides.right.profile}={describe_outcome(b)}"
    a_failed, b_failed = a.status is Status.FAILED, b.status is Status.FAILED
    if a_failed != b_failed or (a_failed and a.last_message != b.last_message):
        where = a.last_message if a_failed and not b_failed else b.last_message
        if a_failed and b_failed:
            where = f"{a.last_message}!={b.last_message}"
        return CrossDivergence(Tier.VERDICT, sides.role, left.name, where, verdicts, left, right)
    if a.status is not b.status:
        return CrossDivergence(Tier.VERDICT, sides.role, left.name, "state", verdicts, left, right)
    for name in ("last_message", "handshake_type", "protocol"):
        ours, theirs = getattr(a, name), getattr(b, name)
        if ours != theirs:
            return CrossDivergence(Tier.VERDICT, sides.role, left.name, "state", f"{name}:{ours}|{theirs}", left, right)
    return None


def _bytes(sides: _Sides, left: Step, right: Step, difference: Difference | None) -> CrossDivergence:
    if difference is None:  # the same records, cut otherwise into writes, or other application data
        message, path = (
            ("application_data", "data") if left.outcome.output == right.outcome.output else ("record", "stream")
        )
        return CrossDivergence(Tier.BYTES, sides.role, left.name, message, path, left, right)
    detail = (f"first differing record: {difference.index}",)
    return CrossDivergence(Tier.BYTES, sides.role, left.name, difference.message, difference.field_path, left, right,
                           detail, difference)  # fmt: skip


def _shape(sides: _Sides, index: int, left: Step, right: Step) -> CrossDivergence | None:
    """Once the builds have drawn apart: the same alerts, then the same messages, in this step's records."""
    ours, theirs = sides.shapes(index)
    if ours == theirs:
        return None
    alerts = [shape for shape in ours if shape.startswith("alert")], [s for s in theirs if s.startswith("alert")]
    where = left.outcome.last_message
    if alerts[0] != alerts[1]:
        field_path = f"alerts:{'+'.join(alerts[0]) or 'none'}|{'+'.join(alerts[1]) or 'none'}"
        return CrossDivergence(Tier.ALERT, sides.role, left.name, where, field_path, left, right)
    return CrossDivergence(Tier.BYTES, sides.role, left.name, "records", f"{'+'.join(ours)}|{'+'.join(theirs)}",
                           left, right, ("records compared by what they carry: the builds' keys differ",))  # fmt: skip


def _errors(sides: _Sides, left: Step, right: Step) -> CrossDivergence | None:
    a, b = left.outcome, right.outcome
    if a.error == b.error:
        return None
    return CrossDivergence(Tier.ALERT, sides.role, left.name, a.last_message, f"error:{a.error}|{b.error}", left, right)


def _missing_step(sides: _Sides, index: int) -> CrossDivergence:
    left, right = sides.left.steps, sides.right.steps
    ours, theirs = (left[index] if index < len(left) else None), (right[index] if index < len(right) else None)
    present = ours or theirs
    lengths = f"{sides.left.profile}={len(left)} steps|{sides.right.profile}={len(right)} steps"
    name = present.name if present is not None else f"step{index}"
    return CrossDivergence(Tier.VERDICT, sides.role, name, "conversation", lengths, ours, theirs)


def _wrote_otherwise(left: Step, right: Step) -> bool:
    return (left.outcome.output, left.outcome.data) != (right.outcome.output, right.outcome.data)


def _layout(wire: bytes) -> list[int]:
    return [len(record) for record in split_records(wire)]


def _given_alike(left: Step, right: Step, mutated_flights: frozenset[int]) -> bool:
    """Whether both builds were given equivalent flights: unmutated, or of one layout (record lengths).

    Once the builds have drawn apart their peers' flights differ in content, and may in length
    (an ECDSA signature over another transcript can be a byte longer). Most mutations are placed
    relative to lengths (truncate to ``value`` modulo the size, flip bit ``value`` of a body...):
    on flights of other layouts the same mutation lands elsewhere, and what follows compares
    two different inputs, not two builds.
    """
    flight = left.name.removeprefix(_FLIGHT)
    if not flight.isdigit() or int(flight) % FLIGHT_MODULUS not in mutated_flights:
        return True
    return _layout(left.received) == _layout(right.received)


def compare_traces(left: Trace, right: Trace, mutated_flights: frozenset[int] = frozenset()) -> Comparison:
    """The first difference between two builds' traces of one scenario, or agreement; ``mutated_flights``:
    the peer's flights (modulo ``FLIGHT_MODULUS``) the scenario's mutations change."""
    sides = _Sides(left, right)
    drawn_apart_at: str | None = None
    for index in range(max(len(left.steps), len(right.steps))):
        if index >= min(len(left.steps), len(right.steps)):
            return Comparison(_missing_step(sides, index), drawn_apart_at)
        ours, theirs = left.steps[index], right.steps[index]
        if drawn_apart_at is not None and not _given_alike(ours, theirs, mutated_flights):
            return Comparison(None, drawn_apart_at, ours.name)
        divergence = _verdict(sides, ours, theirs)
        if divergence is None and drawn_apart_at is None and _wrote_otherwise(ours, theirs):
            difference = sides.first_difference()
            if not _drawn_apart(difference, ours):
                return Comparison(_bytes(sides, ours, theirs, difference), drawn_apart_at)
            drawn_apart_at = ours.name
        if divergence is None and drawn_apart_at is not None:
            divergence = _shape(sides, index, ours, theirs)
        divergence = divergence or _errors(sides, ours, theirs)
        if divergence is not None:
            return Comparison(divergence, drawn_apart_at)
    return Comparison(None, drawn_apart_at)
