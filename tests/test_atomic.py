"""Atomic writes: complete or absent, never half-written, one winner among racers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from tlsdiff.atomic import write_atomic, write_directory_atomic

_FILES = {"input.bin": b"\x00\x01" * 5000, "signature.txt": b"verdict/server/ClientHello\n", "empty": b""}


def test_write_atomic_writes_and_replaces_without_leftovers(tmp_path: Path) -> None:
    target = tmp_path / "index.json"
    write_atomic(target, b"first")
    write_atomic(target, b"second, longer")
    assert target.read_bytes() == b"second, longer"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["index.json"]


def test_write_atomic_honours_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        write_atomic(tmp_path / "f", b"x")
    finally:
        os.umask(previous)
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o640


def test_write_atomic_cleans_up_when_the_rename_fails(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "inside").write_bytes(b"")
    with pytest.raises(OSError):
        write_atomic(tmp_path / "taken", b"x")  # a file cannot replace a directory
    assert sorted(path.name for path in tmp_path.iterdir()) == ["taken"]


def test_write_directory_atomic_creates_the_whole_directory(tmp_path: Path) -> None:
    final = tmp_path / "findings" / "verdict-0123"
    assert write_directory_atomic(final, _FILES)
    assert {path.name: path.read_bytes() for path in final.iterdir()} == _FILES
    assert [path.name for path in final.parent.iterdir()] == ["verdict-0123"]


def test_write_directory_atomic_refuses_an_existing_directory(tmp_path: Path) -> None:
    final = tmp_path / "finding"
    assert write_directory_atomic(final, {"a": b"first"})
    assert not write_directory_atomic(final, {"a": b"second", "b": b"more"})
    assert {path.name: path.read_bytes() for path in final.iterdir()} == {"a": b"first"}
    (tmp_path / "a-file").write_bytes(b"")
    assert not write_directory_atomic(tmp_path / "a-file", {"a": b""})
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a-file", "finding"]


def test_write_directory_atomic_refuses_bad_names(tmp_path: Path) -> None:
    for name in ("", ".", "..", "sub/file", "../escape"):
        with pytest.raises(ValueError, match="plain file name"):
            write_directory_atomic(tmp_path / "d", {name: b""})
    with pytest.raises(ValueError, match="at least one file"):
        write_directory_atomic(tmp_path / "d", {})
    assert list(tmp_path.iterdir()) == []


def test_exactly_one_of_racing_writers_wins(tmp_path: Path) -> None:
    final = tmp_path / "finding"
    barrier = threading.Barrier(8)
    outcomes: dict[int, bool] = {}

    def write(index: int) -> None:
        barrier.wait()
        # The existence check races too: several reach the rename, which must decide.
        outcomes[index] = write_directory_atomic(final, {"writer": str(index).encode(), "data": b"x" * 100_000})

    threads = [threading.Thread(target=write, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [index for index, won in outcomes.items() if won]
    assert len(winners) == 1
    assert (final / "writer").read_bytes() == str(winners[0]).encode()
    assert (final / "data").read_bytes() == b"x" * 100_000
    assert [path.name for path in tmp_path.iterdir()] == ["finding"]


def test_directory_is_complete_when_the_writer_is_killed_right_after(tmp_path: Path) -> None:
    final = tmp_path / "findings" / "killed"
    script = textwrap.dedent(
        """
        import os, signal, sys
        from pathlib import Path
        from tlsdiff.atomic import write_directory_atomic
        files = {f"part{index}": bytes([index]) * 65536 for index in range(16)}
        assert write_directory_atomic(Path(sys.argv[1]), files)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    completed = subprocess.run([sys.executable, "-c", script, str(final)], capture_output=True, check=False)
    assert completed.returncode == -signal.SIGKILL, completed.stderr
    assert {path.name: path.read_bytes() for path in final.iterdir()} == {
        f"part{index}": bytes([index]) * 65536 for index in range(16)
    }
    assert [path.name for path in final.parent.iterdir()] == ["killed"]
