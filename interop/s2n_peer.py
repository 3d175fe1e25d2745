"""The C s2n-tls peer, in a process of its own: ``python -m interop.s2n_peer JOB_JSON``.

It runs the bridge in fd mode on the TCP socket, with a config built as
``tlsdiff.harness`` builds one (policy, the test certificates, the test CA as the only
trust anchor, ALPN), from the OS's randomness. s2n is restricted through its policy
(``PeerJob.s2n_policy``): it has no per-suite or per-group switches.
"""

from __future__ import annotations

import select
import socket
import time
from contextlib import ExitStack, suppress
from pathlib import Path

from interop.files import ca_path, chain_path, key_path
from interop.peer_protocol import PeerJob, PeerReport, PeerTimeoutError, alert_name, peer_main
from s2n_bridge import (
    ClientAuth,
    Config,
    Connection,
    Mode,
    S2NError,
    ServerCertificate,
)

__all__ = ["S2NPeer"]

_DEFAULT_POLICY = "default"  # what s2n_config_new() uses


def _config(job: PeerJob) -> Config:
    cert_dir = Path(job.cert_dir)
    policy = _DEFAULT_POLICY if job.defaults else job.s2n_policy
    if job.role == "client":
        return Config(policy, trust_pem=ca_path(cert_dir).read_bytes(), alpn=job.alpn, system_trust=False)
    key_pem = key_path(cert_dir, job.cert_type).read_bytes()
    hosts = ["localhost", *([job.sni_host] if job.sni_host else [])]
    served = [
        ServerCertificate(chain_path(cert_dir, job.cert_type, host).read_bytes(), key_pem=key_pem) for host in hosts
    ]
    auth = ClientAuth.REQUIRED if job.require_client_cert else ClientAuth.NONE
    trust = ca_path(cert_dir).read_bytes() if job.require_client_cert else None
    return Config(policy, certificates=served, alpn=job.alpn, client_auth=auth, trust_pem=trust, system_trust=False)


class S2NPeer:
    """``PeerAdapter`` over an s2n connection on the socket's descriptor."""

    def __init__(self) -> None:
        self._resources = ExitStack()
        self._connection: Connection | None = None
        self._sock: socket.socket | None = None
        self._deadline = 0.0

    def _wait(self, *, writable: bool) -> None:
        if self._sock is None:
            raise RuntimeError("no socket")
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise PeerTimeoutError("s2n peer timed out")
        readers, writers = ([], [self._sock]) if writable else ([self._sock], [])
        select.select(readers, writers, [], remaining)

    def _conn(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("no connection yet")
        return self._connection

    def handshake(self, sock: socket.socket, job: PeerJob, report: PeerReport) -> None:
        """s2n_negotiate until done (the socket is non-blocking: it has a timeout)."""
        self._sock, self._deadline = sock, time.monotonic() + job.timeout
        config = self._resources.enter_context(_config(job))
        mode = Mode.CLIENT if job.role == "client" else Mode.SERVER
        name = job.server_name if job.role == "client" else None
        self._connection = self._resources.enter_context(Connection(config, mode, server_name=name, fd=sock.fileno()))
        while not self._connection.negotiate():
            self._wait(writable=False)
        info = self._connection.info()
        report.cipher, report.group, report.alpn = info.cipher, info.group, info.alpn
        report.server_name = info.server_name if job.role == "server" else None

    def send(self, data: bytes) -> None:
        """s2n_send until all is taken."""
        view = memoryview(data)
        while view:
            taken = self._conn().send(bytes(view[:65536]))
            if taken == 0:
                self._wait(writable=True)
            view = view[taken:]

    def recv(self) -> bytes:
        """s2n_recv, waiting for readability while it blocks."""
        while True:
            chunk = self._conn().recv()
            if chunk is not None:
                return chunk
            self._wait(writable=False)

    def close_notify(self) -> bool:
        """s2n_shutdown_send (the engine's close_notify is read by ``recv``)."""
        while not self._conn().shutdown_send():
            self._wait(writable=True)
        return False

    def alert_of(self, error: BaseException) -> str | None:
        """The alert s2n received from the engine (``s2n_connection_get_alert``), if any."""
        alert = error.alert if isinstance(error, S2NError) else None
        if alert is None:
            return None
        return alert_name(alert)

    def after_failure(self) -> None:
        """s2n-tls writes the alert of a failure only when shut down (the bridge skips the blinding delay)."""
        if self._connection is not None:
            with suppress(S2NError):
                self._connection.send_pending_alert()

    def close(self) -> None:
        """Free the connection, then the config."""
        self._resources.close()


def _main() -> int:
    peer = S2NPeer()
    try:
        return peer_main(lambda: peer)
    finally:
        peer.close()


if __name__ == "__main__":
    raise SystemExit(_main())
