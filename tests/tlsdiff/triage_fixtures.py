"""Findings directories for the triage tests, built from the regression corpus through ``FindingStore``.

Every finding here is made the way a fuzz run makes it: a target's ``check`` on an input
that still diverges (``corpus/regression/TARGET/NAME.bin``, whose ``NAME.json`` pins the
signature), saved by ``FindingStore``. The "historical" findings carry a signature their
input no longer gives, as a findings directory from before a fix does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tlsdiff.findings import Finding, FindingStore
from tlsdiff.oracle import divergence_error_class
from tlsdiff.targets import TARGETS

__all__ = ["CCS", "CHANGED_SIGNATURE", "HRR", "Built", "Pinned", "build_findings", "historical_finding", "pinned"]

_REGRESSION = Path(__file__).resolve().parents[2] / "corpus" / "regression"


@dataclass(frozen=True)
class Pinned:
    """A regression input and the signature its pin says it gives today (None: fixed)."""

    target: str
    data: bytes
    signature: str | None
    was: str | None


def pinned(target: str, name: str) -> Pinned:
    """``corpus/regression/TARGET/NAME.bin`` with its pin."""
    pin = json.loads((_REGRESSION / target / f"{name}.json").read_text())
    return Pinned(target, (_REGRESSION / target / f"{name}.bin").read_bytes(), pin["signature"], pin.get("was"))


# A client_diff finding whose field path (ChangeCipherSpec.type) names a row of its side-by-side.
CCS = ("client_diff", "s2n-reflects-partial-handshake-bytes-as-ccs-one-byte")
# A cheap server_diff finding; three 0xff bytes after it leave its signature as it is.
HRR = ("server_diff", "s2n-reflects-partial-handshake-bytes-hrr")
_FIXED = ("server_diff", "sslv2-framing-wait")
_INERT_PADDING = b"\xff\xff\xff"
CHANGED_SIGNATURE = "bytes/server/flight0/handshake/record[9].an_older_field"


def historical_finding(target: str, signature: str, diff_lines: tuple[str, ...] = ("recorded long ago",)) -> Finding:
    """A finding of ``signature`` as an older fuzz run saved it (no conversations)."""
    summary = {"tier": signature.split("/", 1)[0], "compat": {"target": "s2n", "peer": "s2n"}}
    identifier = divergence_error_class(signature).__name__
    return Finding(target, signature, identifier, summary, diff_lines=diff_lines)


def _reproducing(store: FindingStore, target: str, data: bytes) -> tuple[Path, Finding]:
    finding = TARGETS[target].check(data)
    if finding is None:
        raise AssertionError(f"{target}: the regression input no longer diverges")
    return store.save(finding, data), finding


@dataclass(frozen=True)
class Built:
    """What ``build_findings`` wrote, and what triage should make of it."""

    root: Path
    ccs: Finding
    hrr: Finding
    fixed_signature: str


def build_findings(root: Path) -> Built:
    """Findings of two reproducing groups (one with a padded and an inert extra input), a fixed one, a changed one.

    ``root/client_diff`` and ``root/server_diff`` hold the findings, as a ``--jobs`` campaign lays them out.
    """
    ccs_input, hrr_input, fixed = pinned(*CCS), pinned(*HRR), pinned(*_FIXED)
    _, ccs = _reproducing(FindingStore(root / "client_diff"), CCS[0], ccs_input.data)
    server = FindingStore(root / "server_diff")
    _, hrr = _reproducing(server, HRR[0], hrr_input.data)
    server.save(hrr, hrr_input.data + _INERT_PADDING)  # still gives the signature: a second reproducing input
    server.save(hrr, b"")  # gives no finding today
    if fixed.was is None or fixed.signature is not None:
        raise AssertionError(f"{_FIXED}: expected a fixed pin")
    server.save(historical_finding(fixed.target, fixed.was), fixed.data)
    server.save(historical_finding(HRR[0], CHANGED_SIGNATURE), hrr_input.data)
    return Built(root, ccs, hrr, fixed.was)
