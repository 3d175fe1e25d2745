"""The ``tlsdiff`` command line.

Subcommands: ``build`` (s2n-tls and the bridge), ``pair`` (any client against any
server, engine or s2n, in memory, summarised), ``s2n-handshake`` (``pair`` with s2n
on both sides), ``demo`` (the main job: every scenario four ways over several policies
and certificates, then a short differential fuzz run and a triage of its findings),
``fuzz`` (run, list or replay fuzz targets; ``--jobs``, ``--coverage``), ``corpus``
(generate, merge or minimize seed corpora), ``triage`` (replay, group and minimise a
findings directory; HTML report), ``client`` and ``server`` (TLS 1.3 on real sockets,
as openssl s_client/s_server, either implementation: ``tlsdiff.net_cli``), ``interop``
(the interop suite against s2n, OpenSSL, GnuTLS, Python's ssl and tlslite-ng; ``--report``).
Bad input gets a one-line message and a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tlsdiff.certs import CERT_TYPES
from tlsdiff.transcript import CONTENT_TYPES, Record, transcript_sha256, write_transcript

if TYPE_CHECKING:  # the scenario needs the built bridge; the command line starts without it
    from tlsdiff.scenario import PairResult

__all__ = ["main"]

_SHORT_TYPES = {20: "ccs", 21: "alert", 22: "hs", 23: "app"}
_DEMO_POLICIES = ("default_tls13", "20190801", "test_all_tls13")
_DEMO_TARGETS = ("server_diff", "client_diff", "record_diff", "client_hello_parse")


def _record_sizes(records: Sequence[Record], direction: str) -> str:
    return " ".join(
        f"{_SHORT_TYPES.get(r.content_type, str(r.content_type))}:{r.length}"
        for r in records
        if r.direction == direction
    )


def _summary(result: PairResult, profile: str) -> dict[str, Any]:
    return {
        "client": result.client_implementation,
        "server": result.server_implementation,
        "policy": result.policy,
        "cert": result.cert_type,
        "seed": result.seed,
        "profile": profile,
        "version": result.client.protocol,
        "cipher": result.client.cipher,
        "group": result.client.group,
        "signature_scheme": result.server.signature_scheme,
        "handshake_type": result.client.handshake_type,
        "records": [
            {
                "direction": r.direction,
                "type": CONTENT_TYPES.get(r.content_type, str(r.content_type)),
                "length": r.length,
            }
            for r in result.records
        ],
        "transcript_sha256": transcript_sha256(result.records),
        "key_log_lines": {"client": len(result.client_key_log), "server": len(result.server_key_log)},
    }


def _print_summary(summary: dict[str, Any], records: Sequence[Record]) -> None:
    sides = f"{summary['client']} client <-> {summary['server']} server"
    print(f"{sides}  policy={summary['policy']}  cert={summary['cert']}  seed={summary['seed']}")
    rows = [
        ("version", summary["version"]),
        ("cipher", summary["cipher"]),
        ("group", summary["group"]),
        ("signature scheme", summary["signature_scheme"]),
        ("handshake type", summary["handshake_type"]),
        ("records c->s", _record_sizes(records, "client->server")),
        ("records s->c", _record_sizes(records, "server->client")),
        (
            "key log lines",
            f"client {summary['key_log_lines']['client']}, server {summary['key_log_lines']['server']}",
        ),
        ("transcript sha256", summary["transcript_sha256"]),
        ("s2n build", summary["profile"]),
    ]
    for label, value in rows:
        print(f"  {label:<18} {value}")


def _cmd_build(args: argparse.Namespace) -> int:
    from s2n_bridge.build import main as build_main  # noqa: PLC0415  (no extension needed to build it)

    return build_main((["--profile", args.profile] if args.profile else []) + (["--coverage"] if args.coverage else []))


def _cmd_pair(args: argparse.Namespace) -> int:
    from s2n_bridge._native import profile  # noqa: PLC0415
    from tlsdiff.scenario import run_pair  # noqa: PLC0415

    result = run_pair(args.client, args.server, args.policy, args.cert, args.seed)
    summary = _summary(result, profile().name)
    if args.transcript:
        write_transcript(Path(args.transcript), result.records)
    if args.json:
        print(json.dumps(summary))
    else:
        _print_summary(summary, result.records)
    return 0


def _cmd_s2n_handshake(args: argparse.Namespace) -> int:
    args.client = args.server = "s2n"
    return _cmd_pair(args)


def _cmd_demo(args: argparse.Namespace) -> int:
    from s2n_bridge._native import profile  # noqa: PLC0415
    from tlsdiff.scenario import run_pair  # noqa: PLC0415

    print(f"tlsdiff demo: the Python engine and C s2n-tls ({profile().name} build), in memory, seed {args.seed}")
    print("Each scenario runs four ways (clients x servers in {s2n, engine}); records compared byte for byte.")
    print()
    columns = f"{'policy':<15} {'cert':<13} {'cipher':<23} {'group':<10} {'signature scheme':<24} {'records':>7}"
    print(columns + "  sha256 (4-way)")
    failures = 0
    for policy in _DEMO_POLICIES:
        for cert_type in CERT_TYPES:
            runs = [run_pair(c, s, policy, cert_type, args.seed) for c in ("s2n", "engine") for s in ("s2n", "engine")]
            digests = {transcript_sha256(run.records) for run in runs}
            failures += len(digests) != 1
            info, first = runs[0].client, runs[0]
            verdict = "identical" if len(digests) == 1 else f"{len(digests)} DIFFERENT transcripts"
            print(
                f"{policy:<15} {cert_type:<13} {info.cipher:<23} {info.group:<10} "
                f"{first.server.signature_scheme:<24} {len(first.records):>7}  {min(digests)[:16]}... {verdict}"
            )
    print("\nAll four pairings must give one transcript; 'tlsdiff pair' shows any one of them in full.")
    return 1 if failures or _demo_fuzz(args.fuzz_seconds) else 0


def _demo_fuzz(seconds: int) -> int:
    """The demo's second half: a short live differential fuzz run of a few targets."""
    from tlsdiff.fuzz_cli import project_root, run_fuzz  # noqa: PLC0415

    if seconds <= 0:
        return 0
    findings = project_root() / ".tlsdiff" / "demo-findings"
    print(f"\nDifferential fuzzing, {seconds} s per target (findings in {findings}):")
    failed = 0
    for target in _DEMO_TARGETS:
        stats, code = run_fuzz(target, seconds=seconds, findings=findings)
        print(stats.summary())
        failed += code != 0
    print("Each finding is a directory: finding.json, input.bin, diff.txt, conversations.pcapng, reproduce.sh.")
    if any(findings.glob("*/finding.json")):
        _demo_triage(findings)
    return failed


def _demo_triage(findings: Path) -> None:
    """The demo's end: its findings replayed, grouped and minimised, as ``tlsdiff triage`` shows them."""
    from tlsdiff.triage import TriageOptions, triage  # noqa: PLC0415
    from tlsdiff.triage_cli import table_lines  # noqa: PLC0415

    print(f"\nTriage of the findings (tlsdiff triage {findings}):")
    result = triage(findings, options=TriageOptions(max_checks=200, progress=lambda line: None))
    print("\n".join(table_lines(result)))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tlsdiff", description="TLS 1.3 differential harness: a Python engine vs C s2n-tls."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build s2n-tls from pinned source and the cffi bridge")
    build.add_argument("--profile", choices=("openssl", "aws-lc"), help="libcrypto to build against (default: openssl)")
    coverage_help = "the coverage build instead: clang, -fsanitize=fuzzer-no-link,address, atheris from source"
    build.add_argument("--coverage", action="store_true", help=coverage_help + " (for tlsdiff fuzz --coverage)")
    build.set_defaults(run=_cmd_build)
    handshake = commands.add_parser("s2n-handshake", help="run an s2n client and server in memory and summarise")
    _scenario_options(handshake)
    handshake.set_defaults(run=_cmd_s2n_handshake)
    pair = commands.add_parser("pair", help="run any client against any server (engine or s2n) and summarise")
    pair.add_argument("--client", choices=("engine", "s2n"), default="engine")
    pair.add_argument("--server", choices=("engine", "s2n"), default="s2n")
    _scenario_options(pair)
    pair.set_defaults(run=_cmd_pair)
    demo = commands.add_parser("demo", help="the main job: engine and s2n four ways over policies and certificates")
    demo.add_argument("--seed", type=_seed, default=1)
    demo.add_argument("--fuzz-seconds", type=int, default=10, help="seconds of fuzzing per demo target (0: none)")
    demo.set_defaults(run=_cmd_demo)
    from tlsdiff.fuzz_cli import add_commands  # noqa: PLC0415

    add_commands(commands, _seed)
    from tlsdiff.triage_cli import add_triage_command  # noqa: PLC0415

    add_triage_command(commands)
    from tlsdiff.net_cli import add_net_commands  # noqa: PLC0415

    add_net_commands(commands)
    from tlsdiff.interop_cli import add_interop_command  # noqa: PLC0415

    add_interop_command(commands)
    return parser


def _scenario_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", default="default_tls13", help="s2n security policy name")
    parser.add_argument("--cert", choices=CERT_TYPES, default="ecdsa-p256", help="server certificate type")
    parser.add_argument("--seed", type=_seed, default=1, help="seed of both sides' randomness (0 to 2**64-1)")
    parser.add_argument("--transcript", metavar="FILE", help="write every record, with its direction, as JSON lines")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")


def _seed(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 0 <= value < 1 << 64:
        raise argparse.ArgumentTypeError("must be between 0 and 2**64-1")
    return value


def _known_errors() -> tuple[type[BaseException], ...]:
    from s2n_bridge import S2NError  # noqa: PLC0415
    from s2n_bridge._native import BridgeNotBuiltError  # noqa: PLC0415
    from tlsdiff.scenario import ScenarioError  # noqa: PLC0415
    from tlsdiff.transcript import TranscriptError  # noqa: PLC0415

    return (S2NError, BridgeNotBuiltError, ScenarioError, TranscriptError, OSError, ValueError)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tlsdiff`` command."""
    args = _parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except _known_errors() as error:
        print(f"tlsdiff {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
