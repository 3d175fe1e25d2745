"""s2n's own C coverage under libFuzzer: ``tlsdiff build --coverage`` and ``tlsdiff fuzz --coverage``.

Needs the coverage build (``tlsdiff build --profile openssl --coverage``; ci/test.sh makes it).
Every child here runs on the openssl profile, whichever profile the suite runs on: only it
has a coverage build.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from s2n_bridge._native import BridgeNotBuiltError
from s2n_bridge._profile import COVERAGE_ENV, PROFILES
from s2n_bridge.coverage import coverage_env, preload_path
from tlsdiff.fuzz_cli import project_root, run_fuzz

# One CI pass (the OpenSSL one): the engine's draws are the OpenSSL build's.
pytestmark = pytest.mark.openssl_engine

_OPENSSL = PROFILES["openssl"]
_TLSDIFF = [sys.executable, "-m", "tlsdiff.cli"]
_MUTATOR_MARK = "==counted mutator call=="
# The client_hello_parse target under atheris, its custom mutator counted (one line per call).
_COUNTING_SCRIPT = f"""
import os
import sys

import atheris

from tlsdiff.coverage_scope import INSTRUMENTED, NOT_INSTRUMENTED


with atheris.instrument_imports(include=INSTRUMENTED, exclude=NOT_INSTRUMENTED):
    from tlsdiff.targets import TARGETS

target = TARGETS["client_hello_parse"]
mutator = target.mutator


def counted(data, max_size, seed):
    os.write(2, b"{_MUTATOR_MARK}\\n")
    return mutator(data, max_size, seed)


atheris.Setup(sys.argv, target.check, custom_mutator=counted)
atheris.Fuzz()
"""
# s2n reads 64 bytes from a 4-byte bytes object the bridge hands it.
_OVERREAD = """
from s2n_bridge._native import native
ffi, lib = native()
lib.s2n_client_hello_parse_message(ffi.from_buffer(bytes([1, 0, 0, 40])), 64)
print("no report")
"""


@pytest.fixture(autouse=True)
def _openssl_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TLSDIFF_S2N_PROFILE", "openssl")
    monkeypatch.delenv(COVERAGE_ENV, raising=False)


def _plain_env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(project_root()))


def _coverage_env() -> dict[str, str]:
    return coverage_env(_plain_env(), _OPENSSL)


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600, check=False)


@pytest.mark.parametrize("target", ["client_hello_parse", "server_diff"])
def test_the_coverage_build_shows_libfuzzer_more_features_on_the_same_inputs(target: str, tmp_path: Path) -> None:
    # -runs=0: the seed corpus only, nothing mutated, so both runs execute exactly the same inputs.
    runs = {}
    for coverage in (False, True):
        work = tmp_path / f"corpus-{coverage}"
        work.mkdir()
        stats, code = run_fuzz(target, runs=0, seed=1, coverage=coverage, corpus=work,
                               findings=tmp_path / f"findings-{coverage}", quiet=True)  # fmt: skip
        assert code == 0
        runs[coverage] = stats
    plain, covered = runs[False], runs[True]
    assert plain.execs == covered.execs > 1
    assert covered.ft > plain.ft
    assert covered.cov > plain.cov


def test_corpus_merge_on_the_coverage_build_keeps_inputs_that_only_reach_new_s2n_code(tmp_path: Path) -> None:
    kept = {}
    for flags in ((), ("--coverage",)):
        into = tmp_path / f"into{len(flags)}"
        into.mkdir()
        seeds = str(project_root() / "corpus" / "client_hello_parse")
        command = [*_TLSDIFF, "corpus", "merge", "client_hello_parse", seeds, "--into", str(into), *flags]
        done = _run([*command, "--findings", str(tmp_path / "findings")], _plain_env())
        assert done.returncode == 0, done.stderr[-2000:]
        kept[bool(flags)] = len(list(into.iterdir()))
    assert kept[True] > kept[False] > 0


def _mutator_calls(env: dict[str, str], tmp_path: Path) -> int:
    script = tmp_path / "counting_target.py"
    script.write_text(_COUNTING_SCRIPT)
    env = dict(env, TLSDIFF_FINDINGS=str(tmp_path / "findings"), TLSDIFF_KEEP_GOING="1")
    done = _run([sys.executable, str(script), "-runs=40", "-seed=1", "-detect_leaks=0", "-max_len=4096"], env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Done 40 runs" in done.stderr
    return done.stderr.count(_MUTATOR_MARK)


def test_atheris_custom_mutator_is_called_without_a_preload(tmp_path: Path) -> None:
    assert _mutator_calls(_plain_env(), tmp_path) > 0


def test_atheris_custom_mutator_is_ignored_under_the_bare_asan_preload(tmp_path: Path) -> None:
    # What docs/fuzzing.md describes: libFuzzer, preloaded, never binds atheris's mutator.
    env = dict(_coverage_env(), LD_PRELOAD=str(preload_path(_OPENSSL.with_coverage(True))))
    assert _mutator_calls(env, tmp_path) == 0


def test_the_mutator_shim_keeps_the_custom_mutator_live_under_the_coverage_build(tmp_path: Path) -> None:
    assert _mutator_calls(_coverage_env(), tmp_path) > 0


def test_asan_reports_s2n_reading_past_the_bytes_the_bridge_hands_it() -> None:
    done = _run([sys.executable, "-c", _OVERREAD], _coverage_env())
    assert done.returncode != 0
    assert "no report" not in done.stdout
    assert "ERROR: AddressSanitizer: heap-buffer-overflow" in done.stderr
    assert "s2n_client_hello_parse_message" in done.stderr


def test_the_coverage_build_writes_the_plain_builds_bytes() -> None:
    command = [*_TLSDIFF, "pair", "--client", "engine", "--server", "s2n", "--json"]
    plain, covered = _run(command, _plain_env()), _run(command, _coverage_env())
    assert plain.returncode == covered.returncode == 0, covered.stderr[-2000:]
    assert json.loads(covered.stdout)["transcript_sha256"] == json.loads(plain.stdout)["transcript_sha256"]


def test_the_coverage_build_refuses_to_load_without_its_preload() -> None:
    done = _run([*_TLSDIFF, "pair", "--client", "s2n", "--server", "s2n"], dict(_plain_env(), **{COVERAGE_ENV: "1"}))
    assert done.returncode == 2
    assert done.stderr.startswith("tlsdiff pair: the coverage build loads only under its preload")
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_missing_coverage_build_names_the_command_that_makes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TLSDIFF_CACHE", str(tmp_path))
    with pytest.raises(BridgeNotBuiltError, match="run: tlsdiff build --profile openssl --coverage"):
        coverage_env(os.environ, _OPENSSL)


@pytest.mark.parametrize(
    ("args", "env", "code", "message"),
    [
        (("build", "--profile", "aws-lc", "--coverage"), {}, 1, "profile 'aws-lc' has no coverage build"),
        (("fuzz", "client_hello_parse", "--coverage", "--replay", "x.bin"), {}, 2, "--coverage is for fuzzing"),
        (("fuzz", "client_hello_parse", "--coverage", "--runs", "1"), {COVERAGE_ENV: "yes"}, 2, "use 1"),
    ],
)
def test_bad_coverage_input_gets_one_line_and_a_nonzero_exit(
    args: tuple[str, ...], env: dict[str, str], code: int, message: str
) -> None:
    done = _run([*_TLSDIFF, *args], dict(_plain_env(), **env))
    assert done.returncode == code
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
