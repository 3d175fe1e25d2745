"""Python's ``ssl`` module as a peer, in a process of its own: ``python -m interop.ssl_peer JOB_JSON``.

Python 3.11 cannot choose TLS 1.3 cipher suites, groups or signature schemes, but the
OpenSSL it runs on reads them from its configuration file: the launcher writes
``openssl_conf(job)`` and points ``OPENSSL_CONF`` at it (the default-settings cell keeps
the system's file). The protocol range is set through the context (TLS 1.3 only).
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

from interop.files import ca_path, chain_path, key_path
from interop.peer_protocol import PeerJob, PeerReport, peer_main

__all__ = ["OPENSSL_GROUP_NAMES", "SSLPeer", "openssl_conf"]

OPENSSL_GROUP_NAMES = {"x25519": "X25519", "secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
"""RFC 8446 group names as OpenSSL's group lists spell them."""

_ALERT_PREFIXES = ("SSLV3_ALERT_", "TLSV1_ALERT_", "TLSV13_ALERT_")


def openssl_conf(job: PeerJob) -> str:
    """An OpenSSL configuration whose ``system_default`` section holds the job's restrictions."""
    lines = ["MinProtocol = TLSv1.3", "MaxProtocol = TLSv1.3"]
    if job.suites is not None:
        lines.append("Ciphersuites = " + ":".join(job.suites))
    if job.groups is not None:
        lines.append("Groups = " + ":".join(OPENSSL_GROUP_NAMES.get(group, group) for group in job.groups))
    if job.sigalgs is not None:
        lines.append("SignatureAlgorithms = " + ":".join(job.sigalgs))
    header = [
        "openssl_conf = interop_init",
        "[interop_init]",
        "ssl_conf = interop_ssl",
        "[interop_ssl]",
        "system_default = interop_defaults",
        "[interop_defaults]",
    ]
    return "\n".join([*header, *lines]) + "\n"


def _context(job: PeerJob, host: str = "localhost") -> ssl.SSLContext:
    cert_dir = Path(job.cert_dir)
    if job.role == "client":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the host name
        context.load_verify_locations(cafile=str(ca_path(cert_dir)))
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(chain_path(cert_dir, job.cert_type, host)), str(key_path(cert_dir, job.cert_type)))
        if job.require_client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cafile=str(ca_path(cert_dir)))
    if not job.defaults:
        context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_3
    if job.alpn:
        context.set_alpn_protocols(list(job.alpn))
    return context


def _leaf_names(certificate: dict[str, object]) -> list[str]:
    names = certificate.get("subjectAltName", ())
    return [str(value) for kind, value in names if kind == "DNS"] if isinstance(names, tuple) else []


class SSLPeer:
    """``PeerAdapter`` over ``ssl.SSLSocket``."""

    def __init__(self) -> None:
        self._tls: ssl.SSLSocket | None = None

    def _sock(self) -> ssl.SSLSocket:
        if self._tls is None:
            raise RuntimeError("no TLS socket yet")
        return self._tls

    def handshake(self, sock: socket.socket, job: PeerJob, report: PeerReport) -> None:
        """Wrap the socket (the handshake runs in ``wrap_socket``); SNI picks the context for ``sni_host``."""
        context = _context(job)
        if job.role == "server":
            other = _context(job, job.sni_host) if job.sni_host else None

            def choose(tls: ssl.SSLObject | ssl.SSLSocket, name: str | None, _: ssl.SSLContext) -> None:
                report.server_name = name
                if other is not None and name == job.sni_host:
                    tls.context = other

            context.sni_callback = choose
            self._tls = context.wrap_socket(sock, server_side=True, suppress_ragged_eofs=False)
        else:
            self._tls = context.wrap_socket(sock, server_hostname=job.server_name, suppress_ragged_eofs=False)
            report.leaf_names = _leaf_names(dict(self._tls.getpeercert() or {}))
        cipher = self._tls.cipher()
        report.cipher = cipher[0] if cipher else None
        report.alpn = self._tls.selected_alpn_protocol()

    def send(self, data: bytes) -> None:
        """``sendall``."""
        self._sock().sendall(data)

    def recv(self) -> bytes:
        """``recv``: b"" only on close_notify (ragged EOFs raise ``SSLEOFError``)."""
        return self._sock().recv(65536)

    def close_notify(self) -> bool:
        """``unwrap``: OpenSSL's SSL_shutdown sends close_notify, then reads until the engine's arrives."""
        self._sock().unwrap()
        return True

    def alert_of(self, error: BaseException) -> str | None:
        """The alert OpenSSL says it received (``SSLV3_ALERT_HANDSHAKE_FAILURE``: handshake_failure)."""
        reason = getattr(error, "reason", None) or ""
        for prefix in _ALERT_PREFIXES:
            if reason.startswith(prefix):
                return reason.removeprefix(prefix).lower()
        return None

    def after_failure(self) -> None:
        """Nothing: the library sent its alert when it failed."""


if __name__ == "__main__":
    raise SystemExit(peer_main(SSLPeer))
