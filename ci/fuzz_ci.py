#!/usr/bin/env python3
"""CI's fuzzing step: replay the regression corpus, then fuzz every target briefly and reproducibly.

1. Every input under ``corpus/regression/TARGET/`` is replayed; its ``.json`` beside it
   pins what it must do now: ``"signature": null`` (fixed: the two must agree) or the
   signature it must still produce (a pinned s2n bug or unsupported feature).
2. Every target runs for ``--runs`` executions with libFuzzer seed ``--seed`` (the same
   executions each time), printing execs/s and coverage per target.
3. The step fails on any replay that does not match its pin, and on any signature a
   fuzz run finds that is not pinned in the regression corpus.

Usage: ci/fuzz_ci.py [--runs N] [--seed N] [--findings DIR] [--targets a,b]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import cast

ROOT = Path(__file__).resolve().parent.parent
REGRESSION = ROOT / "corpus" / "regression"


def _pins() -> dict[str, dict[Path, str | None]]:
    pins: dict[str, dict[Path, str | None]] = {}
    for document in sorted(REGRESSION.glob("*/*.json")):
        pinned = json.loads(document.read_text())
        pins.setdefault(document.parent.name, {})[document.with_suffix(".bin")] = pinned.get("signature")
    return pins


def _replay(pins: dict[str, dict[Path, str | None]]) -> list[str]:
    from tlsdiff.fuzzing import replay  # noqa: PLC0415

    failures = []
    for target, inputs in sorted(pins.items()):
        results = replay(target, sorted(inputs))
        for path, signature in results:
            expected = inputs[path]
            verdict = "ok" if signature == expected else "MISMATCH"
            print(
                f"[regression] {target}/{path.name}: {signature or 'agree'} (pinned: {expected or 'fixed'}) {verdict}"
            )
            if signature != expected:
                failures.append(f"{target}/{path.name}: got {signature}, pinned {expected}")
    return failures


def _fuzz(target: str, runs: int, seed: int, findings: Path) -> dict[str, object]:
    command = [sys.executable, "-m", "tlsdiff.cli", "fuzz", target, "--runs", str(runs), "--seed", str(seed),
               "--findings", str(findings), "--corpus", str(findings / "corpus" / target), "--json"]  # fmt: skip
    (findings / "corpus" / target).mkdir(parents=True, exist_ok=True)
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        log = findings / f"{target}.log"  # the target's last line says why (a missing build: which one to build)
        last = log.read_text(errors="replace").strip().splitlines()[-1:] if log.is_file() else []
        raise SystemExit(f"[fuzz] {target} failed: {''.join(last)}\n{done.stderr[-2000:]}")
    stats: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--findings", default=str(ROOT / ".tlsdiff" / "ci-findings"))
    parser.add_argument("--targets", help="comma-separated subset (default: all)")
    args = parser.parse_args(argv)
    pins = _pins()
    failures = _replay(pins)
    pinned = {signature for inputs in pins.values() for signature in inputs.values() if signature}
    from tlsdiff.fuzz_cli import fuzz_targets_dir  # noqa: PLC0415

    targets = args.targets.split(",") if args.targets else sorted(p.stem for p in fuzz_targets_dir().glob("[a-z]*.py"))
    findings = Path(args.findings)
    for target in targets:
        stats = _fuzz(target, args.runs, args.seed, findings)
        found = cast(dict[str, int], stats["findings"])
        new = sorted(set(found) - pinned)
        print(f"[fuzz] {target}: {stats['execs']} execs in {stats['seconds']} s ({stats['execs_per_second']}/s), "
              f"cov {stats['cov']}, ft {stats['ft']}, corpus {stats['corpus']}, "
              f"signatures {len(found)} ({len(new)} not pinned)")  # fmt: skip
        failures += [f"{target}: new signature {signature}" for signature in new]
    for failure in failures:
        print(f"[fuzz] FAIL {failure}")
    print(f"[fuzz] {len(failures)} failures" if failures else "[fuzz] regression corpus and fuzz runs: all pinned")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
