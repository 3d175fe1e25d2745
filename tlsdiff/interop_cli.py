"""``tlsdiff interop``: run the interop suite (``interop/``) with pytest-xdist and write the matrix report.

    tlsdiff interop --report interop-report          # interop-report.md and interop-report.html
    tlsdiff interop --peers openssl,gnutls --jobs 2 -k "hrr or alpn"

Each cell is a pytest test (``interop/test_interop.py``); each writes its result, which
this command gathers into the report (``interop.report``). It checks first that the
selected peers' programs are installed (one line and exit 2 if not) and exits 1 when a
cell failed, 0 when every cell passed or is a declared unsupported one.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["add_interop_command", "run_interop"]

_MODULES = {"tlslite": "tlslite"}  # Python peers whose library comes from PyPI


def _peers(text: str | None) -> tuple[str, ...]:
    from interop.cells import PEERS  # noqa: PLC0415  (the matrix loads only for this command)

    if not text:
        return PEERS
    peers = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in peers if name not in PEERS]
    if unknown:
        raise ValueError(f"unknown peer {', '.join(unknown)} (known: {', '.join(PEERS)})")
    return peers


def _missing(peers: tuple[str, ...]) -> list[str]:
    from interop.peers import missing_binaries  # noqa: PLC0415

    missing = missing_binaries(peers)
    missing += [f"the Python package {module}" for peer, module in _MODULES.items()
                if peer in peers and importlib.util.find_spec(module) is None]  # fmt: skip
    return missing


def _pytest_command(args: argparse.Namespace, peers: tuple[str, ...], results: Path) -> list[str]:
    import interop  # noqa: PLC0415

    suite = Path(interop.__file__).resolve().parent / "test_interop.py"
    command = [sys.executable, "-m", "pytest", "-n", str(args.jobs), "-q", "-p", "no:cacheprovider", str(suite)]
    command += ["--interop-results", str(results), "--interop-peers", ",".join(peers)]
    return command + (["-k", args.k] if args.k else [])


def run_interop(args: argparse.Namespace) -> int:
    """Run the selected cells, print the counts (and every failed cell), write the report if asked."""
    from interop.report import write_reports  # noqa: PLC0415
    from interop.run import CellResult, Outcome  # noqa: PLC0415

    peers = _peers(args.peers)
    missing = _missing(peers)
    if missing:
        print(f"tlsdiff interop: not installed: {', '.join(missing)} (run ci/setup.sh)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="tlsdiff-interop-") as directory:
        code = subprocess.run(_pytest_command(args, peers, Path(directory)), check=False).returncode
        results = [CellResult.from_json(path.read_text()) for path in sorted(Path(directory).glob("*.json"))]
    if not results:
        print(f"tlsdiff interop: no cell ran (pytest exit {code}; does -k match any cell id?)", file=sys.stderr)
        return 2
    failed = [result for result in results if result.outcome is Outcome.FAILED]
    counts = {outcome: sum(result.outcome is outcome for result in results) for outcome in Outcome}
    print("tlsdiff interop: " + ", ".join(f"{count} {outcome.value}" for outcome, count in counts.items()))
    for result in failed:
        print(f"FAILED {result.cell_id}: {result.detail}")
    if args.report:
        markdown, page = write_reports(results, Path(args.report))
        print(f"report: {markdown} and {page}")
    return 1 if failed or code != 0 else 0


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def add_interop_command(commands: Any) -> None:
    """Add ``interop`` to the ``tlsdiff`` parser."""
    parser = commands.add_parser("interop", help="the interop suite against s2n, openssl, gnutls, Python ssl, tlslite")
    parser.add_argument("--report", metavar="FILE", help="write the matrix as FILE.md and FILE.html")
    parser.add_argument("--jobs", type=_jobs, default=os.cpu_count() or 1, help="pytest-xdist workers (default: CPUs)")
    parser.add_argument("--peers", metavar="A,B", help="only these peers (s2n,openssl,gnutls,python-ssl,tlslite)")
    parser.add_argument("-k", metavar="EXPR", help="only the cells whose id matches (pytest -k syntax)")
    parser.set_defaults(run=run_interop)
