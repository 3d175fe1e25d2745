"""Record throughput and handshakes/s: the engine beside s2n (both profiles) and the bare AEAD, in one run.

Every participant runs in its own worker process (s2n's profile is fixed per process, and
each gets a heap of its own), driven slice by slice over a pipe. Each of ``--rounds``
rounds gives every participant one slice in turn, the order rotating, so the shared
machine's slow spells fall on all of them alike. Phases are timed in the worker's CPU
seconds. Values are the medians over the slices; each ratio is the median of the rounds'
own ratios. Participants:

- the engine: one established ``TLSConnection`` pair with ``RecordSizing.THROUGHPUT``;
  1 MiB sealed (``send`` + ``data_to_send``) and opened (``receive_data``), timed apart;
  handshakes of a fresh pair each (policy ``default_tls13``, ecdsa-p256, the engine's
  ``KeySigner``);
- s2n through the bridge, per built profile: the same 1 MiB through ``Connection.send`` +
  ``take_outgoing`` and ``feed`` + ``recv`` (``RecordSize.THROUGHPUT``), the 16 KiB pieces
  kept to the end as the engine's events are; handshakes of an ``InMemoryPair`` with the
  key loaded into s2n (no Python signer);
- the bare AEAD: ``cryptography``'s ``AESGCM`` encrypting, then decrypting, the 64 inner
  plaintexts of the same 1 MiB (content and type byte, the record header as associated
  data): the most a record layer over it could reach.

Afterwards each s2n worker profiles its own steps (cProfile): the time inside s2n's C
functions against the same steps unprofiled gives the bridge's share of the s2n figures.
Workers keep freed memory (``STEADY_HEAP``) unless ``--glibc-heap``; the page-fault row
shows what that leaves. Nothing here asserts on timing; only ratios of one run mean much.

    python benchmarks/bench_records.py [--seconds S] [--rounds N] [--profile openssl|aws-lc|both] [--glibc-heap]
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import json
import os
import pstats
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from bench_bridge import PAYLOAD_SIZE, PROFILES, SLICES, bridge_status, fmt, s2n_configs, s2n_pair
from bench_engine import aligned, engine_configs, engine_handshake, engine_pair, machine_description
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from engine.config import RecordSizing
from engine.connection import DataReceived
from tlsdiff.transcript import split_records

RECORD_CONTENT = 16384
APPLICATION_DATA = 23
AEAD = "AES-GCM"
PROFILED_STEPS = 40
ROUNDS = 3 * SLICES  # more and shorter slices than bench_bridge's: the paired ratios need many rounds
# glibc's tunables for every worker (unless --glibc-heap): freed memory stays in the process. Otherwise
# whether the megabytes a step frees go back to the kernel (and fault back in, about a microsecond a
# page, on the next step) depends on where the heap's top happens to lie in that process, not on the code
# measured: the same participant swings between no faults and 450 per MiB from one process to the next.
STEADY_HEAP = {"MALLOC_TRIM_THRESHOLD_": str(64 << 20), "MALLOC_MMAP_THRESHOLD_": str(16 << 20)}
# cProfile's name for a function of the bridge's cffi extension (s2n_bridge._s2n_openssl, _s2n_awslc).
_S2N_BUILTIN = re.compile(r"<built-in method s2n_bridge\._s2n_\w+\.(\w+)>")
# The C calls that are s2n's own record work; the bridge's Python and glue around them is the rest.
_SEAL_CALLS = frozenset({"s2n_send"})
_OPEN_CALLS = frozenset({"tlsdiff_recv"})
RECORD_ROWS = (
    ("seal", "MB/s sealed, 16 KiB records"),
    ("open", "MB/s opened"),
    ("round trip", "MB/s sealed + opened"),
    ("faults", "page faults per MiB sealed + opened"),
)


@dataclass(frozen=True)
class Sample:
    """Units done (bytes or handshakes), the seconds each timed phase of them took, and the page faults."""

    units: int
    phases: tuple[float, ...]
    faults: int = 0

    def __add__(self, other: Sample) -> Sample:
        phases = tuple(mine + theirs for mine, theirs in zip(self.phases, other.phases, strict=True))
        return Sample(self.units + other.units, phases, self.faults + other.faults)


def minor_faults() -> int:
    """The process's minor page faults so far: fresh memory from the kernel, a cost that hides in the rates."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


Step = Callable[[], Sample]
cpu_seconds = time.process_time
"""The clock of every timed phase: this process's CPU time (user and system), which other processes on
the shared machine do not inflate, as wall time they preempt would."""
Slicer = Callable[[float], Sample]
Figures = dict[str, dict[str, list[float]]]
"""{column: {row key: its value in each round}}."""


def run_slice(step: Step, seconds: float) -> Sample:
    """``step`` repeated for ``seconds`` of wall time (at least once), its samples summed."""
    faults = minor_faults()
    deadline = time.perf_counter() + seconds
    total = step()
    while time.perf_counter() < deadline:
        total += step()
    return replace(total, faults=minor_faults() - faults)


def interleaved(slicers: dict[str, Slicer], seconds: float, rounds: int) -> dict[str, list[Sample]]:
    """``rounds`` rounds of one slice per participant (``seconds`` in all for each), the order rotating."""
    names = list(slicers)
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    for round_number in range(rounds):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(slicers[name](seconds / rounds))
    return samples


def record_figures(samples: list[Sample]) -> dict[str, list[float]]:
    """Per round: MB/s sealing, opening and both, and page faults per MiB."""
    return {
        "seal": [sample.units / sample.phases[0] / 1e6 for sample in samples],
        "open": [sample.units / sample.phases[1] / 1e6 for sample in samples],
        "round trip": [sample.units / sum(sample.phases) / 1e6 for sample in samples],
        "faults": [sample.faults * PAYLOAD_SIZE / sample.units for sample in samples],
    }


def payload() -> bytes:
    """The 1 MiB every participant sends."""
    return bytes(range(256)) * (PAYLOAD_SIZE // 256)


# ---- the engine and the bare AEAD ----


def engine_records_step() -> tuple[Step, list[int]]:
    """A step sealing and opening 1 MiB on one established engine pair; also the record lengths on the wire."""
    pair = engine_pair(engine_configs(RecordSizing.THROUGHPUT), 0)
    engine_handshake(pair)
    data = payload()

    def step() -> Sample:
        start = cpu_seconds()
        pair.client.send(data)
        wire = pair.client.data_to_send()
        sealed = cpu_seconds()
        events = pair.server.receive_data(wire)
        opened = cpu_seconds()
        if sum(len(event.data) for event in events if isinstance(event, DataReceived)) != len(data):
            raise RuntimeError("engine: payload arrived short")
        return Sample(len(data), (sealed - start, opened - sealed))

    pair.client.send(data)
    wire = pair.client.data_to_send()
    if b"".join(event.data for event in pair.server.receive_data(wire) if isinstance(event, DataReceived)) != data:
        raise RuntimeError("engine: payload arrived changed")
    return step, sorted({record.length for record in split_records([("client->server", wire)])})


def engine_handshake_step() -> Step:
    """A step running one handshake of a fresh engine pair (configs built once, seed = i)."""
    configs = engine_configs()
    seeds = itertools.count()

    def step() -> Sample:
        start = cpu_seconds()
        engine_handshake(engine_pair(configs, next(seeds)))
        return Sample(1, (cpu_seconds() - start,))

    return step


def aead_step() -> Step:
    """A step encrypting, then decrypting, the 16 KiB records of 1 MiB with bare ``AESGCM``."""
    data = payload()
    inners = [
        data[start : start + RECORD_CONTENT] + bytes([APPLICATION_DATA])
        for start in range(0, len(data), RECORD_CONTENT)
    ]
    header = bytes([APPLICATION_DATA, 3, 3]) + (RECORD_CONTENT + 1 + 16).to_bytes(2, "big")
    aead = AESGCM(AESGCM.generate_key(128))
    iv = int.from_bytes(os.urandom(12), "big")
    sequence = itertools.count()

    def step() -> Sample:
        nonces = [(iv ^ next(sequence)).to_bytes(12, "big") for _ in inners]
        start = cpu_seconds()
        sealed = [aead.encrypt(nonce, inner, header) for nonce, inner in zip(nonces, inners, strict=True)]
        middle = cpu_seconds()
        opened = [aead.decrypt(nonce, record, header) for nonce, record in zip(nonces, sealed, strict=True)]
        end = cpu_seconds()
        if opened[-1] != inners[-1]:
            raise RuntimeError("AESGCM: record arrived changed")
        return Sample(len(data), (middle - start, end - middle))

    return step


# ---- s2n through the bridge ----


def s2n_records_step(stack: ExitStack) -> tuple[Step, list[int]]:
    """A step sealing 1 MiB (``send`` + ``take_outgoing``) and opening it (``feed`` + ``recv``) on one s2n pair."""
    from s2n_bridge import RecordSize  # noqa: PLC0415

    configs = stack.enter_context(s2n_configs(signer=False))
    pair = stack.enter_context(s2n_pair(configs, 0, RecordSize.THROUGHPUT))
    pair.record_transfers = False
    pair.handshake()
    client, server, data = pair.client, pair.server, payload()

    def step() -> Sample:
        start = cpu_seconds()
        taken = client.send(data)  # in memory the send callback takes every record at once
        wire = client.take_outgoing()
        sealed = cpu_seconds()
        server.feed(wire)
        chunks, received = [], 0  # kept to the end, as the engine's events are
        while received < len(data):
            chunk = server.recv()
            if not chunk:
                raise RuntimeError("s2n: payload arrived short")
            chunks.append(chunk)
            received += len(chunk)
        opened = cpu_seconds()
        if taken != len(data):
            raise RuntimeError(f"s2n took {taken} of {len(data)} bytes")
        return Sample(len(data), (sealed - start, opened - sealed))

    client.send(data)
    wire = client.take_outgoing()
    server.feed(wire)
    received = b"".join(iter(server.recv, None))
    if received[: len(data)] != data:
        raise RuntimeError("s2n: payload arrived changed")
    return step, sorted({record.length for record in split_records([("client->server", wire)])})


def s2n_handshake_step(stack: ExitStack) -> Step:
    """A step running one handshake of a fresh ``InMemoryPair``, the key loaded into s2n."""
    configs = stack.enter_context(s2n_configs(signer=False))
    seeds = itertools.count()

    def step() -> Sample:
        start = cpu_seconds()
        with s2n_pair(configs, next(seeds)) as pair:
            pair.record_transfers = False
            pair.handshake()
        return Sample(1, (cpu_seconds() - start,))

    return step


def c_seconds(profiler: cProfile.Profile) -> dict[str, float]:
    """Seconds inside each of s2n's C functions (cProfile's own time: the Python they call back excluded)."""
    seconds: dict[str, float] = {}
    for (_, _, name), (_, _, own, _, _) in pstats.Stats(profiler).stats.items():  # type: ignore[attr-defined]
        match = _S2N_BUILTIN.fullmatch(name)
        if match is not None:
            seconds[match.group(1)] = seconds.get(match.group(1), 0.0) + own
    return seconds


def c_shares(records: Step, handshake: Step) -> dict[str, float]:
    """The share of each s2n phase's time spent in s2n's C code (the rest is the bridge's).

    Steps alternate, unprofiled then profiled, so that both see the machine alike; the
    profiler reads the same CPU clock as the phases.
    """
    plain = {"records": Sample(0, (0.0, 0.0)), "handshake": Sample(0, (0.0,))}
    profilers = {"records": cProfile.Profile(cpu_seconds), "handshake": cProfile.Profile(cpu_seconds)}
    for _ in range(PROFILED_STEPS):
        for name, step in (("records", records), ("handshake", handshake)):
            plain[name] += step()
            profilers[name].enable()
            step()
            profilers[name].disable()
    in_records, in_handshake = c_seconds(profilers["records"]), c_seconds(profilers["handshake"])
    seal = sum(seconds for name, seconds in in_records.items() if name in _SEAL_CALLS)
    opened = sum(seconds for name, seconds in in_records.items() if name in _OPEN_CALLS)
    return {
        "seal": min(seal / plain["records"].phases[0], 1.0),
        "open": min(opened / plain["records"].phases[1], 1.0),
        "handshake": min(sum(in_handshake.values()) / plain["handshake"].phases[0], 1.0),
    }


@dataclass(frozen=True)
class Participant:
    """What a worker measures: its steps by name, what it tells the parent first (for the notes), and for s2n
    the bridge's share of its figures."""

    steps: dict[str, Step]
    hello: dict[str, Any]
    shares: Callable[[], dict[str, float]] | None = None


def engine_participant(stack: ExitStack) -> Participant:
    """The engine's record and handshake steps."""
    records, sizes = engine_records_step()
    return Participant({"records": records, "handshakes": engine_handshake_step()}, _hello(_engine_negotiated(), sizes))


def aead_participant(stack: ExitStack) -> Participant:
    """The bare AEAD's record step."""
    return Participant({"records": aead_step()}, {})


def s2n_participant(stack: ExitStack) -> Participant:
    """s2n's record and handshake steps, and the bridge's share of them (``shares``)."""
    missing = bridge_status()
    if missing is not None:
        return Participant({}, {"missing": missing})
    records, sizes = s2n_records_step(stack)
    handshakes = s2n_handshake_step(stack)
    steps = {"records": records, "handshakes": handshakes}
    return Participant(steps, _hello(_s2n_negotiated(stack), sizes), lambda: c_shares(records, handshakes))


def _hello(negotiated: str, sizes: list[int]) -> dict[str, Any]:
    return {"negotiated": negotiated, "record_sizes": sizes}


PARTICIPANTS: dict[str, Callable[[ExitStack], Participant]] = {
    "engine": engine_participant,
    "s2n": s2n_participant,
    "aead": aead_participant,
}


def serve(kind: str, requests: TextIO, replies: TextIO) -> None:
    """A worker: a hello line, then one JSON reply per request line, until end of input."""

    def reply(message: dict[str, Any]) -> None:
        replies.write(json.dumps(message) + "\n")
        replies.flush()

    with ExitStack() as stack:
        participant = PARTICIPANTS[kind](stack)
        for step in participant.steps.values():
            step()  # warm-up, not timed
        reply(participant.hello)
        for line in requests:
            request = json.loads(line)
            if request["measure"] == "shares" and participant.shares is not None:
                reply(participant.shares())
            else:
                sample = run_slice(participant.steps[request["measure"]], request["seconds"])
                reply({"units": sample.units, "phases": sample.phases, "faults": sample.faults})


def _s2n_negotiated(stack: ExitStack) -> str:
    configs = stack.enter_context(s2n_configs(signer=False))
    with s2n_pair(configs, 0) as pair:
        pair.handshake()
        info = pair.client.info()
    return f"{info.cipher}, {info.group}"


def _engine_negotiated() -> str:
    pair = engine_pair(engine_configs(), 0)
    engine_handshake(pair)
    info = pair.client.info()
    return f"{info.cipher}, {info.group}"


class Worker:
    """A participant's own process (a fresh heap each, and s2n's profile fixed per process), asked for one slice
    at a time."""

    def __init__(self, kind: str, profile: str | None, *, steady_heap: bool) -> None:
        env = dict(os.environ) if profile is None else dict(os.environ, TLSDIFF_S2N_PROFILE=profile)
        if steady_heap:
            env |= STEADY_HEAP
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", kind]
        self.process = subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.hello = self._read()

    def _read(self) -> dict[str, Any]:
        stdout = self.process.stdout
        line = stdout.readline() if stdout is not None else ""
        if not line:
            return {"missing": f"worker exited ({self.process.wait()})"}
        message: dict[str, Any] = json.loads(line)
        return message

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send one request and wait for its reply."""
        stdin = self.process.stdin
        if stdin is None:
            raise RuntimeError("worker has no stdin")
        stdin.write(json.dumps(request) + "\n")
        stdin.flush()
        return self._read()

    def slicer(self, measure: str) -> Slicer:
        """A slice of ``measure`` (``records`` or ``handshakes``) run by the worker."""

        def run(seconds: float) -> Sample:
            reply = self.ask({"measure": measure, "seconds": seconds})
            return Sample(reply["units"], tuple(reply["phases"]), reply["faults"])

        return run

    def close(self) -> None:
        """End of input ends the worker."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait()


def start_workers(
    stack: ExitStack, profiles: tuple[str, ...], notes: list[str], *, steady_heap: bool
) -> dict[str, Worker]:
    """Running workers by column name (engine, ``s2n/openssl``, ..., AES-GCM); a profile not built gets a note."""
    kinds = [("engine", "engine", None), *[(f"s2n/{profile}", "s2n", profile) for profile in profiles]]
    running: dict[str, Worker] = {}
    for column, kind, profile in [*kinds, (AEAD, "aead", None)]:
        worker = Worker(kind, profile, steady_heap=steady_heap)
        stack.callback(worker.close)
        if "missing" in worker.hello:
            notes.append(f"note: {column} skipped: {worker.hello['missing']}")
            continue
        if "negotiated" in worker.hello:
            sizes = ", ".join(map(str, worker.hello["record_sizes"]))
            notes.append(f"{column}: {worker.hello['negotiated']}; record lengths on the wire: {sizes}")
        running[column] = worker
    return running


# ---- the run and its report ----


def measure(
    seconds: float, rounds: int, profiles: tuple[str, ...], notes: list[str], *, steady_heap: bool
) -> tuple[list[str], Figures]:
    """The columns, in order, and every participant's figures."""
    with ExitStack() as stack:
        workers = start_workers(stack, profiles, notes, steady_heap=steady_heap)
        recorders = {name: worker.slicer("records") for name, worker in workers.items()}
        record_samples = interleaved(recorders, seconds, rounds)
        shakers = {name: worker.slicer("handshakes") for name, worker in workers.items() if name != AEAD}
        handshake_samples = interleaved(shakers, seconds, rounds)
        shares = {name: worker.ask({"measure": "shares"}) for name, worker in workers.items() if "s2n" in name}
    figures: Figures = {name: record_figures(samples) for name, samples in record_samples.items()}
    for name, samples in handshake_samples.items():
        figures[name]["handshakes"] = [sample.units / sample.phases[0] for sample in samples]
    notes += [bridge_note(name, share, figures[name]) for name, share in shares.items()]
    return list(record_samples), figures


def bridge_note(name: str, shares: dict[str, float], figures: dict[str, list[float]]) -> str:
    """How much of s2n's figures is the bridge's Python around s2n's C code, and s2n's C alone."""
    parts, alone = [], []
    for share_key, figure_key, what, unit in _SHARE_PARTS:
        parts.append(f"{100 * (1 - shares[share_key]):.0f}% of {what}")
        value = statistics.median(figures[figure_key])
        alone.append(f"{fmt(value / shares[share_key]) if shares[share_key] else '-'} {unit}")
    return (
        f"{name}: the bridge (Python, cffi calls, copies: all but the own time of s2n's C calls, cProfile on the "
        f"CPU clock, {PROFILED_STEPS} steps each way) is {', '.join(parts)}; s2n's C alone would make "
        f"{', '.join(alone)}"
    )


_SHARE_PARTS = (
    ("seal", "seal", "the seal time", "MB/s sealed"),
    ("open", "open", "the open time", "MB/s opened"),
    ("handshake", "handshakes", "a handshake's", "handshakes/s"),
)


def table(columns: list[str], figures: Figures) -> list[str]:
    """Medians side by side, then the engine's ratio to every other column: the median of the ratios of each
    round, which a machine slowing down for a while (both slices of a round alike) leaves alone."""
    others = [column for column in columns if column != "engine"]
    header = ["measurement", *columns, *[f"engine/{column}" for column in others]]
    lines = [header]
    for key, label in [*RECORD_ROWS, ("handshakes", "handshakes/s (key in s2n)")]:
        values = [figures[column].get(key) for column in columns]
        # Faults are a diagnosis, not a figure of merit: no ratio for them.
        ratios = [None if key == "faults" else paired_ratio(figures, column, key) for column in others]
        lines.append(
            [
                label,
                *["-" if value is None else fmt(statistics.median(value)) for value in values],
                *["-" if ratio is None else f"{ratio:.2f}x" for ratio in ratios],
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return [aligned(line, widths) for line in lines]


def paired_ratio(figures: Figures, column: str, key: str) -> float | None:
    """Median over rounds of the engine's value over ``column``'s, or None if either has none."""
    engine, other = figures["engine"].get(key), figures[column].get(key)
    if engine is None or other is None:
        return None
    return statistics.median(mine / theirs for mine, theirs in zip(engine, other, strict=True) if theirs)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="time per participant and measurement (default 2)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"slices per participant (default {ROUNDS})")
    parser.add_argument("--profile", choices=[*PROFILES, "both"], default="both")
    parser.add_argument(
        "--glibc-heap", action="store_true", help="leave glibc's heap trimming as it is (see STEADY_HEAP)"
    )
    parser.add_argument("--worker", choices=list(PARTICIPANTS), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run every measurement and print the table (or, as a worker, serve requests on stdin)."""
    args = parse_args(argv)
    if args.worker:
        serve(args.worker, sys.stdin, sys.stdout)
        return 0
    notes: list[str] = []
    profiles = PROFILES if args.profile == "both" else (args.profile,)
    columns, figures = measure(args.seconds, args.rounds, profiles, notes, steady_heap=not args.glibc_heap)
    heap = "glibc's defaults" if args.glibc_heap else " ".join(f"{name}={value}" for name, value in STEADY_HEAP.items())
    notes.append(f"heap: {heap} in every worker (a process each: engine, each s2n profile, {AEAD})")
    notes.append(f"{AEAD}: cryptography's AESGCM, 128-bit key, the 64 inner plaintexts of 1 MiB; seal = encrypt")
    notes.append(
        f"machine: {machine_description()}; {args.seconds:g} s per participant and measurement in {args.rounds} "
        "interleaved slices, timed in CPU seconds; values: medians of the slices; ratios: medians of each round's "
        "ratio (>1x: the engine faster), from this one run only"
    )
    print("\n".join([*table(columns, figures), "", *notes]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
