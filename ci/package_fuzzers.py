#!/usr/bin/env python3
"""Package the fuzz targets for OSS-Fuzz and ClusterFuzzLite: the steps both build.sh files share.

``ci/oss_fuzz_build.sh`` (which ``oss-fuzz/build.sh`` and ``.clusterfuzzlite/build.sh`` run)
calls it three times:

- ``targets``: the target names, one a line: the scripts in ``fuzz_targets/`` but the few a
  bundle cannot hold (``_NOT_PACKAGED``, each named with its reason in the build's log);
- ``pyinstaller-args``: what ``compile_python_fuzzer`` passes on to PyInstaller, one a line,
  so that the packaged target carries the s2n build (the cffi extension where
  ``TLSDIFF_CACHE`` would hold it; libs2n and libcrypto beside it) and the runtime hook
  ``ci/pyi_rth_tlsdiff.py`` that points ``TLSDIFF_CACHE`` there;
- ``extras --out OUT``: per target ``OUT/NAME.dict`` (``corpus/dicts/NAME.dict``),
  ``OUT/NAME.options`` (libFuzzer's ``max_len`` and ``dict``) and
  ``OUT/NAME_seed_corpus.zip`` (``corpus/NAME/``). It runs each packaged ``OUT/NAME`` once
  over its seeds: a seed that is a finding is left out of the zip, said on stderr,
  because bare every finding is a crash and a fleet's fuzzer would stop at it on start-up
  (such seeds stay in CI's replay through ``corpus/regression/``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from pyi_rth_tlsdiff import BUNDLED_CACHE

from s2n_bridge._profile import cache_root
from s2n_bridge.build import BuildError, build

# One target list and one max_len for `tlsdiff fuzz` and the fleet: fuzz_cli's.
from tlsdiff.fuzz_cli import MAX_LEN, known_targets, project_root

__all__ = ["PackagingError", "extras", "main", "packaged_targets", "pyinstaller_args", "seed_corpus"]

_CHECKOUT = Path(__file__).resolve().parent.parent
_HOOK = _CHECKOUT / "ci" / "pyi_rth_tlsdiff.py"
# Targets a PyInstaller bundle cannot hold, and why (said in the build's log).
_NOT_PACKAGED = {
    "cross_build_diff": "its s2n builds run in worker processes started as `sys.executable -m "
    "tlsdiff.cross_worker` (a bundle's executable is the fuzzer itself), one of them on the aws-lc "
    "build, whose libs2n.so.1 has the same name as the OpenSSL build's",
}


class PackagingError(RuntimeError):
    """A packaging step cannot go on; the message says which and why."""


def _log(message: str) -> None:
    print(f"[package_fuzzers] {message}", file=sys.stderr, flush=True)


def _checked_root() -> Path:
    """The checkout, once it is sure the installed tlsdiff is this one (corpus/ and fuzz_targets/ are read from it)."""
    if project_root() != _CHECKOUT:
        raise PackagingError(
            f"tlsdiff is installed from {project_root()}, not {_CHECKOUT}: pip3 install -e {_CHECKOUT}"
        )
    return _CHECKOUT


def pyinstaller_args() -> list[str]:
    """PyInstaller's arguments beyond compile_python_fuzzer's own, for every target alike."""
    extension_dir = build().extension_dir  # cached: ci/oss_fuzz_build.sh's ``tlsdiff build`` made it
    extensions = sorted(extension_dir.glob("*.so"))
    if not extensions:
        raise PackagingError(f"no cffi extension in {extension_dir}; run: tlsdiff build")
    bundled = Path(BUNDLED_CACHE) / extension_dir.relative_to(cache_root().parent)
    args = ["--paths", str(_checked_root()), "--runtime-hook", str(_HOOK)]
    # The extension imports _cffi_backend from C, where PyInstaller does not look; gmpy2
    # reads its own version from its package metadata when imported.
    args += ["--hidden-import", "_cffi_backend", "--copy-metadata", "gmpy2"]
    # The target registry's modules (tlsdiff/target_*.py), which it may import by name.
    for module in sorted((_CHECKOUT / "tlsdiff").glob("target_*.py")):
        args += ["--hidden-import", f"tlsdiff.{module.stem}"]
    for extension in extensions:
        args += ["--add-binary", f"{extension}:{bundled}"]
    return args


def packaged_targets() -> list[str]:
    """The targets to package: every script in fuzz_targets/ but those a bundle cannot hold (logged)."""
    _checked_root()
    names = known_targets()
    for name in sorted(set(names) & set(_NOT_PACKAGED)):
        _log(f"{name} is not packaged: {_NOT_PACKAGED[name]}")
    return [name for name in names if name not in _NOT_PACKAGED]


def _options(name: str, dictionary: bool) -> str:
    lines = ["[libfuzzer]", f"max_len = {MAX_LEN}"] + ([f"dict = {name}.dict"] if dictionary else [])
    return "\n".join(lines) + "\n"


def _finding_inputs(findings: Path) -> dict[str, str]:
    """sha256 of every input a findings directory holds (each finding's input.bin and more/), to its signature."""
    inputs: dict[str, str] = {}
    for document in sorted(findings.glob("*/finding.json")):
        signature = json.loads(document.read_text())["signature"]
        for path in [document.with_name("input.bin"), *sorted(document.parent.glob("more/*.bin"))]:
            inputs[hashlib.sha256(path.read_bytes()).hexdigest()] = signature
    return inputs


def _seed_findings(packaged: Path, seeds: Sequence[Path], work: Path) -> dict[str, str]:
    """Run the packaged target once over ``seeds``, on past findings; each seed that is one: sha256 to signature."""
    corpus, findings = work / "seeds", work / "findings"
    corpus.mkdir()
    for seed in seeds:  # a copy: libFuzzer is never given the checked-in folder to write into
        shutil.copyfile(seed, corpus / seed.name)
    env = dict(os.environ, TLSDIFF_KEEP_GOING="1", TLSDIFF_FINDINGS=str(findings))
    log = work / "run.log"
    with log.open("wb") as output:
        command = [str(packaged), "-runs=0", f"-max_len={MAX_LEN}", str(corpus)]
        done = subprocess.run(command, cwd=work, env=env, stdout=output, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-5:]
        raise PackagingError(f"{packaged} failed on its seeds (exit {done.returncode}): {' | '.join(tail)}")
    return _finding_inputs(findings) if findings.is_dir() else {}


def seed_corpus(name: str, out: Path, work: Path) -> Path:
    """Write ``OUT/NAME_seed_corpus.zip`` from ``corpus/NAME/``, less the seeds the packaged target finds; its path."""
    packaged = out / name
    if not os.access(packaged, os.X_OK):
        raise PackagingError(f"{packaged} is not there: compile_python_fuzzer runs first")
    seeds = sorted(path for path in (_CHECKOUT / "corpus" / name).glob("*") if path.is_file())
    found = _seed_findings(packaged, seeds, work) if seeds else {}
    archive = out / f"{name}_seed_corpus.zip"
    kept = 0
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for seed in seeds:
            signature = found.get(hashlib.sha256(seed.read_bytes()).hexdigest())
            if signature is None:
                bundle.write(seed, seed.name)
                kept += 1
            else:
                _log(f"{name}: seed {seed.name} left out of {archive.name}: it is finding {signature!r}")
    _log(f"{name}: {archive.name} with {kept} of {len(seeds)} seeds")
    return archive


def extras(out: Path, work: Path) -> list[Path]:
    """Every target's dictionary, options file and seed corpus zip in ``out``; the files written."""
    written: list[Path] = []
    for name in packaged_targets():
        dictionary = _CHECKOUT / "corpus" / "dicts" / f"{name}.dict"
        if dictionary.is_file():
            written.append(Path(shutil.copyfile(dictionary, out / dictionary.name)))
        options = out / f"{name}.options"
        options.write_text(_options(name, dictionary.is_file()))
        written.append(options)
        target_work = work / name
        shutil.rmtree(target_work, ignore_errors=True)
        target_work.mkdir(parents=True)
        written.append(seed_corpus(name, out, target_work))
    return written


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ci/package_fuzzers.py", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("targets", help="the target names, one a line")
    commands.add_parser("pyinstaller-args", help="PyInstaller's extra arguments, one a line")
    extra = commands.add_parser("extras", help="dictionaries, options files and seed corpus zips")
    extra.add_argument("--out", type=Path, required=True, help="the build's $OUT, where the packaged targets are")
    extra.add_argument("--work", type=Path, help="scratch space (default: a temporary directory)")
    return parser


def _run(args: argparse.Namespace) -> list[str]:
    if args.command == "targets":
        return packaged_targets()
    if args.command == "pyinstaller-args":
        return pyinstaller_args()
    if not args.out.is_dir():
        raise PackagingError(f"--out {args.out} is not a directory")
    if args.work is not None:
        return [str(path) for path in extras(args.out, args.work)]
    with tempfile.TemporaryDirectory(prefix="package_fuzzers-") as work:
        return [str(path) for path in extras(args.out, Path(work))]


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: print the step's result, one item a line; one line on stderr and exit 2 on failure."""
    args = _parser().parse_args(argv)
    try:
        lines = _run(args)
    except (PackagingError, BuildError, OSError) as error:
        print(f"package_fuzzers {args.command}: {error}", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
