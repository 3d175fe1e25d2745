"""Benchmark the s2n bridge against Python's ``ssl`` module, in one run, as ratios.

Measures, for each built s2n profile (each in its own subprocess, since the
profile is fixed per process by ``TLSDIFF_S2N_PROFILE``):

- in-memory handshakes/s (``InMemoryPair``, ``default_tls13``, ecdsa-p256), with
  the key loaded in s2n and with the async ``KeySigner``;
- 16 KiB-record throughput in MB/s (10^6 bytes), 1 MiB per ``pair.send``;

and the same with Python's ``ssl`` over ``ssl.MemoryBIO`` (TLS 1.3 only) in the
parent process. The machine is shared and noisy: only the ratios of one run mean
something, and nothing here asserts on timing.

    python benchmarks/bench_bridge.py [--seconds S] [--profile openssl|aws-lc|both]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from tlsdiff.certs import CertificateBundle, certificate_for
from tlsdiff.transcript import split_records

REPO_ROOT = Path(__file__).resolve().parent.parent

CERT_TYPE = "ecdsa-p256"
POLICY = "default_tls13"
PAYLOAD_SIZE = 1 << 20
RECORD_SIZE = 16384
SLICES = 5
PROFILES = ("openssl", "aws-lc")
ROWS = (
    ("handshake_key", "handshakes/s (key in s2n)"),
    ("handshake_signer", "handshakes/s (async signer)"),
    ("throughput", "MB/s, 16 KiB records"),
)

Measurement = dict[str, float]


# ---- timing ----


def rate(step: Callable[[], int], seconds: float) -> float:
    """Units per second of ``step`` (which returns its units): median of ``SLICES`` slices."""
    step()  # warm-up, not timed
    rates: list[float] = []
    for _ in range(SLICES):
        units = 0
        start = time.perf_counter()
        deadline = start + seconds / SLICES
        while True:
            units += step()
            now = time.perf_counter()
            if now >= deadline:
                break
        rates.append(units / (now - start))
    return statistics.median(rates)


# ---- s2n through the bridge (run in a child process, one profile each) ----


def bridge_status() -> str | None:
    """None when this process's profile is built, else the loader's message."""
    from s2n_bridge._native import BridgeNotBuiltError, native  # noqa: PLC0415

    try:
        native()
    except BridgeNotBuiltError as error:
        return str(error)
    return None


@contextmanager
def s2n_configs(signer: bool) -> Iterator[tuple[Any, Any]]:
    """(server config, client config) for the ecdsa-p256 certificate."""
    from engine.crypto.signer import KeySigner  # noqa: PLC0415
    from s2n_bridge import Config, ServerCertificate  # noqa: PLC0415

    bundle = certificate_for(CERT_TYPE)
    if signer:
        certificate = ServerCertificate(bundle.chain_pem, signer=KeySigner(bundle.private_key))
    else:
        certificate = ServerCertificate(bundle.chain_pem, bundle.key_pem)
    with (
        Config(POLICY, certificates=[certificate]) as server_config,
        Config(POLICY, trust_pem=bundle.ca_pem) as client_config,
    ):
        yield server_config, client_config


@contextmanager
def s2n_pair(configs: tuple[Any, Any], seed: int, record_size: Any = None) -> Iterator[Any]:
    """A fresh client+server ``InMemoryPair`` (not yet handshaken); both closed on exit."""
    from s2n_bridge import Connection, InMemoryPair, Mode, RecordSize  # noqa: PLC0415

    size = record_size if record_size is not None else RecordSize.DEFAULT
    server_config, client_config = configs
    name = certificate_for(CERT_TYPE).server_name
    with (
        Connection(client_config, Mode.CLIENT, seed=seed, server_name=name, record_size=size) as client,
        Connection(server_config, Mode.SERVER, seed=seed, record_size=size) as server,
    ):
        yield InMemoryPair(client, server)


def s2n_handshake_rate(signer: bool, seconds: float) -> float:
    """Handshakes/s: configs made once, new connections (seed = i) per handshake."""
    seeds = itertools.count()
    with s2n_configs(signer) as configs:

        def one() -> int:
            with s2n_pair(configs, next(seeds)) as pair:
                pair.handshake()
            return 1

        return rate(one, seconds)


def record_sizes(pair: Any) -> set[int]:
    """Body sizes of the records in the pair's transfers so far."""
    transfers = ((transfer.direction.value, transfer.data) for transfer in pair.transfers)
    return {record.length for record in split_records(transfers)}


def s2n_throughput(seconds: float) -> tuple[float, set[int]]:
    """MB/s of ``pair.send(client, 1 MiB)`` on one established pair; also the record sizes seen."""
    from s2n_bridge import RecordSize  # noqa: PLC0415

    payload = bytes(range(256)) * (PAYLOAD_SIZE // 256)
    with s2n_configs(signer=False) as configs, s2n_pair(configs, 0, RecordSize.THROUGHPUT) as pair:
        pair.handshake()
        pair.transfers.clear()
        if pair.send(pair.client, payload) != payload:
            raise RuntimeError("s2n: payload arrived changed")
        sizes = record_sizes(pair)

        def one() -> int:
            pair.send(pair.client, payload)
            pair.transfers.clear()  # the pair logs every write; don't let it grow
            return PAYLOAD_SIZE

        return rate(one, seconds) / 1e6, sizes


def s2n_negotiated() -> str:
    """Cipher and group of one handshake, for the notes."""
    with s2n_configs(signer=False) as configs, s2n_pair(configs, 0) as pair:
        pair.handshake()
        info = pair.client.info()
        return f"{info.cipher}, {info.group}"


def run_s2n(seconds: float) -> dict[str, Any]:
    """This process's profile: every s2n measurement, or why it was skipped."""
    missing = bridge_status()
    if missing is not None:
        return {"missing": missing}
    throughput, sizes = s2n_throughput(seconds)
    results: Measurement = {
        "handshake_key": s2n_handshake_rate(False, seconds),
        "handshake_signer": s2n_handshake_rate(True, seconds),
        "throughput": throughput,
    }
    return {"results": results, "negotiated": s2n_negotiated(), "record_sizes": sorted(sizes)}


def run_s2n_child(profile: str, seconds: float) -> dict[str, Any]:
    """Run ``run_s2n`` for ``profile`` in a subprocess and parse its JSON."""
    env = dict(os.environ, TLSDIFF_S2N_PROFILE=profile)
    command = [sys.executable, str(Path(__file__).resolve()), "--profile", profile, "--json-only"]
    command += ["--seconds", str(seconds)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"missing": f"child failed (exit {done.returncode}): {tail[0]}"}
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# ---- Python's ssl over MemoryBIO ----


@dataclass
class SSLPair:
    """A client and a server ``SSLObject`` wired together through ``MemoryBIO``s."""

    client: ssl.SSLObject
    server: ssl.SSLObject
    client_in: ssl.MemoryBIO
    client_out: ssl.MemoryBIO
    server_in: ssl.MemoryBIO
    server_out: ssl.MemoryBIO

    def pump(self) -> int:
        """Move everything written so far, both ways; return how many bytes moved."""
        to_server = self.client_out.read()
        self.server_in.write(to_server)
        to_client = self.server_out.read()
        self.client_in.write(to_client)
        return len(to_server) + len(to_client)


def ssl_pair(contexts: tuple[ssl.SSLContext, ssl.SSLContext], server_name: str) -> SSLPair:
    """A fresh pair of ``SSLObject``s (not yet handshaken)."""
    server_context, client_context = contexts
    bios = [ssl.MemoryBIO() for _ in range(4)]
    client = client_context.wrap_bio(bios[0], bios[1], server_side=False, server_hostname=server_name)
    server = server_context.wrap_bio(bios[2], bios[3], server_side=True)
    return SSLPair(client, server, *bios)


def ssl_step(connection: ssl.SSLObject) -> bool:
    """One ``do_handshake`` attempt: True when complete."""
    try:
        connection.do_handshake()
    except ssl.SSLWantReadError:
        return False
    return True


def ssl_handshake(pair: SSLPair) -> None:
    """Client step, pump, server step, pump, until both sides are done."""
    client_done = server_done = False
    for _ in range(64):
        client_done = client_done or ssl_step(pair.client)
        moved = pair.pump()
        server_done = server_done or ssl_step(pair.server)
        moved += pair.pump()
        if client_done and server_done:
            return
        if moved == 0:
            raise RuntimeError("ssl handshake stalled")
    raise RuntimeError("ssl handshake did not finish")


@contextmanager
def ssl_contexts(bundle: CertificateBundle) -> Iterator[tuple[ssl.SSLContext, ssl.SSLContext]]:
    """(server, client) contexts, TLS 1.3 only, with the bundle's files in a temp directory."""
    with tempfile.TemporaryDirectory() as directory:
        paths = {name: Path(directory, name) for name in ("chain.pem", "key.pem", "ca.pem")}
        paths["chain.pem"].write_bytes(bundle.chain_pem)
        paths["key.pem"].write_bytes(bundle.key_pem)
        paths["ca.pem"].write_bytes(bundle.ca_pem)
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(paths["chain.pem"], paths["key.pem"])
        server.num_tickets = 0  # s2n sends no tickets either (not enabled in the config)
        client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client.load_verify_locations(cafile=paths["ca.pem"])
        for context in (server, client):
            context.set_ecdh_curve("prime256v1")  # the group s2n's default_tls13 picks (secp256r1)
            context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_3
        yield server, client


def ssl_send(pair: SSLPair, payload: bytes, buffer: memoryview) -> None:
    """Write ``payload`` from the client and read all of it on the server into ``buffer``."""
    written = received = 0
    while received < len(payload):
        if written < len(payload):
            written += pair.client.write(payload[written:])
        pair.pump()
        try:
            while received < len(payload):
                # With a buffer, read() returns a count (typeshed says bytes).
                received += cast(int, pair.server.read(len(payload) - received, buffer[received:]))
        except ssl.SSLWantReadError:
            pass


def ssl_throughput(contexts: tuple[ssl.SSLContext, ssl.SSLContext], name: str, seconds: float) -> float:
    """MB/s of 1 MiB client-to-server writes on one established pair."""
    pair = ssl_pair(contexts, name)
    ssl_handshake(pair)
    payload = bytes(range(256)) * (PAYLOAD_SIZE // 256)
    buffer = bytearray(PAYLOAD_SIZE)
    ssl_send(pair, payload, memoryview(buffer))
    if buffer != payload:
        raise RuntimeError("ssl: payload arrived changed")

    def one() -> int:
        ssl_send(pair, payload, memoryview(buffer))
        return PAYLOAD_SIZE

    return rate(one, seconds) / 1e6


def run_ssl(seconds: float) -> tuple[Measurement, str]:
    """Python ssl's handshakes/s and MB/s, and what it negotiated."""
    bundle = certificate_for(CERT_TYPE)
    with ssl_contexts(bundle) as contexts:

        def one() -> int:
            ssl_handshake(ssl_pair(contexts, bundle.server_name))
            return 1

        handshakes = rate(one, seconds)
        probe = ssl_pair(contexts, bundle.server_name)
        ssl_handshake(probe)
        cipher = probe.client.cipher()
        negotiated = cipher[0] if cipher is not None else "NONE"
        throughput = ssl_throughput(contexts, bundle.server_name, seconds)
    results = {"handshake_key": handshakes, "handshake_signer": handshakes, "throughput": throughput}
    return results, negotiated


# ---- report ----


def fmt(value: float) -> str:
    """A rate for the table."""
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def table(s2n: dict[str, dict[str, Any]], baseline: Measurement) -> list[str]:
    """The side-by-side table: one column per built profile, Python ssl, then ratios."""
    built = [name for name, result in s2n.items() if "results" in result]
    header = ["measurement", *[f"s2n/{name}" for name in built], "python ssl"]
    header += [f"{name}/ssl" for name in built]
    rows = [header]
    for key, label in ROWS:
        values = [float(s2n[name]["results"][key]) for name in built]
        row = [label, *[fmt(value) for value in values], fmt(baseline[key])]
        row += [f"{value / baseline[key]:.2f}x" for value in values]
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for row in rows:
        cells = [
            row[0].ljust(widths[0]),
            *[cell.rjust(width + 2) for cell, width in zip(row[1:], widths[1:], strict=True)],
        ]
        lines.append(" ".join(cells))
    return lines


def notes(s2n: dict[str, dict[str, Any]], ssl_negotiated: str, seconds: float) -> list[str]:
    """Skipped profiles, what each side negotiated, and the machine."""
    lines = []
    for name, result in s2n.items():
        if "missing" in result:
            lines.append(f"note: s2n/{name} skipped: {result['missing']}")
        else:
            sizes = ", ".join(str(size) for size in result["record_sizes"])
            lines.append(
                f"s2n/{name}: {result['negotiated']}; record lengths on the wire: {sizes} (16401 = 16384 + type + tag)"
            )
    lines.append(f"python ssl: {ssl_negotiated}, secp256r1, {ssl.OPENSSL_VERSION}; async-signer row repeats key-in-ssl")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    lines.append(
        f"machine: nproc={cpus}, Python {platform.python_version()} ({platform.machine()}), "
        f"{seconds:g} s per measurement (median of {SLICES} slices), {stamp}; ratios from this one run only"
    )
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement (default 2)")
    parser.add_argument("--profile", choices=[*PROFILES, "both"], default="both")
    parser.add_argument("--json-only", action="store_true", help="s2n measurements of --profile only, as JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run every measurement and print the table (or, with --json-only, one profile's JSON)."""
    args = parse_args(argv)
    if args.json_only:
        if args.profile == "both":
            raise SystemExit("--json-only needs a single --profile")
        os.environ["TLSDIFF_S2N_PROFILE"] = args.profile  # before the extension is first loaded
        print(json.dumps(run_s2n(args.seconds)))
        return 0
    profiles = PROFILES if args.profile == "both" else (args.profile,)
    s2n = {profile: run_s2n_child(profile, args.seconds) for profile in profiles}
    baseline, negotiated = run_ssl(args.seconds)
    print("\n".join([*table(s2n, baseline), "", *notes(s2n, negotiated, args.seconds)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
