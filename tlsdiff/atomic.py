"""Crash-safe writes: a file or a whole directory appears complete or not at all.

The fuzzers write findings with these helpers, so a finding survives even if the
worker is SIGKILLed (or the machine loses power) right after the call returns, and
a reader never sees a half-written file. Both follow the usual POSIX recipe: write
under a temporary name in the same directory (a rename is only atomic within one
file system), fsync the data, rename it into place, then fsync the directory that
holds the new name (the rename itself is directory metadata).

Temporary names start with a dot and end in ``.tmp``; one left behind by a killed
process is never mistaken for a finding, and is safe to delete.

Example::

    write_atomic(Path("findings/index.json"), b"{}")
    if not write_directory_atomic(Path("findings/verdict-abc123"), {"input.bin": data}):
        pass  # another worker already recorded this signature
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path

__all__ = ["fsync_path", "write_atomic", "write_directory_atomic"]

# errno values rename(2) gives when the destination directory already exists
# (ENOTEMPTY on Linux, EEXIST elsewhere) or is an existing file (ENOTDIR).
_EXISTS_ERRNOS = frozenset({errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR})
_NAME_ATTEMPTS = 16


def _temporary_sibling(path: Path) -> Path:
    """A fresh name next to ``path``: hidden, unique per process and call."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")


def fsync_path(path: Path) -> None:
    """Make ``path`` durable: a file's contents, or a directory's entries (new names, renames)."""
    descriptor = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0))
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_new_file(path: Path, data: bytes) -> None:
    """Create ``path`` (it must not exist), write ``data`` and fsync it."""
    # Mode 0o666 so the umask applies as for open(); O_EXCL never clobbers a file.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())


def _ensure_directory(directory: Path) -> None:
    """Create ``directory`` and missing parents, each made durable in its parent."""
    if directory.is_dir():
        return
    _ensure_directory(directory.parent)
    try:
        directory.mkdir()
    except FileExistsError:
        if not directory.is_dir():
            raise
        return  # a concurrent worker created it; it fsyncs its parent itself
    fsync_path(directory.parent)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` by a file holding ``data``, atomically and durably.

    Readers see either the old file or the complete new one. The parent directory
    must exist. On an error the temporary file is removed and the error propagates.
    """
    for _ in range(_NAME_ATTEMPTS):
        temporary = _temporary_sibling(path)
        try:
            _write_new_file(temporary, data)
            break
        except FileExistsError:
            continue
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    else:
        raise FileExistsError(errno.EEXIST, "no free temporary name", str(path))
    try:
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_path(path.parent)


def _check_file_name(name: str) -> None:
    """Only plain names: the directory is flat, and nothing may escape it."""
    if not name or name in {".", ".."} or "/" in name or "\0" in name or (os.altsep and os.altsep in name):
        raise ValueError(f"not a plain file name: {name!r}")


def _build_directory(files: Mapping[str, bytes], final_dir: Path) -> Path:
    """Write every file into a new temporary sibling of ``final_dir``; return its path."""
    for _ in range(_NAME_ATTEMPTS):
        temporary = _temporary_sibling(final_dir)
        try:
            temporary.mkdir()
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(errno.EEXIST, "no free temporary name", str(final_dir))
    try:
        for name, data in files.items():
            _write_new_file(temporary / name, data)
        fsync_path(temporary)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return temporary


def write_directory_atomic(final_dir: Path, files: Mapping[str, bytes]) -> bool:
    """Create ``final_dir`` holding exactly ``files`` (name to content), atomically.

    Returns True when this call created the directory, False (and writes nothing)
    when ``final_dir`` already exists: of several workers racing to record the same
    finding, exactly one gets True. Missing parent directories are created. The
    directory is built under a temporary name, every file and the directory are
    fsynced, then it is renamed into place and the parent is fsynced, so once this
    returns True the directory is complete on disk.

    Raises ValueError for a name that is not a plain file name (no ``/``, not
    ``.`` or ``..``); an empty ``files`` is refused too, because an empty directory
    could be replaced by a later rename and would not record anything.

    Example::

        created = write_directory_atomic(Path("findings/sig"), {"input.bin": b"..."})
    """
    if not files:
        raise ValueError("a directory written atomically must hold at least one file")
    for name in files:
        _check_file_name(name)
    if os.path.lexists(final_dir):
        return False
    _ensure_directory(final_dir.parent)
    temporary = _build_directory(files, final_dir)
    try:
        # rename(2) fails when the target is a non-empty directory: that failure is
        # the lock that lets exactly one of several concurrent writers win.
        os.rename(temporary, final_dir)
    except OSError as error:
        shutil.rmtree(temporary, ignore_errors=True)
        if error.errno in _EXISTS_ERRNOS:
            return False
        raise
    fsync_path(final_dir.parent)
    return True
