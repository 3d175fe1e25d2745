"""What a Python peer process is asked to do, what it reports, and the loop every one of them runs.

The s2n, Python-ssl and tlslite-ng peers (``python -m interop.s2n_peer JOB_JSON`` and the
others) each wrap one library in a ``PeerAdapter``; ``run_peer`` drives it through the same
conversation as the command-line peers: handshake, read what the engine sends, send back,
then close_notify in the order the cell says. The report is one JSON line on stdout::

    {"handshake": true, "cipher": "TLS_AES_128_GCM_SHA256", "received_sha256": "...", ...}

A server peer gets its listening socket from the parent (``listen_fd``), so there is no
race for a port and no need to poll for readiness; a client peer connects to ``port``.
Everything stays on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import socket
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from typing import Protocol

from engine.errors import AlertDescription

__all__ = [
    "LOOPBACK",
    "PeerAdapter",
    "PeerJob",
    "PeerReport",
    "PeerTimeoutError",
    "alert_name",
    "payload",
    "peer_main",
    "run_peer",
    "sha256_hex",
]

LOOPBACK = "127.0.0.1"
_READ_SIZE = 65536
_LINGER = 1.0


def payload(label: str, size: int, *, text: bool = False) -> bytes:
    """``size`` deterministic bytes for one direction of a cell (both sides compute the same).

    ``text`` gives lines of 63 hex digits and a newline instead, for a peer that echoes
    line by line (``gnutls-serv --echo``, which also rewrites CRLF): sizes that are
    multiples of 64 end on a line.

    >>> payload("engine->peer", 4) == payload("engine->peer", 4)
    True
    >>> payload("engine->peer", 128, text=True).count(b"\\n")
    2
    """
    if not size:
        return b""
    stream = hashlib.shake_256(f"tlsdiff-interop/{label}".encode())
    if not text:
        return stream.digest(size)
    digits = stream.hexdigest((size + 1) // 2)
    return "".join(digits[offset : offset + 63] + "\n" for offset in range(0, size, 64)).encode()[:size]


def alert_name(code: int) -> str:
    """An alert's RFC 8446 name: ``handshake_failure`` for 40; the number itself for an unknown one."""
    try:
        return AlertDescription(code).name.lower()
    except ValueError:
        return str(code)


def sha256_hex(data: bytes) -> str:
    """The checksum the two sides compare."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class PeerJob:
    """One run of a Python peer: role, TLS settings and the conversation (JSON on the command line).

    Restrictions left ``None`` keep the library's own defaults. Names are the IANA/RFC 8446
    ones (``TLS_AES_128_GCM_SHA256``, ``x25519``, ``ecdsa_secp256r1_sha256``).
    """

    role: str  # "server" or "client"
    cert_dir: str  # where interop.files wrote the PEM files
    listen_fd: int = -1  # server: the listening socket handed over by the parent
    port: int = 0  # client: the engine server's port
    cert_type: str = "ecdsa-p256"  # server: the certificate served for "localhost"
    sni_host: str | None = None  # server: also serve a certificate for this name
    server_name: str | None = "localhost"  # client: SNI sent and name verified
    suites: tuple[str, ...] | None = None
    groups: tuple[str, ...] | None = None
    sigalgs: tuple[str, ...] | None = None
    alpn: tuple[str, ...] = ()
    require_client_cert: bool = False
    record_size: int | None = None  # the largest plaintext per record the peer sends, where it can
    s2n_policy: str = "default_tls13"
    defaults: bool = False  # the library's default settings (not even TLS 1.3 forced)
    receive: int = 0  # bytes to read from the engine before answering
    send: int = 0  # bytes to send back
    close_first: str = "engine"  # who sends close_notify first: "engine" or "peer"
    timeout: float = 5.0

    def to_json(self) -> str:
        """The job as the command-line argument."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> PeerJob:
        """The job from its command-line argument (lists back to tuples)."""
        raw = json.loads(text)
        for name in ("suites", "groups", "sigalgs", "alpn"):
            if raw.get(name) is not None:
                raw[name] = tuple(raw[name])
        return cls(**raw)


@dataclass
class PeerReport:
    """What a peer saw; the last line it prints."""

    handshake: bool = False
    cipher: str | None = None
    group: str | None = None
    alpn: str | None = None
    server_name: str | None = None  # server: the SNI it received
    leaf_names: list[str] = field(default_factory=list)  # client: the names on the certificate it got
    received: int = 0
    received_sha256: str = ""
    close_notify_received: bool = False
    error: str | None = None
    alert: str | None = None  # the alert named in the library's error, when it names one
    stage: str = "start"

    def to_json(self) -> str:
        """One JSON line."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> PeerReport:
        """Parse a peer's last line."""
        return cls(**json.loads(text))


class PeerTimeoutError(Exception):
    """The peer waited longer than its job allows."""


class PeerAdapter(Protocol):
    """One TLS library behind the verbs ``run_peer`` needs."""

    def handshake(self, sock: socket.socket, job: PeerJob, report: PeerReport) -> None:
        """Run the handshake on ``sock`` and fill in what was negotiated."""

    def send(self, data: bytes) -> None:
        """Send application data."""

    def recv(self) -> bytes:
        """Some application data; b"" once the engine's close_notify arrived (raise on a bare EOF)."""

    def close_notify(self) -> bool:
        """Send close_notify; True when the library also read the engine's (Python's ``unwrap`` does)."""

    def alert_of(self, error: BaseException) -> str | None:
        """The alert an error of this library names, if any (``handshake_failure``)."""

    def after_failure(self) -> None:
        """Let the library send what it owes the engine after a failure (s2n-tls writes its alert only then)."""


def _open_socket(job: PeerJob) -> socket.socket:
    if job.role == "server":
        with socket.socket(fileno=job.listen_fd) as listener:
            listener.settimeout(job.timeout)
            sock, _ = listener.accept()
    else:
        sock = socket.create_connection((LOOPBACK, job.port), timeout=job.timeout)
    sock.settimeout(job.timeout)
    return sock


def _read_exactly(adapter: PeerAdapter, size: int, report: PeerReport, deadline: float) -> bytes:
    received = bytearray()
    while len(received) < size:
        if time.monotonic() > deadline:
            raise PeerTimeoutError(f"received {len(received)} of {size} bytes in time")
        chunk = adapter.recv()
        if not chunk:
            report.close_notify_received = True
            break
        received += chunk
    return bytes(received)


def _wait_close_notify(adapter: PeerAdapter, report: PeerReport, deadline: float) -> None:
    while not report.close_notify_received:
        if time.monotonic() > deadline:
            raise PeerTimeoutError("no close_notify from the engine in time")
        if not adapter.recv():
            report.close_notify_received = True


def _converse(adapter: PeerAdapter, sock: socket.socket, job: PeerJob, report: PeerReport) -> None:
    deadline = time.monotonic() + job.timeout
    report.stage = "handshake"
    adapter.handshake(sock, job, report)
    report.handshake = True
    report.stage = "receive"
    received = _read_exactly(adapter, job.receive, report, deadline)
    report.received, report.received_sha256 = len(received), sha256_hex(received)
    report.stage = "send"
    if job.send:
        adapter.send(payload("peer->engine", job.send))
    report.stage = "close"
    if job.close_first == "peer":
        report.close_notify_received = adapter.close_notify()
        _wait_close_notify(adapter, report, deadline)
    else:
        _wait_close_notify(adapter, report, deadline)
        adapter.close_notify()
    report.stage = "done"


def _linger(sock: socket.socket) -> None:
    """After a failure: stop writing, then read until the engine hangs up, so that closing does not
    reset the connection (and destroy our alert) while the engine's bytes are still unread."""
    with suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(_LINGER)
        while sock.recv(_READ_SIZE):
            pass


def run_peer(adapter: PeerAdapter, job: PeerJob) -> PeerReport:
    """Run ``job`` with ``adapter``; every failure ends up in the report, never as an exception."""
    report = PeerReport()
    try:
        with _open_socket(job) as sock:
            try:
                _converse(adapter, sock, job, report)
            except Exception as error:  # the report carries any library's failure to the parent
                report.error = f"{type(error).__name__}: {error}"
                report.alert = adapter.alert_of(error)
                adapter.after_failure()
                _linger(sock)
    except OSError as error:
        report.error = f"{type(error).__name__}: {error}"
    return report


def peer_main(make_adapter: Callable[[], PeerAdapter], argv: list[str] | None = None) -> int:
    """The ``python -m interop.<peer> JOB_JSON`` entry point: run the job, print the report."""
    arguments = sys.argv[1:] if argv is None else argv
    if len(arguments) != 1:
        print("usage: python -m interop.<peer> JOB_JSON", file=sys.stderr)
        return 2
    report = run_peer(make_adapter(), PeerJob.from_json(arguments[0]))
    print(report.to_json(), flush=True)
    return 0
