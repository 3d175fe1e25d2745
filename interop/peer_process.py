"""A peer's process for one cell: started, fed, watched and always killed.

    with PeerProcess(launch, cell.conversation) as peer:
        peer.wait_listening(port, deadline)      # a command-line server peer
        ...                                      # the engine side runs its conversation
        report = peer.finish(deadline)           # a PeerReport, for every kind of peer

A command-line peer's application data crosses its stdin and stdout: a thread reads what
the engine sent from stdout (hashing it), then writes the peer's answer to stdin and, when
the peer closes first, closes stdin (``openssl`` and ``gnutls-cli`` then send close_notify).
Its report is read from its exit status and stderr. A server is ready once the process
itself holds a socket in LISTEN state on its port (``/proc/net/tcp`` and ``/proc/PID/fd``,
so Linux only): a probe connection would be taken for the cell's own by
``openssl s_server -naccept 1``, and a port another process took first is not mistaken
for the peer's (the peer fails to bind it and the cell starts it again on another).
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from contextlib import suppress
from pathlib import Path
from types import TracebackType
from typing import IO

from interop.cells import Conversation
from interop.peer_protocol import PeerReport, alert_name, payload, sha256_hex
from interop.peers import Launch

__all__ = ["PeerProcess", "PeerStartError"]

_LISTEN = "0A"
_POLL = 0.01
_STDERR_TAIL = 2000
# The alert a command-line peer says it received: OpenSSL's "SSL alert number 40", GnuTLS's "Received alert [40]".
_RECEIVED_ALERT = re.compile(r"SSL alert number (\d+)|Received alert \[(\d+)\]")
_GNUTLS_CLOSED = "Peer has closed the GnuTLS connection"


class PeerStartError(Exception):
    """The peer exited, or never listened, before the engine could reach it."""


def _listening_inodes(port: int) -> set[str]:
    """The inodes of the sockets in LISTEN state on ``port`` (IPv4 and IPv6)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == _LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _listens(pid: int, port: int) -> bool:
    """Whether process ``pid`` itself holds a socket listening on ``port`` (not some other process)."""
    inodes = _listening_inodes(port)
    if not inodes:
        return False
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        links = {os.readlink(fd_dir / name) for name in os.listdir(fd_dir)}
    except OSError:
        return False
    return any(f"socket:[{inode}]" in links for inode in inodes)


class PeerProcess:
    """One peer process (see the module docstring); use it with ``with``."""

    def __init__(self, launch: Launch, conversation: Conversation) -> None:
        self.launch = launch
        self.conversation = conversation
        self._process: subprocess.Popen[bytes] | None = None
        self._threads: list[threading.Thread] = []
        self._stdout = bytearray()  # a Python peer's report, or gnutls-serv's messages
        self._stderr = bytearray()
        self._received = bytearray()
        self._plumbing_error: str | None = None

    def __enter__(self) -> PeerProcess:
        """Start the process (writing its configuration file first) and the threads that serve its pipes."""
        launch = self.launch
        if launch.env_file is not None:
            path, text = launch.env_file
            path.write_text(text)
        self._process = subprocess.Popen(
            launch.argv,
            stdin=subprocess.PIPE if launch.stdio and not launch.echo else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=launch.pass_fds,
            env={**os.environ, **launch.env},
        )
        self._start(self._collect, self._process.stderr, self._stderr)
        if launch.stdio and not launch.echo:
            self._start(self._converse, self._process.stdout, self._process.stdin)
        else:
            self._start(self._collect, self._process.stdout, self._stdout)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        """Kill the process if it still runs, and close its pipes."""
        self._stop()

    def _start(self, target: object, *arguments: object) -> None:
        thread = threading.Thread(target=target, args=arguments, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self._threads.append(thread)

    @staticmethod
    def _collect(stream: IO[bytes] | None, into: bytearray) -> None:
        if stream is not None:
            while chunk := stream.read1(65536):  # type: ignore[attr-defined]
                into += chunk

    def _converse(self, stdout: IO[bytes] | None, stdin: IO[bytes] | None) -> None:
        """What the engine sent arrives on stdout; then the answer goes in on stdin."""
        if stdout is None or stdin is None:
            return
        try:
            while len(self._received) < self.conversation.to_peer and (chunk := stdout.read1(65536)):  # type: ignore[attr-defined]
                self._received += chunk
            stdin.write(payload("peer->engine", self.conversation.to_engine))
            stdin.flush()
            if self.conversation.close_first == "peer":
                stdin.close()
            self._collect(stdout, self._received)
        except OSError as error:  # the peer exited (a refused handshake): its stderr says why
            self._plumbing_error = f"{type(error).__name__}: {error}"

    def wait_listening(self, port: int, deadline: float) -> None:
        """Return once a server peer listens on ``port``; PeerStartError if it exits or the deadline passes."""
        process = self._require()
        while not _listens(process.pid, port):
            if process.poll() is not None or time.monotonic() > deadline:
                state = f"exited with {process.returncode}" if process.returncode is not None else "is not listening"
                raise PeerStartError(f"{self.launch.argv[0]} {state}: {self._stderr_tail()}")
            time.sleep(_POLL)

    def exited(self) -> bool:
        """Whether the process has ended (a server that could not bind its port, for one)."""
        return self._process is not None and self._process.poll() is not None

    def _require(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise PeerStartError("the peer was not started")
        return self._process

    def finish(self, deadline: float) -> PeerReport:
        """Wait for the peer to end (a server that never ends, ``gnutls-serv``, is stopped) and report."""
        process = self._require()
        if self.launch.echo:
            process.terminate()
        try:
            process.wait(max(deadline - time.monotonic(), 0.05))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            self._plumbing_error = self._plumbing_error or "the peer did not finish in time (killed)"
        for thread in self._threads:
            thread.join(1.0)
        if self.launch.python_report:
            return self._python_report(process.returncode)
        return self._command_report(process.returncode)

    def _python_report(self, returncode: int) -> PeerReport:
        lines = bytes(self._stdout).decode(errors="replace").strip().splitlines()
        try:
            return PeerReport.from_json(lines[-1])
        except (IndexError, ValueError, TypeError):
            tail = self._stderr_tail()
            return PeerReport(error=self._plumbing_error or f"no report (exit {returncode}): {tail}")

    def _command_report(self, returncode: int) -> PeerReport:
        stderr = bytes(self._stderr).decode(errors="replace")
        match = _RECEIVED_ALERT.search(stderr)
        alert = alert_name(int(match.group(1) or match.group(2))) if match else None
        received = bytes(self._received)
        closed = _GNUTLS_CLOSED in stderr if "gnutls" in self.launch.argv[0] else returncode == 0
        # An echo server runs until it is stopped: its exit status says nothing.
        failed = (returncode != 0 and not self.launch.echo) or self._plumbing_error is not None
        return PeerReport(
            handshake=returncode == 0 or bool(received), received=len(received), received_sha256=sha256_hex(received),
            close_notify_received=closed and "unexpected eof" not in stderr, alert=alert, stage="done",
            error=f"exit {returncode} {self._plumbing_error or ''}: {self._stderr_tail()}" if failed else None,
        )  # fmt: skip

    def _stderr_tail(self) -> str:
        text = bytes(self._stderr).decode(errors="replace").strip()
        return " | ".join(text[-_STDERR_TAIL:].splitlines()[-6:])

    def _stop(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        for thread in self._threads:
            thread.join(1.0)  # their pipes end with the process
        if process is not None:
            for stream in (process.stdin, process.stdout, process.stderr):
                if stream is not None:
                    with suppress(OSError):  # stdin's buffer cannot be flushed to a peer that is gone
                        stream.close()
