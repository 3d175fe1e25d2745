"""The OSS-Fuzz / ClusterFuzzLite build, run outside Docker as far as it goes, then every packaged target.

The base-builder-python image cannot be pulled here, so the fixture plays its part: ``$SRC``
holding the checkout as ``$SRC/tlsdiff``, ``$OUT``, ``$WORK``, ``SANITIZER=address``,
atheris's ``asan_with_fuzzer.so`` copied to ``$OUT/sanitizer_with_fuzzer.so`` as the image's
``compile`` does, and ``tests/data/oss_fuzz/compile_python_fuzzer`` in the image's place: the
same PyInstaller call and wrapper script, but only ``ONEFILE_TARGET`` packed ``--onefile`` (the
others ``--onedir``: the same analysis and files, unpacked, which saves about half the time).
The steps themselves are the project's: ``oss-fuzz/build.sh`` -> ``ci/oss_fuzz_build.sh`` ->
``ci/package_fuzzers.py``, with ``TLSDIFF_PIP_INSTALL=0`` (the project is installed already).
The build runs once per test session, shared by the xdist workers.
"""

from __future__ import annotations

import configparser
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import atheris
import pytest

from tlsdiff.fuzz_cli import MAX_LEN, fuzz_targets_dir
from tlsdiff.fuzzing import replay

ROOT = Path(__file__).resolve().parent.parent
STAND_IN = ROOT / "tests" / "data" / "oss_fuzz" / "compile_python_fuzzer"
ONEFILE_TARGET = "client_hello_parse"  # the quickest to run; it calls into s2n too
SHARED_SCRIPT = '"$SRC/tlsdiff/ci/oss_fuzz_build.sh"'


@dataclass(frozen=True)
class Build:
    """What the build left: $OUT, its log and its exit status."""

    out: Path
    log: str
    returncode: int

    def require_success(self) -> None:
        assert self.returncode == 0, f"the build failed (exit {self.returncode}):\n{self.log[-4000:]}"


def _packaged_targets() -> tuple[str, ...]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "ci" / "package_fuzzers.py"), "targets"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    return tuple(done.stdout.split())


TARGETS = _packaged_targets()


def _run_build(place: Path) -> Build:
    src, out, work, tools = (place / name for name in ("src", "out", "work", "bin"))
    for folder in (src, out, work, tools):
        folder.mkdir()
    (src / "tlsdiff").symlink_to(ROOT)
    shutil.copy2(STAND_IN, tools / "compile_python_fuzzer")
    shutil.copy2(Path(atheris.path()) / "asan_with_fuzzer.so", out / "sanitizer_with_fuzzer.so")
    env = dict(os.environ, SRC=str(src), OUT=str(out), WORK=str(work), SANITIZER="address")
    env.update(FUZZING_LANGUAGE="python", TLSDIFF_PIP_INSTALL="0", TLSDIFF_TEST_ONEFILE=ONEFILE_TARGET)
    env["PATH"] = os.pathsep.join([str(tools), str(Path(sys.executable).parent), env.get("PATH", "")])
    done = subprocess.run(
        ["bash", str(ROOT / "oss-fuzz" / "build.sh")], env=env, cwd=place,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False, timeout=3600,
    )  # fmt: skip
    return Build(out, done.stdout, done.returncode)


def _shared_place(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    base = tmp_path_factory.getbasetemp()
    # Under xdist every worker's base folder sits in the session's own: one build serves them all.
    return (base if worker_id == "master" else base.parent) / "oss-fuzz-build"


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[Build]:
    place = _shared_place(tmp_path_factory, worker_id)
    place.mkdir(exist_ok=True)
    with (place / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record = place / "build.json"
        if not record.exists():
            built = _run_build(place)
            record.write_text(json.dumps({"log": built.log, "returncode": built.returncode}))
        saved = json.loads(record.read_text())
    yield Build(place / "out", saved["log"], saved["returncode"])


def _run_packaged(build: Build, name: str, *args: str, cwd: Path, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TLSDIFF_FINDINGS=str(cwd / "findings"), **extra_env)
    return subprocess.run(
        [str(build.out / name), *args], env=env, cwd=cwd,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False, timeout=600,
    )  # fmt: skip


# The packaged targets compare the engine with s2n's OpenSSL 3.0 build (the one bundled):
# openssl_engine keeps them out of the aws-lc pass, which would only build the same again.
@pytest.mark.slow
@pytest.mark.openssl_engine
def test_the_build_runs_every_step(build: Build) -> None:
    build.require_success()
    assert "pip install skipped (TLSDIFF_PIP_INSTALL=0)" in build.log
    assert "[oss_fuzz_build] tlsdiff build" in build.log
    assert ONEFILE_TARGET in TARGETS
    scripts = sorted(path.stem for path in fuzz_targets_dir().glob("[a-z]*.py"))
    for name in scripts:
        if name in TARGETS:
            assert f"[oss_fuzz_build] compile_python_fuzzer {name}\n" in build.log
        else:  # left out only with its reason said
            assert re.search(rf"\[package_fuzzers\] {name} is not packaged: \S", build.log), name


@pytest.mark.slow
@pytest.mark.openssl_engine
@pytest.mark.parametrize("name", TARGETS)
def test_each_target_has_its_wrapper_dictionary_and_options(build: Build, name: str) -> None:
    build.require_success()
    wrapper = build.out / name
    assert os.access(wrapper, os.X_OK)
    assert "LLVMFuzzerTestOneInput" in wrapper.read_text()  # how the fleet tells a target
    assert (build.out / f"{name}.pkg").exists()
    dictionary = ROOT / "corpus" / "dicts" / f"{name}.dict"
    assert (build.out / f"{name}.dict").read_bytes() == dictionary.read_bytes()
    options = configparser.ConfigParser()
    options.read(build.out / f"{name}.options")
    assert dict(options["libfuzzer"]) == {"max_len": str(MAX_LEN), "dict": f"{name}.dict"}


@pytest.mark.slow
@pytest.mark.openssl_engine
@pytest.mark.parametrize("name", TARGETS)
def test_seed_corpus_zip_leaves_out_only_seeds_that_are_findings(build: Build, name: str) -> None:
    build.require_success()
    seeds = {path.name: path.read_bytes() for path in (ROOT / "corpus" / name).iterdir() if path.is_file()}
    with zipfile.ZipFile(build.out / f"{name}_seed_corpus.zip") as archive:
        zipped = {member: archive.read(member) for member in archive.namelist()}
    assert zipped, "an empty seed corpus"
    assert all(seeds.get(member) == data for member, data in zipped.items())
    left_out = sorted(set(seeds) - set(zipped))
    results = replay(name, [ROOT / "corpus" / name / member for member in left_out])
    assert [signature is not None for _, signature in results] == [True] * len(left_out)
    for member in left_out:
        assert f"{name}: seed {member} left out of {name}_seed_corpus.zip: it is finding" in build.log


@pytest.mark.slow
@pytest.mark.openssl_engine
@pytest.mark.parametrize("name", TARGETS)
def test_packaged_target_runs_its_seed_corpus_bare(build: Build, name: str, tmp_path: Path) -> None:
    build.require_success()
    corpus = tmp_path / "corpus"
    with zipfile.ZipFile(build.out / f"{name}_seed_corpus.zip") as archive:
        archive.extractall(corpus)
    done = _run_packaged(build, name, "-runs=20", f"-max_len={MAX_LEN}", str(corpus), cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "INFO: Instrumenting engine." in done.stdout  # atheris instruments the frozen engine
    assert "INFO: Using preloaded libfuzzer" in done.stdout  # the wrapper's sanitizer_with_fuzzer.so
    assert re.search(r"^Done \d+ runs", done.stdout, re.MULTILINE), done.stdout[-3000:]


def _loaded(ld_debug: str, library: str) -> list[Path]:
    return [Path(path) for path in re.findall(rf"calling init: (\S*/{re.escape(library)})$", ld_debug, re.MULTILINE)]


@pytest.mark.slow
@pytest.mark.openssl_engine
def test_onefile_target_loads_the_s2n_build_it_carries(build: Build, tmp_path: Path) -> None:
    build.require_success()
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    (tmp_path / "input").write_bytes(next(path for path in (ROOT / "corpus" / ONEFILE_TARGET).iterdir()).read_bytes())
    # TLSDIFF_CACHE and HOME lead nowhere: the runtime hook must point the bridge into the bundle.
    done = _run_packaged(
        build, ONEFILE_TARGET, str(tmp_path / "input"), cwd=tmp_path,
        TLSDIFF_CACHE=str(empty), HOME=str(empty), LD_DEBUG="libs",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
    extensions = _loaded(done.stdout, "_s2n_openssl.cpython-311-x86_64-linux-gnu.so")
    libraries = _loaded(done.stdout, "libs2n.so.1")
    assert extensions and libraries, done.stdout[-3000:]
    bundle = libraries[0].parent  # onefile: extracted to a _MEI folder of its own
    assert bundle.name.startswith("_MEI")
    assert extensions[0].is_relative_to(bundle / "tlsdiff-cache")
    assert _loaded(done.stdout, "libcrypto.so.3")[0].parent == bundle


def test_both_build_scripts_run_the_one_shared_script() -> None:
    for folder in ("oss-fuzz", ".clusterfuzzlite"):
        script = ROOT / folder / "build.sh"
        assert os.access(script, os.X_OK)
        commands = [line for line in script.read_text().splitlines() if line and not line.startswith("#")]
        assert commands == [f"exec {SHARED_SCRIPT}"], folder
        dockerfile = (ROOT / folder / "Dockerfile").read_text()
        assert re.search(r"^FROM gcr\.io/oss-fuzz-base/base-builder-python\S*$", dockerfile, re.MULTILINE)
        assert re.search(r"apt-get install .*\bcmake\b.*\blibssl-dev\b", dockerfile)
        project = (ROOT / folder / "project.yaml").read_text()
        assert re.search(r"^language: python$", project, re.MULTILINE)


def test_oss_fuzz_project_runs_libfuzzer_with_sanitizers() -> None:
    project = (ROOT / "oss-fuzz" / "project.yaml").read_text()
    assert re.search(r"^fuzzing_engines:\n  - libfuzzer$", project, re.MULTILINE)
    assert re.search(r"^sanitizers:\n  - address\n", project, re.MULTILINE)
    assert re.search(r"^main_repo: ", project, re.MULTILINE)


@pytest.mark.parametrize(
    ("workflow", "trigger", "modes"),
    [
        ("cflite_pr.yml", "pull_request:", ["code-change"]),
        ("cflite_batch.yml", "schedule:", ["batch"]),
        ("cflite_cron.yml", "schedule:", ["prune", "coverage"]),
    ],
)
def test_clusterfuzzlite_workflows(workflow: str, trigger: str, modes: list[str]) -> None:
    text = (ROOT / ".github" / "workflows" / workflow).read_text()
    assert re.search(rf"^on:\n  {trigger}", text, re.MULTILINE)
    assert re.findall(r"^\s+mode: '([a-z-]+)'$", text, re.MULTILINE) == modes
    builds = re.findall(r"uses: google/clusterfuzzlite/actions/build_fuzzers@v1\n\s+with:\n\s+language: (\S+)", text)
    assert builds and set(builds) == {"python"}
    assert text.count("google/clusterfuzzlite/actions/run_fuzzers@v1") == len(modes)


def test_package_fuzzers_refuses_a_missing_out_directory(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "ci" / "package_fuzzers.py"), "extras", "--out", str(tmp_path / "absent")],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 2
    expected = f"package_fuzzers extras: --out {tmp_path / 'absent'} is not a directory"
    assert done.stderr.strip().splitlines() == [expected]
