"""Running a target: under atheris (one process per script in ``fuzz_targets/``), or replaying inputs.

``run_target`` is what each script calls. For every input it asks the target for a
finding; a finding is saved (``FindingStore``) before anything else happens. Then:

- under ``tlsdiff fuzz`` (``TLSDIFF_KEEP_GOING=1``) it prints one ``==tlsdiff== finding``
  line and the run goes on, so one run collects many signatures;
- run bare (OSS-Fuzz, ClusterFuzzLite, ``-fork``), it raises the signature's own
  exception class from a frame of the same name, as a crash for the fleet to group.

``TLSDIFF_FINDINGS`` names the findings directory (default ``findings``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tlsdiff.findings import Finding, FindingStore
from tlsdiff.oracle import divergence_error_class, raise_in_named_frame

__all__ = ["FINDING_MARK", "replay", "run_target"]

FINDING_MARK = "==tlsdiff== finding "


def _raise_for(finding: Finding) -> None:
    raise_in_named_frame(divergence_error_class(finding.signature)(finding.signature))


def run_target(name: str, argv: Sequence[str]) -> None:
    """Fuzz target ``name`` under atheris with libFuzzer's ``argv``."""
    import atheris  # noqa: PLC0415

    from tlsdiff.targets import TARGETS  # noqa: PLC0415

    target = TARGETS[name]
    store = FindingStore(Path(os.environ.get("TLSDIFF_FINDINGS", "findings")))
    keep_going = os.environ.get("TLSDIFF_KEEP_GOING") == "1"

    def test_one_input(data: bytes) -> None:
        finding = target.check(data)
        if finding is None:
            return
        directory = store.save(finding, data)  # before anything else: nothing found is lost
        if keep_going:
            print(f"{FINDING_MARK}{finding.signature} {directory}", file=sys.stderr, flush=True)
        else:
            _raise_for(finding)

    atheris.Setup(list(argv), test_one_input, custom_mutator=target.mutator)
    atheris.Fuzz()


def replay(name: str, paths: Sequence[Path], findings: Path | None = None) -> list[tuple[Path, str | None]]:
    """Run each input once through target ``name``; (path, signature or None) per input, saving findings if asked."""
    from tlsdiff.targets import TARGETS  # noqa: PLC0415

    target = TARGETS[name]
    store = FindingStore(findings) if findings is not None else None
    results: list[tuple[Path, str | None]] = []
    for path in paths:
        data = path.read_bytes()
        finding = target.check(data)
        if finding is not None and store is not None:
            store.save(finding, data)
        results.append((path, finding.signature if finding is not None else None))
    return results
