"""What the cross-build target and its per-build workers say to each other, on a pipe.

One process cannot hold both s2n builds (``s2n_bridge`` loads the one
``TLSDIFF_S2N_PROFILE`` names), so the ``cross_build_diff`` target keeps one worker
process per build (``tlsdiff.cross_worker``) and talks to each over its stdin and
stdout. Every message is a frame: a 4-byte big-endian length, then that many bytes.

- worker -> target, once at start: a JSON hello, ``{"profile": ..., "libcrypto": ...}``,
  or ``{"error": ...}`` when its build cannot be loaded (one line, meant for people);
- target -> worker: a scenario (``Scenario.encode``);
- worker -> target: the ``Trace`` of that scenario, as JSON (``encode_trace``).

A trace is what one build's s2n target did, step by step, against its own engine peer:
each step's ``Outcome``, the bytes the peer delivered in it, and the group and suite
s2n reported after it; then the key log, and the crash report if the peer or the
harness raised.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import IO, Any

from tlsdiff.decode import CLIENT_TO_SERVER, SERVER_TO_CLIENT
from tlsdiff.harness import Outcome, Role, Status

__all__ = [
    "LENGTH_SIZE",
    "MAX_FRAME",
    "CrashReport",
    "Step",
    "Trace",
    "decode_trace",
    "encode_frame",
    "encode_trace",
    "frame_length",
    "read_frame",
    "write_frame",
]

MAX_FRAME = 1 << 26  # far above any trace (a mutated flight is at most 128 KiB): a larger length is garbage
LENGTH_SIZE = 4
_OUTCOME_FIELDS = tuple(field.name for field in fields(Outcome))


def encode_frame(payload: bytes) -> bytes:
    """``payload`` behind its length."""
    return len(payload).to_bytes(LENGTH_SIZE, "big") + payload


def write_frame(stream: IO[bytes], payload: bytes) -> None:
    """Write one frame and flush it."""
    stream.write(encode_frame(payload))
    stream.flush()


def frame_length(header: bytes | None) -> int | None:
    """The payload size a frame's ``LENGTH_SIZE``-byte header announces; None for a cut or absurd header."""
    if header is None or len(header) < LENGTH_SIZE:
        return None
    size = int.from_bytes(header, "big")
    return size if size <= MAX_FRAME else None


def read_frame(stream: IO[bytes]) -> bytes | None:
    """The next frame's payload; None at the end of the stream (a cut frame counts as the end)."""
    size = frame_length(stream.read(LENGTH_SIZE))
    if size is None:
        return None
    payload = stream.read(size)
    return payload if len(payload) == size else None


@dataclass(frozen=True)
class Step:
    """One step of a build's conversation: what the peer delivered, what s2n did with it."""

    name: str  # as the lockstep driver names steps: "start", "flight0", "flight1", ...
    received: bytes  # the peer's bytes delivered in this step (b"" for "start")
    outcome: Outcome
    group: str  # s2n's key exchange group after the step ("NONE" before one is chosen)
    cipher: str


@dataclass(frozen=True)
class CrashReport:
    """An exception other than ``TLSError`` out of the engine peer or the harness, as ``crash_finding`` made it."""

    signature: str
    summary: Mapping[str, Any]
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Trace:
    """Everything one build's worker reports for one scenario."""

    profile: str
    role: Role
    steps: tuple[Step, ...]
    key_log: tuple[bytes, ...] = ()
    crash: CrashReport | None = None

    @property
    def transfers(self) -> list[tuple[str, bytes]]:
        """The conversation as the peer saw it, both directions, in order (as ``RunResult.transfers`` holds it)."""
        to_target, to_peer = (
            (CLIENT_TO_SERVER, SERVER_TO_CLIENT) if self.role is Role.SERVER else (SERVER_TO_CLIENT, CLIENT_TO_SERVER)
        )
        transfers: list[tuple[str, bytes]] = []
        for step in self.steps:
            if step.received:
                transfers.append((to_target, step.received))
            if step.outcome.output:
                transfers.append((to_peer, step.outcome.output))
        return transfers


_BYTE_FIELDS = ("output", "data")


def _outcome_json(outcome: Outcome) -> dict[str, Any]:
    document = {name: getattr(outcome, name) for name in _OUTCOME_FIELDS}
    document["status"] = outcome.status.value
    document.update({name: getattr(outcome, name).hex() for name in _BYTE_FIELDS})
    return document


def _outcome(document: Mapping[str, Any]) -> Outcome:
    values = {name: document[name] for name in _OUTCOME_FIELDS}
    values.update({name: bytes.fromhex(document[name]) for name in _BYTE_FIELDS})
    return Outcome(**{**values, "status": Status(document["status"])})


def encode_trace(trace: Trace) -> bytes:
    """The trace as a frame payload."""
    crash = trace.crash
    document = {
        "profile": trace.profile,
        "role": trace.role.value,
        "steps": [
            {"name": s.name, "received": s.received.hex(), "outcome": _outcome_json(s.outcome), "group": s.group,
             "cipher": s.cipher}
            for s in trace.steps
        ],
        "key_log": [line.hex() for line in trace.key_log],
        "crash": None if crash is None else {"signature": crash.signature, "summary": dict(crash.summary),
                                             "lines": list(crash.lines)},
    }  # fmt: skip
    return json.dumps(document, default=str).encode()


def decode_trace(payload: bytes) -> Trace:
    """A trace from its frame payload (``ValueError`` or ``KeyError`` when it is not one)."""
    document = json.loads(payload)
    steps: Sequence[Mapping[str, Any]] = document["steps"]
    crash = document["crash"]
    return Trace(
        profile=document["profile"],
        role=Role(document["role"]),
        steps=tuple(
            Step(s["name"], bytes.fromhex(s["received"]), _outcome(s["outcome"]), s["group"], s["cipher"])
            for s in steps
        ),
        key_log=tuple(bytes.fromhex(line) for line in document["key_log"]),
        crash=None if crash is None else CrashReport(crash["signature"], crash["summary"], tuple(crash["lines"])),
    )
