"""A key-log sink that appends NSS key-log lines to a file (what Wireshark reads), and SSLKEYLOGFILE.

The engine hands its ``key_log`` sink one NSS line per secret, without a line end
(``CLIENT_HANDSHAKE_TRAFFIC_SECRET <client random hex> <secret hex>``; see
``engine.handshake.context``). ``KeyLogFile`` adds the newline and writes each line
with one ``write`` on a file opened for appending, so lines from several connections
(threads or processes) sharing one file never interleave.

    with KeyLogFile("keys.log") as key_log:
        connection = TLSConnection(config, client=True, server_name="example.com", key_log=key_log)

The file holds secrets: it is created readable by its owner only (0600), and nothing
else in the engine writes a secret anywhere.
"""

from __future__ import annotations

import os
import threading
from types import TracebackType

from engine.errors import ConfigurationError

__all__ = ["KEY_LOG_ENVIRONMENT_VARIABLE", "KeyLogFile", "key_log_from_env"]

KEY_LOG_ENVIRONMENT_VARIABLE = "SSLKEYLOGFILE"
"""The variable NSS, OpenSSL-based tools, curl and browsers read the key-log path from."""

_OPEN_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)


class KeyLogFile:
    """A ``KeyLogSink`` (a callable taking one NSS line as bytes) appending to the file at ``path``.

    The file is created with mode 0600 if it does not exist, and appended to if it does.
    Each call writes the line and its ``\\n`` at once (unbuffered: nothing waits in memory).
    A ``KeyLogFile`` is shared, not copied, when a connection is copied.

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "keys.log"
    >>> with KeyLogFile(path) as key_log:
    ...     key_log(b"CLIENT_TRAFFIC_SECRET_0 " + b"ab" * 32 + b" " + b"cd" * 32)
    >>> path.read_bytes().count(b"\\n")
    1
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Open (create, 0600) ``path`` for appending; a ``ConfigurationError`` naming it if that fails."""
        self.path = os.fspath(path)
        try:
            self._fd: int | None = os.open(self.path, _OPEN_FLAGS, 0o600)
        except OSError as error:
            raise ConfigurationError(f"{self.path}: cannot open the key log: {error.strerror or error}") from None
        self._lock = threading.Lock()

    def __call__(self, line: bytes) -> None:
        """Append one NSS key-log line (a line end is added; one already there is not doubled)."""
        record = line if line.endswith(b"\n") else line + b"\n"
        with self._lock:
            if self._fd is None:
                raise ValueError(f"{self.path}: the key log is closed")
            view = memoryview(record)
            while view:  # a regular file takes it all at once; a pipe may not
                view = view[os.write(self._fd, view) :]

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._fd is None

    def close(self) -> None:
        """Close the file (a second call does nothing)."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> KeyLogFile:
        """The key log itself; ``close()`` on exit."""
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        """Close the file."""
        self.close()

    def __deepcopy__(self, memo: dict[int, object]) -> KeyLogFile:
        # A copied connection logs to the same file (a file descriptor and a lock cannot be copied).
        return self

    def __repr__(self) -> str:
        """``KeyLogFile('/path/keys.log')``, never any content."""
        return f"KeyLogFile({self.path!r})"


def key_log_from_env() -> KeyLogFile | None:
    """A ``KeyLogFile`` for the path in ``SSLKEYLOGFILE``, or None when it is unset or empty.

    Each call opens the file anew (the caller closes it); a path that cannot be opened is
    a ``ConfigurationError``, not a silently missing log.
    """
    path = os.environ.get(KEY_LOG_ENVIRONMENT_VARIABLE, "")
    return KeyLogFile(path) if path else None
