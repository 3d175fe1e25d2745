"""``tlsdiff triage``: replay a directory of findings, group them, minimise one input per group, report.

A findings directory (``tlsdiff.findings``) holds one sub-directory per signature, with its
first input and up to ``MAX_EXTRA_INPUTS`` later ones under ``more/``; findings directories
may also be nested one level per target (``findings/server_diff/...``). Triage:

1. replays every input once through its target (``TARGETS[name].check``), today's code:
   an input that gives no finding any more is *fixed*, one that gives another signature
   says which; nothing is dropped;
2. groups the findings by (target, signature) with their count, first seen and status:
   ``reproduces`` (some input still gives the signature), ``changed`` (none does, some give
   another), ``fixed`` (every input agrees now);
3. minimises one reproducing input per group (``tlsdiff.minimize.minimize``: the signature
   survives every step) and saves it as a finding of its own under ``OUT/minimized/TARGET/``,
   with its pcapng, key log and reproduce line;
4. writes the HTML report (``tlsdiff.report_html``) to ``OUT`` (default ``DIR/report``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tlsdiff.findings import MAX_EXTRA_INPUTS, FindingStore, load_finding

if TYPE_CHECKING:
    from tlsdiff.causes import KnownCause

__all__ = [
    "STATUSES",
    "Group",
    "Minimized",
    "Minimizer",
    "Replay",
    "TriageOptions",
    "TriageResult",
    "find_finding_directories",
    "triage",
]

Minimizer = Callable[[str, bytes, str], bytes]
Progress = Callable[[str], None]
_PROGRESS_SECONDS = 3.0
_MINIMIZED = "minimized"
STATUSES = ("reproduces", "changed", "fixed")  # a group's status, the most urgent first


@dataclass(frozen=True)
class Replay:
    """One input of a finding, run again: what it gives today (None: the two targets agree)."""

    path: Path
    signature: str | None


@dataclass(frozen=True)
class Minimized:
    """The outcome of minimising a group's representative input."""

    original_size: int
    size: int = 0
    directory: Path | None = None  # the minimised input's own finding (None: minimisation failed)
    error: str = ""


@dataclass(frozen=True)
class Group:
    """The findings of one signature of one target."""

    target: str
    signature: str
    identifier: str
    directories: tuple[Path, ...]  # its finding directories, the first seen first
    first_seen: str
    replays: tuple[Replay, ...]
    capped: bool  # a directory's more/ reached MAX_EXTRA_INPUTS: the fuzzer met more inputs than are kept
    minimized: Minimized | None = None
    pinned: str = ""  # the regression pin with this signature ("s2n-bug: corpus/regression/..."), "" if none
    explained_by: KnownCause | None = None  # not pinned: the known cause it looks like (tlsdiff.causes)

    @property
    def known(self) -> str:
        """``pinned`` (a known s2n bug or missing feature, in the regression corpus), ``new`` (``new, like
        S2N-7`` when a known cause explains it), or ``-`` if fixed."""
        if self.pinned:
            return "pinned"
        if self.status == STATUSES[2]:
            return "-"
        return f"new, like {self.explained_by.finding}" if self.explained_by is not None else "new"

    @property
    def cause(self) -> str:
        """The known cause it looks like, in one line ("" if none)."""
        return self.explained_by.describe() if self.explained_by is not None else ""

    @property
    def count(self) -> int:
        """How many inputs the group keeps."""
        return len(self.replays)

    @property
    def count_label(self) -> str:
        """The count as shown: ``65+`` when a directory's more/ reached its cap."""
        return f"{self.count}+" if self.capped else str(self.count)

    @property
    def reproducing(self) -> int:
        """How many of them still give the signature."""
        return sum(replay.signature == self.signature for replay in self.replays)

    @property
    def moved(self) -> Counter[str]:
        """The other signatures its inputs give today, with how many give each."""
        return Counter(r.signature for r in self.replays if r.signature not in (None, self.signature))

    @property
    def status(self) -> str:
        """``reproduces``, ``changed`` (only other signatures now) or ``fixed`` (no finding now)."""
        reproduces, changed, fixed = STATUSES
        if self.reproducing:
            return reproduces
        return changed if self.moved else fixed

    @property
    def representative(self) -> Path | None:
        """The input that is minimised: the first that still gives the signature."""
        return next((r.path for r in self.replays if r.signature == self.signature), None)

    @property
    def finding_directory(self) -> Path:
        """Where the group's page takes its diff, pcapng and key log: the minimised finding, else the first one."""
        if self.minimized is not None and self.minimized.directory is not None:
            return self.minimized.directory
        return self.directories[0]


@dataclass(frozen=True)
class TriageResult:
    """What ``triage`` found, group by group, and where its report is."""

    directory: Path
    report: Path
    groups: tuple[Group, ...]
    seconds: float

    @property
    def inputs(self) -> int:
        """How many inputs were replayed."""
        return sum(group.count for group in self.groups)

    def status_summary(self) -> str:
        """How many groups have each status: ``3 reproduces, 1 changed, 40 fixed``."""
        return ", ".join(f"{sum(g.status == status for g in self.groups)} {status}" for status in STATUSES)

    def as_json(self) -> dict[str, Any]:
        """The result as one JSON document."""
        statuses = Counter(group.status for group in self.groups)
        return {
            "directory": str(self.directory), "report": str(self.report / "index.html"),
            "seconds": round(self.seconds, 1), "inputs": self.inputs, "groups": len(self.groups),
            "statuses": dict(statuses), "findings": [_group_json(group) for group in self.groups],
        }  # fmt: skip


def _group_json(group: Group) -> dict[str, Any]:
    minimized = group.minimized
    return {
        "signature": group.signature, "target": group.target, "identifier": group.identifier,
        "status": group.status, "known": group.known, "pinned": group.pinned or None,
        "explained_by": group.cause or None, "count": group.count, "count_capped": group.capped,
        "reproducing": group.reproducing, "now_gives": dict(group.moved), "first_seen": group.first_seen,
        "directories": [str(d) for d in group.directories],
        "original_size": minimized.original_size if minimized else None,
        "minimized_size": minimized.size if minimized and minimized.directory else None,
        "minimized": str(minimized.directory) if minimized and minimized.directory else None,
        "minimize_error": minimized.error if minimized else None,
    }  # fmt: skip


def find_finding_directories(directory: Path, exclude: Iterable[Path] = ()) -> list[Path]:
    """The finding directories in ``directory`` (its children, or its children's children), not under ``exclude``."""
    if not directory.is_dir():
        raise OSError(f"{directory} is not a directory")
    skipped = [path.resolve() for path in exclude]
    found = [
        document.parent
        for pattern in ("*/finding.json", "*/*/finding.json")
        for document in sorted(directory.glob(pattern))
        if not any(document.resolve().is_relative_to(path) for path in skipped)
    ]
    if not found:
        raise ValueError(f"{directory} is not a findings directory (no finding.json in it or its sub-directories)")
    return found


def _document(directory: Path) -> dict[str, Any]:
    document = load_finding(directory)
    missing = [key for key in ("target", "signature", "identifier") if key not in document]
    if missing or not (directory / "input.bin").is_file():
        raise ValueError(f"{directory} is not a finding (no {', '.join(missing) or 'input.bin'})")
    return document


def _inputs(directory: Path) -> tuple[list[Path], bool]:
    more = sorted((directory / "more").glob("*.bin"))
    return [directory / "input.bin", *more], len(more) >= MAX_EXTRA_INPUTS


class _Replayer:
    """Runs each distinct input once per target, reporting progress now and then."""

    def __init__(self, total: int, progress: Progress) -> None:
        self._seen: dict[tuple[str, bytes], str | None] = {}
        self._total, self._done, self._progress = total, 0, progress
        self._started = self._last = time.monotonic()

    def signature(self, target: str, path: Path) -> str | None:
        from tlsdiff.targets import TARGETS, crash_finding  # noqa: PLC0415  (the targets need the bridge)

        if target not in TARGETS:
            raise ValueError(f"{path.parent}: unknown target {target!r}")
        data = path.read_bytes()
        key = (target, hashlib.sha256(data).digest())
        if key not in self._seen:
            try:
                finding = TARGETS[target].check(data)
            except Exception as error:  # a target that raises is itself a finding, and triage goes on
                finding = crash_finding(target, "replay", error, None)
            self._seen[key] = finding.signature if finding is not None else None
        self._tick()
        return self._seen[key]

    def _tick(self) -> None:
        self._done += 1
        now = time.monotonic()
        if now - self._last >= _PROGRESS_SECONDS:
            self._last = now
            self._progress(f"replayed {self._done}/{self._total} inputs ({now - self._started:.0f} s)")


def _replay_groups(directories: Sequence[Path], progress: Progress) -> list[Group]:
    documents = [(directory, _document(directory)) for directory in directories]
    documents.sort(key=lambda item: str(item[1].get("first_seen", "")))
    inputs = {directory: _inputs(directory) for directory in directories}
    replayer = _Replayer(sum(len(paths) for paths, _ in inputs.values()), progress)
    groups: dict[tuple[str, str], Group] = {}
    for directory, document in documents:
        target, signature = str(document["target"]), str(document["signature"])
        paths, capped = inputs[directory]
        replays = tuple(Replay(path, replayer.signature(target, path)) for path in paths)
        known = groups.get((target, signature))
        if known is None:
            groups[(target, signature)] = Group(target, signature, str(document["identifier"]), (directory,),
                                                str(document.get("first_seen", "")), replays, capped)  # fmt: skip
        else:
            groups[(target, signature)] = replace(
                known,
                directories=(*known.directories, directory),
                replays=(*known.replays, *replays),
                capped=known.capped or capped,
            )
    return list(groups.values())


def _save_minimized(group: Group, data: bytes, store_root: Path) -> Path:
    from tlsdiff.targets import TARGETS  # noqa: PLC0415

    finding = TARGETS[group.target].check(data)
    if finding is None or finding.signature != group.signature:
        raise ValueError(f"the minimised input gives {finding.signature if finding else 'no finding'}")
    store = FindingStore(store_root / group.target)
    shutil.rmtree(store.root / finding.identifier, ignore_errors=True)  # a previous triage's, of older code
    return store.save(finding, data)


def _minimize_group(group: Group, minimizer: Minimizer, store_root: Path) -> Minimized:
    representative = group.representative
    if representative is None:
        raise ValueError(f"{group.signature}: no input reproduces it")
    data = representative.read_bytes()
    try:
        smaller = minimizer(group.target, data, group.signature)
        directory = _save_minimized(group, smaller, store_root)
    except ValueError as error:  # the minimiser's refusal (a signature that does not hold): said, not fatal
        return Minimized(len(data), error=str(error))
    return Minimized(len(data), len(smaller), directory)


def _real_minimizer(max_checks: int | None) -> Minimizer:
    from tlsdiff.minimize import minimize  # noqa: PLC0415  (written beside this module; loaded only to minimise)

    if max_checks is None:
        return minimize
    return lambda target, data, signature: minimize(target, data, signature, max_checks=max_checks)


def _stderr(line: str) -> None:
    print(f"tlsdiff triage: {line}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class TriageOptions:
    """How ``triage`` minimises and reports progress."""

    minimize: bool = True
    max_checks: int | None = None  # the minimiser's own bound when None
    minimizer: Minimizer | None = None  # None: tlsdiff.minimize.minimize
    progress: Progress = field(default=_stderr)


def triage(directory: Path, out: Path | None = None, options: TriageOptions | None = None) -> TriageResult:
    """Replay, group and minimise the findings in ``directory``; write the HTML report to ``out``.

    ``out`` defaults to ``directory/report``; the minimised findings go to ``out/minimized/TARGET/``.
    """
    from tlsdiff.report_html import write_report  # noqa: PLC0415

    options = options or TriageOptions()
    started = time.monotonic()
    report = (out or directory / "report").resolve()
    groups = _replay_groups(find_finding_directories(directory, exclude=[report]), options.progress)
    if options.minimize:
        groups = _minimize_groups(groups, options, report / _MINIMIZED)
    pins = regression_pins()
    groups = [replace(group, pinned=pins.get((group.target, group.signature), "")) for group in groups]
    groups = [replace(group, explained_by=_explained_by(group)) for group in groups]
    groups.sort(key=lambda group: STATUSES.index(group.status))  # stable: by first seen within a status
    result = TriageResult(directory, report, tuple(groups), time.monotonic() - started)
    write_report(result)
    return result


def _explained_by(group: Group) -> KnownCause | None:
    """The known cause a new, reproducing group looks like (``tlsdiff.causes``), judged on its smallest input."""
    from tlsdiff.causes import explain  # noqa: PLC0415  (runs the target: loaded only when there is one to run)

    if group.pinned or group.representative is None:
        return None
    minimized = group.minimized.directory if group.minimized is not None else None
    source = minimized / "input.bin" if minimized is not None else group.representative
    return explain(group.target, source.read_bytes(), group.signature)


def regression_pins(root: Path | None = None) -> dict[tuple[str, str], str]:
    """(target, signature) -> ``KIND: PATH`` of every pin in the regression corpus that keeps a signature
    (``corpus/regression/TARGET/NAME.json``; fixed pins, signature null, are left out)."""
    from tlsdiff.fuzz_cli import project_root  # noqa: PLC0415

    pins: dict[tuple[str, str], str] = {}
    folder = (root or project_root()) / "corpus" / "regression"
    for document in sorted(folder.glob("*/*.json")):
        pin = json.loads(document.read_text())
        if pin.get("signature"):
            where = document.with_suffix(".bin").relative_to(folder.parent.parent)
            pins.setdefault((document.parent.name, str(pin["signature"])), f"{pin.get('kind', 'pinned')}: {where}")
    return pins


def _minimize_groups(groups: list[Group], options: TriageOptions, store_root: Path) -> list[Group]:
    minimizer = options.minimizer or _real_minimizer(options.max_checks)
    total = sum(group.representative is not None for group in groups)
    minimized: list[Group] = []
    for group in groups:
        if group.representative is None:
            minimized.append(group)
            continue
        options.progress(f"minimising {sum(g.minimized is not None for g in minimized) + 1}/{total}: {group.signature}")
        minimized.append(replace(group, minimized=_minimize_group(group, minimizer, store_root)))
    return minimized
