"""Fuzz-target throughput from one run: execs/s per target, beside the engine-only and s2n-only cost of the same inputs.

For each target the inputs are its seed corpus (``corpus/TARGET``) plus mutants made by
its own custom mutator (with a plain byte mutator standing in for ``atheris.Mutate``),
so the mix looks like a fuzzing run's. Three figures per lockstep target, same inputs,
same process, interleaved rounds (the machine is shared and noisy):

- ``lockstep``: ``target.check(data)`` (peer, engine target, s2n target, oracle);
- ``engine alone`` and ``s2n alone``: the same scenario with one target (``run_scenario(alone=...)``);

then the ratio lockstep / (engine alone + s2n alone), i.e. what the oracle and the shared
peer cost on top. ``--atheris`` also runs each target under libFuzzer for ``--runs``
executions (instrumented engine, custom mutator) and reports libFuzzer's own exec/s, the
executions per CPU second of the fuzzing processes (the per-core figure on a busy machine), and
the steady rate: the same with start-up (imports, the first handshake, the seed corpus) left
out, from a second run of a quarter of the executions with the same seed. The goals are
per core for a long fuzz job, so the steady column is the one to hold them against.

    python benchmarks/bench_fuzz.py [--inputs 150] [--rounds 3] [--atheris --runs 400] [--targets a,b]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence

from tlsdiff.fuzz_cli import project_root
from tlsdiff.lockstep import run_scenario
from tlsdiff.targets import TARGETS, LockstepTarget

_MAX_SIZE = 4096


def _byte_mutate(rng: random.Random) -> Callable[[bytes, int], bytes]:
    def mutate(data: bytes, max_size: int) -> bytes:
        mutated = bytearray(data)
        for _ in range(rng.randrange(1, 4)):
            if mutated and rng.random() < 0.7:
                mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            else:
                mutated.insert(rng.randrange(len(mutated) + 1), rng.randrange(256))
        return bytes(mutated[:max_size])

    return mutate


def _inputs(name: str, count: int) -> list[bytes]:
    rng = random.Random(1)
    seeds = [path.read_bytes() for path in sorted((project_root() / "corpus" / name).glob("*"))] or [b""]
    mutator = TARGETS[name].mutator
    if mutator is not None and hasattr(mutator, "_byte_mutate"):
        mutator._byte_mutate = _byte_mutate(rng)  # no atheris outside libFuzzer
    inputs = list(seeds)
    while len(inputs) < count:
        base = rng.choice(inputs)
        inputs.append(
            mutator(base, _MAX_SIZE, rng.randrange(1 << 30)) if mutator else _byte_mutate(rng)(base, _MAX_SIZE)
        )
    return inputs[:count]


def _rate(run: Callable[[bytes], object], inputs: Sequence[bytes]) -> float:
    start = time.perf_counter()
    for data in inputs:
        run(data)
    return len(inputs) / (time.perf_counter() - start)


def _measures(name: str) -> dict[str, Callable[[bytes], object]]:
    target = TARGETS[name]
    measures: dict[str, Callable[[bytes], object]] = {"lockstep": target.check}
    if isinstance(target, LockstepTarget):
        compat, scenario = target.target_compat, target.scenario
        measures["engine alone"] = lambda data: run_scenario(scenario(data), alone="engine", target_compat=compat)
        measures["s2n alone"] = lambda data: run_scenario(target.scenario(data), alone="s2n")
    return measures


def _safe(run: Callable[[bytes], object]) -> Callable[[bytes], object]:
    def guarded(data: bytes) -> object:
        try:
            return run(data)
        except Exception as error:  # a crash is a finding for the fuzzer, not a reason to stop measuring
            return error

    return guarded


def _atheris_run(name: str, runs: int) -> tuple[float, int, float]:
    """One libFuzzer run of ``runs`` executions: its own exec/s, its executions, and the CPU seconds it took."""
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "tlsdiff.cli", "fuzz", name, "--runs", str(runs), "--json",
                   "--findings", f"{folder}/findings", "--corpus", folder]  # fmt: skip
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            return 0.0, 0, 0.0
        stats = json.loads(done.stdout.strip().splitlines()[-1])
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        return float(stats["execs_per_second"]), int(stats["execs"]), cpu


def _atheris_rate(name: str, runs: int) -> tuple[float, float, float]:
    """libFuzzer's execs per wall-clock second; per CPU second of the fuzzing processes (per core: on a
    shared, busy machine the wall-clock figure says more about the neighbours than the target); and the
    steady rate, start-up left out.

    The steady rate comes from two runs with the same libFuzzer seed, of ``runs // 4`` and ``runs``
    executions: the longer one repeats the shorter one's executions first, so the difference of their
    executions over the difference of their CPU seconds is what a long fuzz job does per core once
    imports, the first handshake and the seed corpus are behind it.
    """
    wall, execs, cpu = _atheris_run(name, runs)
    _, short_execs, short_cpu = _atheris_run(name, runs // 4)
    per_cpu = execs / cpu if cpu else 0.0
    steady = (execs - short_execs) / (cpu - short_cpu) if cpu > short_cpu and short_execs else 0.0
    return wall, per_cpu, steady


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--targets", help="comma-separated subset")
    parser.add_argument("--atheris", action="store_true", help="also measure under libFuzzer")
    parser.add_argument("--runs", type=int, default=400)
    args = parser.parse_args()
    names = args.targets.split(",") if args.targets else sorted(TARGETS.keys())
    columns = f"{'lockstep/s':>11} {'engine/s':>9} {'s2n/s':>8} {'ratio':>6} {'atheris/s':>10} {'per cpu-s':>10}"
    columns += f" {'steady':>7}"
    print(f"{'target':<20} {columns}")
    for name in names:
        inputs = _inputs(name, args.inputs)
        measures = {label: _safe(run) for label, run in _measures(name).items()}
        for run in measures.values():
            run(inputs[0])  # configs and certificates built once, outside the timing
        best: dict[str, float] = {}
        for _ in range(args.rounds):
            for label, run in measures.items():
                best[label] = max(best.get(label, 0.0), _rate(run, inputs))
        lockstep = best["lockstep"]
        engine, s2n = best.get("engine alone"), best.get("s2n alone")
        ratio = f"{(1 / lockstep) / (1 / engine + 1 / s2n):6.2f}" if engine and s2n else "     -"
        shown = f"{engine:9.0f} {s2n:8.0f}" if engine and s2n else f"{'-':>9} {'-':>8}"
        wall, cpu, steady = _atheris_rate(name, args.runs) if args.atheris else (0.0, 0.0, 0.0)
        under = f"{wall:10.0f} {cpu:10.0f} {steady:7.0f}" if args.atheris else f"{'-':>10} {'-':>10} {'-':>7}"
        print(f"{name:<20} {lockstep:11.0f} {shown} {ratio} {under}", flush=True)
    print("ratio: lockstep time over (engine alone + s2n alone) on the same inputs; below 1: the peer is shared")
    print("and a lockstep run stops at its first divergence. atheris/s: libFuzzer's own figure, start-up included;")
    print("per cpu-s: its executions over the CPU time of the fuzzing processes (per core, whatever the load).")
    print("steady: the same per CPU second once start-up is behind (runs/4 to runs of one seeded run):")
    print("a long job's rate, the figure the per-core goals are held against.")


if __name__ == "__main__":
    main()
