"""Findings: written to disk, atomically, before the fuzzer does anything else.

A finding is what a target reports for one input: a divergence between the engine and
s2n, or a crash (an exception other than ``TLSError`` out of the engine). The first
input of each signature becomes a directory, named by the signature's stable
identifier (the name of its exception class)::

    findings/Divergence_verdict_server_flight0_CLIENT_HELLO_..._1a2b3c4d/
        finding.json       signature, tier, target, the two outcomes, compat switches, first seen
        input.bin          the fuzzer input (replay it with the reproduce line)
        scenario.json      the scenario the input decodes to (lockstep targets)
        diff.txt           the first differing record and message, decoded side by side, field path marked
        conversations.pcapng  both conversations with the key log embedded (Wireshark decrypts it)
        keylog.txt         the NSS key log beside it
        reproduce.sh       one line that replays the input

Later inputs with a known signature add only their input under ``more/`` (capped), so
the count per signature is kept without thousands of copies. Every file lands by
write-then-fsync-then-rename (``tlsdiff.atomic``): a SIGKILL right after ``save``
returns loses nothing, and two workers never write the same finding twice.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

from tlsdiff.atomic import write_atomic, write_directory_atomic
from tlsdiff.pcapng import Conversation, pcapng_bytes

__all__ = ["MAX_EXTRA_INPUTS", "Finding", "FindingStore", "LazyLines", "load_finding"]

MAX_EXTRA_INPUTS = 64


class LazyLines(Sequence[str]):
    """Lines built on first use: only a signature's first input is written out, and decoding
    and rendering both conversations costs more than the run that found the divergence."""

    def __init__(self, build: Callable[[], Sequence[str]]) -> None:
        self._build = build
        self._lines: Sequence[str] | None = None

    def _built(self) -> Sequence[str]:
        if self._lines is None:
            self._lines = self._build()
        return self._lines

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._built()[index]

    def __len__(self) -> int:
        return len(self._built())


@dataclass(frozen=True)
class Finding:
    """Everything a finding directory holds, before it is written."""

    target: str
    signature: str
    identifier: str  # the stable name of the signature's exception class; the directory's name
    summary: Mapping[str, Any]
    diff_lines: Sequence[str] = ()
    scenario_json: Mapping[str, Any] | None = None
    transfers: Mapping[str, Sequence[tuple[str, bytes]]] = field(default_factory=dict)
    key_log: Sequence[bytes] = ()


def _reproduce_line(target: str, directory: Path) -> str:
    return f"tlsdiff fuzz {target} --replay {directory / 'input.bin'}"


def _files(finding: Finding, data: bytes, directory: Path) -> dict[str, bytes]:
    reproduce = _reproduce_line(finding.target, directory)
    document = {
        "signature": finding.signature,
        "identifier": finding.identifier,
        "target": finding.target,
        "first_seen": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "input_sha256": hashlib.sha256(data).hexdigest(),
        "reproduce": reproduce,
        **finding.summary,
    }
    files = {
        "finding.json": json.dumps(document, indent=2, default=str).encode() + b"\n",
        "input.bin": data,
        "diff.txt": ("\n".join(finding.diff_lines) + "\n").encode(),
        "reproduce.sh": f"#!/bin/sh\n{reproduce}\n".encode(),
    }
    if finding.scenario_json is not None:
        files["scenario.json"] = json.dumps(finding.scenario_json, indent=2).encode() + b"\n"
    if finding.transfers:
        conversations = [Conversation(name, list(transfers)) for name, transfers in finding.transfers.items()]
        files["conversations.pcapng"] = pcapng_bytes(conversations, finding.key_log)
        files["keylog.txt"] = b"".join(line + b"\n" for line in finding.key_log)
    return files


class FindingStore:
    """A findings directory shared by every worker of a run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def save(self, finding: Finding, data: bytes) -> Path:
        """Write ``finding`` for input ``data``; return its directory (new, or the one its signature had)."""
        directory = self.root / finding.identifier
        if not directory.exists() and write_directory_atomic(directory, _files(finding, data, directory)):
            return directory
        if (directory / "input.bin").read_bytes() == data:
            return directory  # the first input met again (a -fork job re-runs the seeds the parent ran)
        more = directory / "more"
        more.mkdir(exist_ok=True)
        name = hashlib.sha256(data).hexdigest()[:16] + ".bin"
        if not (more / name).exists() and sum(1 for _ in more.iterdir()) < MAX_EXTRA_INPUTS:
            write_atomic(more / name, data)
        return directory

    def signatures(self) -> dict[str, int]:
        """Every signature in the store, with how many distinct inputs it has seen (capped)."""
        counts: dict[str, int] = {}
        for document in self.root.glob("*/finding.json"):
            signature = json.loads(document.read_text())["signature"]
            more = document.parent / "more"
            counts[signature] = 1 + (sum(1 for _ in more.iterdir()) if more.is_dir() else 0)
        return counts


def load_finding(directory: Path) -> dict[str, Any]:
    """A finding's ``finding.json``."""
    document: dict[str, Any] = json.loads((directory / "finding.json").read_text())
    return document
