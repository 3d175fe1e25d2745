"""``tlsdiff triage DIR [--out REPORT_DIR] [--json]``: the command line of ``tlsdiff.triage``.

Prints one row per group (status, inputs, first seen, minimised size against the
original's, target, signature), a line under a row for each other signature its inputs
give today, and where the HTML report is; ``--json`` prints one JSON document instead.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from tlsdiff.triage import Group, TriageOptions, TriageResult, triage

__all__ = ["add_triage_command", "table_lines"]

_HEADER = ("status", "known", "inputs", "first seen", "minimised", "target", "signature")


def _minimised(group: Group) -> str:
    minimized = group.minimized
    if minimized is None:
        return "-"
    if minimized.directory is None:
        return "failed"
    return f"{minimized.size}/{minimized.original_size} B"


def _cells(group: Group) -> tuple[str, ...]:
    minimised = _minimised(group)
    return group.status, group.known, group.count_label, group.first_seen, minimised, group.target, group.signature


def _notes(group: Group, indent: str) -> list[str]:
    notes = [f"{indent}now gives {signature} ({count} of {group.count} inputs)"
             for signature, count in group.moved.most_common()]  # fmt: skip
    if group.pinned:
        notes.append(f"{indent}pinned in the regression corpus as {group.pinned}")
    if group.cause:
        notes.append(f"{indent}{group.cause} (docs/findings.md); pin it once read")
    if group.minimized is not None and group.minimized.error:
        notes.append(f"{indent}not minimised: {group.minimized.error}")
    return notes


def table_lines(result: TriageResult) -> list[str]:
    """The terminal table of ``result``, its notes and its summary line."""
    rows = [_cells(group) for group in result.groups]
    widths = [max(len(row[column]) for row in [_HEADER, *rows]) for column in range(len(_HEADER) - 1)]

    def line(row: tuple[str, ...]) -> str:
        return "  ".join([*(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)), row[-1]])

    lines = [line(_HEADER)]
    for group, row in zip(result.groups, rows, strict=True):
        lines += [line(row), *_notes(group, " " * (widths[0] + 2))]
    summary = f"{len(result.groups)} groups from {result.inputs} inputs ({result.status_summary()})"
    lines.append(f"{summary} in {result.seconds:.0f} s; report: {result.report / 'index.html'}")
    return lines


def _cmd_triage(args: argparse.Namespace) -> int:
    if args.max_checks is not None and args.max_checks < 1:
        raise ValueError("--max-checks must be at least 1")
    options = TriageOptions(minimize=not args.no_minimize, max_checks=args.max_checks)
    result = triage(Path(args.directory), Path(args.out) if args.out else None, options)
    if args.json:
        print(json.dumps(result.as_json(), indent=2))
    else:
        print("\n".join(table_lines(result)))
    return 0


def add_triage_command(commands: Any) -> None:
    """Add ``triage`` to the ``tlsdiff`` parser."""
    parser = commands.add_parser("triage", help="replay a findings directory, group, minimise, write an HTML report")
    parser.add_argument("directory", metavar="DIR", help="a findings directory (tlsdiff fuzz --findings)")
    parser.add_argument("--out", metavar="REPORT_DIR", help="where the report goes (default: DIR/report)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    parser.add_argument("--no-minimize", action="store_true", help="replay and group only")
    parser.add_argument("--max-checks", type=int, help="target runs the minimiser may spend per group")
    parser.set_defaults(run=_cmd_triage)
