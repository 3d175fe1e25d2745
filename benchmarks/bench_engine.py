"""Benchmark the sans-IO engine against s2n (through the bridge) and Python's ``ssl``, in one run.

Measures, with policy ``default_tls13`` and the ecdsa-p256 certificate (servers
sign through the async ``KeySigner`` on both engine and s2n):

- in-memory handshakes/s: engine<->engine (two ``TLSConnection``s, bytes pumped
  between them), s2n<->s2n (``InMemoryPair``), Python ssl over ``MemoryBIO``;
- 16 KiB-record throughput in MB/s (10^6 bytes), 1 MiB client->server per send;
- memory per established connection: growth of the process's RSS over N
  established pairs, divided by 2N, each implementation in a fresh subprocess
  (plus the engine's Python allocations as seen by ``tracemalloc``).

Python ssl and s2n helpers come from ``bench_bridge``. The machine is shared and
noisy: only the ratios of one run mean something, and nothing here asserts on timing.

    python benchmarks/bench_engine.py [--seconds S] [--pairs N] [--s2n-profile openssl|aws-lc]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_bridge import (
    CERT_TYPE,
    PAYLOAD_SIZE,
    POLICY,
    SLICES,
    bridge_status,
    fmt,
    rate,
    record_sizes,
    run_ssl,
    s2n_configs,
    s2n_handshake_rate,
    s2n_negotiated,
    s2n_pair,
)

from engine.config import EngineConfig, RecordSizing
from engine.connection import DataReceived, TLSConnection
from engine.randomness import SeededRandomSource, StreamLabel
from tlsdiff.certs import certificate_for
from tlsdiff.harness import Role, Setup, engine_config
from tlsdiff.transcript import split_records

PAIRS = 200
WARMUP_PAIRS = 4
MEMORY_KINDS = ("engine", "engine-tracemalloc", "s2n")
COLUMNS = ("engine", "s2n", "ssl")

Row = dict[str, float | None]


# ---- the engine, in memory ----


@dataclass(frozen=True)
class EngineConfigs:
    """Server and client configs, built once as the harness builds them."""

    server: EngineConfig
    client: EngineConfig
    server_name: str


@dataclass(frozen=True)
class EnginePair:
    """An engine client and an engine server talking to each other."""

    client: TLSConnection
    server: TLSConnection


def engine_configs(max_record_plaintext: int = RecordSizing.DEFAULT) -> EngineConfigs:
    """Both configs via the harness's ``engine_config`` (the seed in the setup does not reach the config)."""
    server = engine_config(Setup(Role.SERVER, POLICY, CERT_TYPE, 0))
    client = engine_config(Setup(Role.CLIENT, POLICY, CERT_TYPE, 0))
    return EngineConfigs(
        replace(server, max_record_plaintext=max_record_plaintext),
        replace(client, max_record_plaintext=max_record_plaintext),
        certificate_for(CERT_TYPE).server_name,
    )


def engine_pair(configs: EngineConfigs, seed: int) -> EnginePair:
    """A fresh pair (not yet handshaken), each side on its seeded stream."""
    client = TLSConnection(
        configs.client,
        client=True,
        random=SeededRandomSource(seed, StreamLabel.CLIENT),
        server_name=configs.server_name,
    )
    server = TLSConnection(configs.server, client=False, random=SeededRandomSource(seed, StreamLabel.SERVER))
    return EnginePair(client, server)


def engine_handshake(pair: EnginePair) -> None:
    """Start the client and pump flights both ways until both sides are done."""
    pair.client.start()
    for _ in range(16):
        to_server = pair.client.data_to_send()
        if to_server:
            pair.server.receive_data(to_server)
        to_client = pair.server.data_to_send()
        if to_client:
            pair.client.receive_data(to_client)
        if pair.client.handshake_complete and pair.server.handshake_complete:
            return
        if not to_server and not to_client:
            raise RuntimeError("engine handshake stalled")
    raise RuntimeError("engine handshake did not finish")


def engine_send(pair: EnginePair, payload: bytes) -> tuple[bytes, bytes]:
    """Send ``payload`` client->server; return (the wire bytes, what the server received)."""
    pair.client.send(payload)
    wire = pair.client.data_to_send()
    events = pair.server.receive_data(wire)
    received = b"".join(event.data for event in events if isinstance(event, DataReceived))
    return wire, received


def engine_handshake_rate(seconds: float) -> float:
    """Handshakes/s: configs made once, a new pair (seed = i) per handshake."""
    configs = engine_configs()
    seeds = itertools.count()

    def one() -> int:
        engine_handshake(engine_pair(configs, next(seeds)))
        return 1

    return rate(one, seconds)


def engine_throughput(seconds: float) -> tuple[float, list[int]]:
    """MB/s of 1 MiB client->server sends on one established pair; also the record sizes seen."""
    pair = engine_pair(engine_configs(RecordSizing.THROUGHPUT), 0)
    engine_handshake(pair)
    payload = bytes(range(256)) * (PAYLOAD_SIZE // 256)
    wire, received = engine_send(pair, payload)
    if received != payload:
        raise RuntimeError("engine: payload arrived changed")
    sizes = sorted({record.length for record in split_records([("client->server", wire)])})

    def one() -> int:
        if len(engine_send(pair, payload)[1]) != PAYLOAD_SIZE:
            raise RuntimeError("engine: payload arrived short")
        return PAYLOAD_SIZE

    return rate(one, seconds) / 1e6, sizes


def engine_negotiated() -> str:
    """Cipher and group of one engine handshake, for the notes."""
    pair = engine_pair(engine_configs(), 0)
    engine_handshake(pair)
    info = pair.client.info()
    return f"{info.cipher}, {info.group}"


# ---- s2n through the bridge ----


def s2n_throughput(seconds: float) -> tuple[float, list[int]]:
    """MB/s of ``pair.send(client, 1 MiB)``, signer config, transfers not kept once checked."""
    from s2n_bridge import RecordSize  # noqa: PLC0415

    payload = bytes(range(256)) * (PAYLOAD_SIZE // 256)
    with s2n_configs(signer=True) as configs, s2n_pair(configs, 0, RecordSize.THROUGHPUT) as pair:
        pair.handshake()
        pair.transfers.clear()
        if pair.send(pair.client, payload) != payload:
            raise RuntimeError("s2n: payload arrived changed")
        sizes = sorted(record_sizes(pair))
        pair.transfers.clear()
        pair.record_transfers = False  # as InMemoryPair(..., record_transfers=False) from here on

        def one() -> int:
            pair.send(pair.client, payload)
            return PAYLOAD_SIZE

        return rate(one, seconds) / 1e6, sizes


# ---- memory per established connection (one fresh subprocess per kind) ----


def rss_bytes() -> int:
    """The process's resident set now (VmRSS), else its peak (ru_maxrss, KiB on Linux)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def per_connection_kib(establish: Callable[[int], object], pairs: int, traced: bool) -> float:
    """Growth of RSS (or of tracemalloc's current size) over ``pairs`` established pairs, per connection."""
    kept = [establish(pairs + i) for i in range(WARMUP_PAIRS)]  # warm caches and lazy imports
    gc.collect()
    if traced:
        tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0] if traced else rss_bytes()
    kept += [establish(seed) for seed in range(pairs)]
    gc.collect()
    after = tracemalloc.get_traced_memory()[0] if traced else rss_bytes()
    if traced:
        tracemalloc.stop()
    return (after - before) / (2 * pairs) / 1024


def engine_memory(pairs: int, traced: bool) -> float:
    """KiB per established engine connection."""
    configs = engine_configs()

    def establish(seed: int) -> EnginePair:
        pair = engine_pair(configs, seed)
        engine_handshake(pair)
        return pair

    return per_connection_kib(establish, pairs, traced)


def s2n_memory(pairs: int) -> float:
    """KiB of RSS per established s2n connection (C allocations are invisible to tracemalloc)."""
    with s2n_configs(signer=True) as configs, ExitStack() as stack:

        def establish(seed: int) -> Any:
            pair = stack.enter_context(s2n_pair(configs, seed))
            pair.record_transfers = False  # keep no handshake bytes around
            pair.handshake()
            return pair

        return per_connection_kib(establish, pairs, traced=False)


def memory_child(kind: str, pairs: int) -> dict[str, Any]:
    """This process's one memory measurement, or why it was skipped."""
    if kind == "s2n":
        missing = bridge_status()
        return {"missing": missing} if missing is not None else {"kib": s2n_memory(pairs)}
    return {"kib": engine_memory(pairs, traced=kind == "engine-tracemalloc")}


def run_memory(kind: str, pairs: int) -> dict[str, Any]:
    """Run ``memory_child`` for ``kind`` in a fresh subprocess and parse its JSON."""
    command = [sys.executable, str(Path(__file__).resolve()), "--memory-child", kind, "--pairs", str(pairs)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"missing": f"child failed (exit {done.returncode}): {tail[0]}"}
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# ---- running everything ----


def measure_speed(seconds: float, notes: list[str]) -> tuple[Row, Row]:
    """(handshakes/s, MB/s) per column: engine, s2n (if built) and Python ssl."""
    engine_tp, engine_sizes = engine_throughput(seconds)
    handshakes: Row = {"engine": engine_handshake_rate(seconds), "s2n": None}
    throughput: Row = {"engine": engine_tp, "s2n": None}
    notes.append(f"engine: {engine_negotiated()}; record lengths on the wire: {sizes_text(engine_sizes)}")
    missing = bridge_status()
    if missing is None:
        s2n_tp, s2n_sizes = s2n_throughput(seconds)
        handshakes["s2n"], throughput["s2n"] = s2n_handshake_rate(True, seconds), s2n_tp
        notes.append(f"s2n: {s2n_negotiated()}; record lengths on the wire: {sizes_text(s2n_sizes)}")
    else:
        notes.append(f"note: s2n skipped: {missing}")
    ssl_results, ssl_negotiated = run_ssl(seconds)
    handshakes["ssl"], throughput["ssl"] = ssl_results["handshake_key"], ssl_results["throughput"]
    notes.append(f"python ssl: {ssl_negotiated}, secp256r1, key in OpenSSL (bench_bridge's contexts)")
    return handshakes, throughput


def measure_memory(pairs: int, notes: list[str]) -> Row:
    """KiB of RSS per established connection, engine and s2n, each in its own subprocess."""
    results = {kind: run_memory(kind, pairs) for kind in MEMORY_KINDS}
    for kind, result in results.items():
        if "missing" in result:
            notes.append(f"note: memory ({kind}) skipped: {result['missing']}")
    traced = results["engine-tracemalloc"].get("kib")
    if traced is not None:
        notes.append(f"engine, tracemalloc (Python allocations only): {traced:.1f} KiB per established connection")
    notes.append(f"memory: RSS growth over {pairs} established pairs / {2 * pairs}, a fresh process each")
    return {"engine": results["engine"].get("kib"), "s2n": results["s2n"].get("kib"), "ssl": None}


# ---- report ----


def sizes_text(sizes: list[int]) -> str:
    """Record body lengths, e.g. ``16401 (16384 + type + tag)``."""
    return ", ".join(str(size) for size in sizes) + " (16401 = 16384 + type + tag)"


def cell(value: float | None) -> str:
    """A value for the table, or a dash."""
    return "-" if value is None else fmt(value)


def ratio(numerator: float | None, denominator: float | None) -> str:
    """``numerator / denominator`` as ``1.23x``, or a dash."""
    if numerator is None or not denominator:
        return "-"
    return f"{numerator / denominator:.2f}x"


def table(rows: list[tuple[str, Row]]) -> list[str]:
    """The side-by-side table: engine, s2n, Python ssl, then the engine's ratios."""
    lines = [["measurement", "engine", "s2n", "python ssl", "engine/s2n", "engine/ssl"]]
    for label, row in rows:
        values = [row.get(column) for column in COLUMNS]
        lines.append([label, *map(cell, values), ratio(values[0], values[1]), ratio(values[0], values[2])])
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return [aligned(line, widths) for line in lines]


def aligned(line: list[str], widths: list[int]) -> str:
    """One table line: the label left-aligned, the other cells right-aligned."""
    cells = zip(line[1:], widths[1:], strict=True)
    return " ".join([line[0].ljust(widths[0]), *(text.rjust(width + 2) for text, width in cells)])


def machine_description() -> str:
    """CPU model, CPUs this process may use, Python, and the time now, e.g. for a table's notes."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if "model name" in line]
        model = names[0] if names else model
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    return f"{model}, nproc={cpus}, Python {platform.python_version()} ({platform.machine()}), {stamp}"


def machine_line(seconds: float, profile: str) -> str:
    """Machine, Python, s2n profile, timing and timestamp."""
    return (
        f"machine: {machine_description()}; s2n profile {profile}; {seconds:g} s per rate (median of {SLICES} "
        "slices); ratios from this one run only (rates: >1x = engine faster; KiB: >1x = engine bigger)"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="time per rate measurement (default 2)")
    parser.add_argument("--pairs", type=int, default=PAIRS, help=f"established pairs for memory (default {PAIRS})")
    default_profile = os.environ.get("TLSDIFF_S2N_PROFILE", "openssl")
    parser.add_argument("--s2n-profile", choices=["openssl", "aws-lc"], default=default_profile)
    parser.add_argument("--memory-child", choices=MEMORY_KINDS, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run every measurement and print the table (or, as a memory child, one JSON result)."""
    args = parse_args(argv)
    os.environ["TLSDIFF_S2N_PROFILE"] = args.s2n_profile  # before the extension loads; children inherit it
    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child, args.pairs)))
        return 0
    notes: list[str] = []
    handshakes, throughput = measure_speed(args.seconds, notes)
    memory = measure_memory(args.pairs, notes)
    rows = [
        ("handshakes/s", handshakes),
        ("MB/s, 16 KiB records", throughput),
        ("KiB per established connection", memory),
    ]
    print("\n".join([*table(rows), "", *notes, machine_line(args.seconds, args.s2n_profile)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
