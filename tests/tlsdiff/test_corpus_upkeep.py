"""``tlsdiff corpus minimize`` and ``merge``: a small covering set, replaced in one step; findings kept."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tlsdiff.fuzz_cli import fuzz_targets_dir, project_root
from tlsdiff.fuzz_scenario import Mutation, Scenario, Stage

_TLSDIFF = [sys.executable, "-m", "tlsdiff.cli"]
_SEEDS = project_root() / "corpus" / "client_hello_parse"
_INITED = re.compile(r"INITED cov: (\d+) ft: (\d+)")
# A bit flipped in the client's protected Finished: s2n answers close_notify, the RFC engine bad_record_mac.
_ALERT_INPUT = Scenario(seed=10, mutations=(Mutation(Stage.WIRE, flight=1, target=1, op=1, value=40),)).encode()


def _tlsdiff(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_TLSDIFF, *args], capture_output=True, text=True, timeout=600, env=env, check=False)


def _padded_corpus(folder: Path) -> set[bytes]:
    """The checked-in seeds, each of the first ten twice more under other names; returns the distinct inputs."""
    shutil.copytree(_SEEDS, folder)
    seeds = sorted(folder.iterdir())
    for path in seeds[:10]:
        shutil.copy(path, folder / f"copy-{path.name}")
        shutil.copy(path, folder / f"again-{path.name}")
    return {path.read_bytes() for path in seeds}


def _coverage(folder: Path, tmp_path: Path) -> tuple[int, int]:
    """(cov, ft) libFuzzer reports after running every input of ``folder`` once."""
    env = dict(os.environ, TLSDIFF_KEEP_GOING="1", TLSDIFF_FINDINGS=str(tmp_path / "coverage-findings"))
    env["PYTHONPATH"] = str(project_root())
    done = subprocess.run([sys.executable, str(fuzz_targets_dir() / "client_hello_parse.py"), "-runs=0", str(folder)],
                          capture_output=True, text=True, timeout=300, check=False, env=env)  # fmt: skip
    match = _INITED.search(done.stderr)
    assert match is not None, done.stderr[-2000:]
    return int(match[1]), int(match[2])


def test_minimize_shrinks_a_padded_folder_in_place_to_inputs_that_still_run(tmp_path: Path) -> None:
    folder = tmp_path / "client_hello_parse"
    distinct = _padded_corpus(folder)
    padded = tmp_path / "padded"
    shutil.copytree(folder, padded)
    before = len(list(folder.iterdir()))
    done = _tlsdiff("corpus", "minimize", "client_hello_parse", str(folder), "--findings", str(tmp_path / "found"))
    assert done.returncode == 0, done.stderr
    kept = sorted(folder.iterdir())
    assert done.stdout.strip() == f"client_hello_parse: {folder} {before} -> {len(kept)} inputs (-set_cover_merge=1)"
    contents = [path.read_bytes() for path in kept]
    assert 0 < len(kept) < len(distinct) and len(set(contents)) == len(contents) and set(contents) <= distinct
    assert sorted(path.name for path in tmp_path.iterdir()) == ["client_hello_parse", "found", "padded"]
    assert _coverage(folder, tmp_path) == _coverage(padded, tmp_path)
    replayed = _tlsdiff("fuzz", "client_hello_parse", "--replay", *map(str, kept))
    assert replayed.returncode == 0, replayed.stderr
    assert len(replayed.stdout.strip().splitlines()) == len(kept)


def test_minimize_into_writes_a_new_folder_and_leaves_the_source(tmp_path: Path) -> None:
    folder, into = tmp_path / "source", tmp_path / "small"
    _padded_corpus(folder)
    names = sorted(path.name for path in folder.iterdir())
    done = _tlsdiff("corpus", "minimize", "client_hello_parse", str(folder), "--into", str(into),
                    "--findings", str(tmp_path / "found"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(path.name for path in folder.iterdir()) == names
    assert 0 < len(list(into.iterdir())) < len(names)
    again = _tlsdiff("corpus", "minimize", "client_hello_parse", str(folder), "--into", str(into))
    assert again.returncode == 2 and "is not an empty directory" in again.stderr


def test_an_interrupted_minimize_leaves_the_folder_as_it_was(tmp_path: Path) -> None:
    folder = tmp_path / "client_hello_parse"
    _padded_corpus(folder)
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    child = subprocess.Popen([*_TLSDIFF, "corpus", "minimize", "client_hello_parse", str(folder),
                              "--findings", str(tmp_path / "found")], start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".client_hello_parse.*.tmp")) and child.poll() is None:
        assert time.monotonic() < deadline, "no fresh folder appeared"
        time.sleep(0.01)
    os.killpg(child.pid, signal.SIGKILL)  # while libFuzzer starts on the fresh folder
    child.wait()
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("corpus", "minimize", "client_hello_parse", "/nonexistent/folder"), "not a directory"),
        (("corpus", "minimize", "no_such_target"), "unknown target"),
        (("corpus", "minimize", "client_hello_parse", "a", "b"), "one directory at most"),
    ],
)
def test_bad_minimize_input_gets_one_line_and_a_nonzero_exit(args: tuple[str, ...], message: str) -> None:
    done = _tlsdiff(*args)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.openssl_engine
def test_merge_keeps_an_input_that_makes_a_finding_and_saves_the_finding(tmp_path: Path) -> None:
    source, into, found = tmp_path / "source", tmp_path / "into", tmp_path / "found"
    source.mkdir()
    (source / "alert").write_bytes(_ALERT_INPUT)
    env = dict(os.environ, TLSDIFF_TARGET_COMPAT="rfc")
    done = _tlsdiff("corpus", "merge", "server_diff", str(source), "--into", str(into), "--findings", str(found),
                    env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [path.read_bytes() for path in into.iterdir()] == [_ALERT_INPUT]
    assert [path.name for path in found.glob("Divergence_alert_server_flight1_*")]
