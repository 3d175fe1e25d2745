"""The cross-build target's workers: one long-lived process per s2n build, restarted when it dies.

``WorkerPool.run(request)`` sends one scenario to every worker at once (they run in
parallel) and collects each worker's answer, a trace payload or a ``WorkerDeath``:

- a worker that is gone between inputs (killed from outside) is restarted before the
  next input is sent, and nothing is blamed on any input;
- a worker that dies while it runs an input (a signal, an exit, a closed pipe) is
  restarted and given the same input once more: dying twice is the input's doing, and
  the death is the answer (the target turns it into a crash finding);
- a worker that does not answer within ``timeout`` seconds is killed (SIGKILL) and the
  death is the answer at once (``how="timeout"``), below libFuzzer's own timeout.

A worker that cannot start (its build is missing, or it exits before its hello) raises
``CrossBuildUnavailableError``, with the one line its build gave.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from s2n_bridge._profile import COVERAGE_ENV
from tlsdiff.cross_protocol import LENGTH_SIZE, encode_frame, frame_length

__all__ = [
    "PROFILES",
    "START_TIMEOUT",
    "WORKER_COMMAND",
    "CrossBuildUnavailableError",
    "WorkerDeath",
    "WorkerPool",
]

PROFILES = ("openssl", "aws-lc")  # compared left to right
WORKER_COMMAND = (sys.executable, "-m", "tlsdiff.cross_worker")
START_TIMEOUT = 300.0  # importing the engine and s2n on a loaded 2-core machine: seconds, not minutes
_REQUEST_TIMEOUT = 20.0  # one handshake takes milliseconds; libFuzzer's -timeout under ``tlsdiff fuzz`` is 30 s
_REAP_TIMEOUT = 5.0
_CHUNK = 1 << 16


class CrossBuildUnavailableError(OSError):
    """A build's worker cannot start (a missing build says which ``tlsdiff build`` to run)."""


@dataclass(frozen=True)
class WorkerDeath:
    """A worker that ended while it ran an input: ``how`` is a signal name, ``exit-N`` or ``timeout``."""

    profile: str
    how: str


class _TimeoutError(Exception):
    """No whole frame before the deadline."""


def _read_exactly(fd: int, size: int, deadline: float) -> bytes | None:
    """``size`` bytes from ``fd``, None if the stream ends first; ``_TimeoutError`` past ``deadline``."""
    chunks: list[bytes] = []
    missing = size
    while missing:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise _TimeoutError
        chunk = os.read(fd, min(missing, _CHUNK))
        if not chunk:
            return None
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def _read_frame(fd: int, deadline: float) -> bytes | None:
    size = frame_length(_read_exactly(fd, LENGTH_SIZE, deadline))
    return None if size is None else _read_exactly(fd, size, deadline)


def _how(returncode: int | None) -> str:
    if returncode is None:
        return "closed-pipe"
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"signal-{-returncode}"
    return f"exit-{returncode}"


class _Worker:
    """One build's process and its pipes."""

    def __init__(self, profile: str, command: Sequence[str], timeout: float) -> None:
        self.profile = profile
        self._command = tuple(command)
        self._timeout = timeout
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The running worker's process id (None before it starts)."""
        return self._process.pid if self._process is not None else None

    def ensure_running(self) -> subprocess.Popen[bytes]:
        """The worker, started (or restarted, if it is gone) and past its hello."""
        process = self._process
        if process is not None and process.poll() is None:
            return process
        root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ, TLSDIFF_S2N_PROFILE=self.profile)
        # The workers run the plain builds: a coverage run's build and preload are the fuzzing process's only.
        for name in (COVERAGE_ENV, "LD_PRELOAD"):
            env.pop(name, None)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, (root, env.get("PYTHONPATH"))))
        process = subprocess.Popen(self._command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self._process = process
        self._hello(process)
        return process

    def _hello(self, process: subprocess.Popen[bytes]) -> None:
        if process.stdout is None:
            raise CrossBuildUnavailableError(f"the {self.profile} worker has no stdout")
        try:
            hello = _read_frame(process.stdout.fileno(), time.monotonic() + START_TIMEOUT)
        except _TimeoutError:
            hello = None
        document = json.loads(hello) if hello else {"error": f"exited before it was ready ({self._end()})"}
        if "error" in document:
            self._end()
            raise CrossBuildUnavailableError(f"the {self.profile} build: {document['error']}")

    def send(self, request: bytes) -> WorkerDeath | None:
        """Hand ``request`` to the worker; a death if its pipe is already closed."""
        process = self.ensure_running()
        try:
            if process.stdin is None:
                raise BrokenPipeError
            process.stdin.write(encode_frame(request))
            process.stdin.flush()
        except BrokenPipeError:
            return WorkerDeath(self.profile, self._end())
        return None

    def receive(self) -> bytes | WorkerDeath:
        """The worker's answer to what it was sent, or how it died."""
        process = self._process
        if process is None or process.stdout is None:
            return WorkerDeath(self.profile, "closed-pipe")
        try:
            answer = _read_frame(process.stdout.fileno(), time.monotonic() + self._timeout)
        except _TimeoutError:
            self._end(kill=True)
            return WorkerDeath(self.profile, "timeout")
        return answer if answer is not None else WorkerDeath(self.profile, self._end())

    def ask(self, request: bytes) -> bytes | WorkerDeath:
        """``send`` then ``receive``."""
        return self.send(request) or self.receive()

    def _end(self, *, kill: bool = False) -> str:
        """Reap the worker (killing it first if asked); how it ended."""
        process, self._process = self._process, None
        if process is None:
            return "closed-pipe"
        if kill:
            process.kill()
        for stream in (process.stdin, process.stdout):
            # A flush that failed on a broken pipe leaves its bytes buffered and close flushes
            # them again: that second BrokenPipeError tells only what the caller already knows.
            if stream is not None:
                with contextlib.suppress(BrokenPipeError):
                    stream.close()
        try:
            returncode: int | None = process.wait(_REAP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            returncode = process.wait()
        return _how(returncode)

    def close(self) -> None:
        """End the worker: the end of its stdin tells it to exit."""
        self._end()


class WorkerPool:
    """One worker per profile, started on first use."""

    def __init__(
        self,
        profiles: Sequence[str] = PROFILES,
        *,
        command: Sequence[str] = WORKER_COMMAND,
        timeout: float = _REQUEST_TIMEOUT,
    ) -> None:
        self.workers = {profile: _Worker(profile, command, timeout) for profile in profiles}

    def start(self) -> None:
        """Start every worker now (``CrossBuildUnavailableError`` names a build that cannot start)."""
        for worker in self.workers.values():
            worker.ensure_running()

    def run_async(self, request: bytes) -> Callable[[], dict[str, bytes | WorkerDeath]]:
        """Send ``request`` to every worker; the returned function waits for their answers, by profile.

        Call it exactly once, even when something else failed meanwhile: an answer left unread
        would be taken for the next request's.
        """
        self.start()  # every worker up before any is sent anything: a missing build leaves nothing pending
        sent = {profile: worker.send(request) for profile, worker in self.workers.items()}

        def answers() -> dict[str, bytes | WorkerDeath]:
            received = {profile: sent[profile] or worker.receive() for profile, worker in self.workers.items()}
            for profile, answer in received.items():
                if isinstance(answer, WorkerDeath) and answer.how != "timeout":
                    # Once more on a fresh worker: a death that repeats is the input's, not the machine's.
                    received[profile] = self.workers[profile].ask(request)
            return received

        return answers

    def run(self, request: bytes) -> dict[str, bytes | WorkerDeath]:
        """Every worker's answer to ``request`` (they run it in parallel), by profile."""
        return self.run_async(request)()

    def close(self) -> None:
        """End every worker."""
        for worker in self.workers.values():
            worker.close()
