"""One small launcher per peer and role: the command line each peer runs for a cell.

``launch(cell, cert_dir, port, listener)`` gives a ``Launch``: the argv (and environment)
of ``openssl s_server``/``s_client``, ``gnutls-serv``/``gnutls-cli``, or a Python peer
(``python -m interop.s2n_peer`` and the others, ``peer_protocol.PeerJob`` as argument),
plus what the parent must do for it: a command-line peer's application data goes through
its stdin and stdout (``interop.peer_process`` does the plumbing); a Python peer
reports on its own. A server peer listens on 127.0.0.1 (``gnutls-serv`` has no listen
address option: it listens on every address, and only loopback is ever connected to).
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from interop.cells import Cell, PeerSide
from interop.files import DEFAULT_HOST, SNI_HOST, ca_path, chain_path, key_path
from interop.peer_protocol import LOOPBACK, PeerJob
from interop.ssl_peer import OPENSSL_GROUP_NAMES, openssl_conf

__all__ = ["PEER_BINARIES", "Launch", "launch", "missing_binaries"]

PEER_BINARIES: dict[str, tuple[str, ...]] = {"openssl": ("openssl",), "gnutls": ("gnutls-serv", "gnutls-cli")}
"""The programs each command-line peer needs (Debian: openssl, gnutls-bin)."""

_PYTHON_MODULES = {"s2n": "interop.s2n_peer", "python-ssl": "interop.ssl_peer", "tlslite": "interop.tlslite_peer"}
_GNUTLS_SUITES = {
    "TLS_AES_128_GCM_SHA256": "AES-128-GCM",
    "TLS_AES_256_GCM_SHA384": "AES-256-GCM",
    "TLS_CHACHA20_POLY1305_SHA256": "CHACHA20-POLY1305",
    "TLS_AES_128_CCM_SHA256": "AES-128-CCM",
}


@dataclass(frozen=True)
class Launch:
    """How to start a peer for one cell and what the parent does with it.

    ``stdio`` is True for a command-line peer (data through stdin/stdout); ``echo`` for one
    that sends back what it reads (``gnutls-serv --echo``) instead of reading stdin;
    ``pass_fds`` the listening socket a Python server peer accepts on; ``env_file`` a file
    to write first (the OpenSSL configuration of Python's ssl) with its content.
    """

    argv: tuple[str, ...]
    stdio: bool
    echo: bool = False
    pass_fds: tuple[int, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    env_file: tuple[Path, str] | None = None
    limits_records: bool = False  # the peer cuts its records to the cell's record size
    largest_write: int = 1 << 14  # what it hands TLS at once (s_client reads stdin 8 KiB at a time)
    answers_close_notify: bool = True  # it answers an engine-first close_notify with its own
    python_report: bool = False


def missing_binaries(peers: tuple[str, ...]) -> list[str]:
    """The programs the given peers need that are not on PATH."""
    return [binary for peer in peers for binary in PEER_BINARIES.get(peer, ()) if shutil.which(binary) is None]


# ---- OpenSSL ----


def _openssl_restrictions(side: PeerSide, cert_dir: Path) -> list[str]:
    if side.defaults:
        return []
    arguments = ["-tls1_3"]
    if side.suites is not None:
        arguments += ["-ciphersuites", ":".join(side.suites)]
    if side.groups is not None:
        arguments += ["-groups", ":".join(OPENSSL_GROUP_NAMES[group] for group in side.groups)]
    if side.sigalgs is not None:
        arguments += ["-sigalgs", ":".join(side.sigalgs)]
    if side.alpn:
        arguments += ["-alpn", ",".join(side.alpn)]
    if side.record_size is not None:
        arguments += ["-max_send_frag", str(side.record_size)]
    return arguments


def _openssl_server(side: PeerSide, cert_dir: Path, port: int) -> list[str]:
    certificate = ["-cert", str(chain_path(cert_dir, side.cert_type)), "-key", str(key_path(cert_dir, side.cert_type))]
    arguments = ["openssl", "s_server", "-accept", f"{LOOPBACK}:{port}", "-naccept", "1", "-quiet", *certificate]
    if side.sni:
        second = chain_path(cert_dir, side.cert_type, SNI_HOST)
        arguments += ["-servername", SNI_HOST, "-cert2", str(second), "-key2", str(key_path(cert_dir, side.cert_type))]
    if side.require_client_cert:
        arguments += ["-Verify", "1", "-CAfile", str(ca_path(cert_dir))]
    return arguments + _openssl_restrictions(side, cert_dir)


def _openssl_client(side: PeerSide, cert_dir: Path, port: int) -> list[str]:
    name = SNI_HOST if side.sni else DEFAULT_HOST
    # -quiet implies -ign_eof: -no_ign_eof makes the end of stdin send close_notify; -nocommands keeps
    # data that starts with Q, R, k or K from being read as "quit", "renegotiate" or "key update".
    arguments = ["openssl", "s_client", "-connect", f"{LOOPBACK}:{port}", "-quiet", "-no_ign_eof", "-nocommands"]
    arguments += ["-servername", name]
    arguments += ["-CAfile", str(ca_path(cert_dir)), "-verify_return_error", "-verify_hostname", name]
    return arguments + _openssl_restrictions(side, cert_dir)


# ---- GnuTLS ----


def _gnutls_priority(side: PeerSide) -> list[str]:
    if side.defaults:
        return []
    parts = ["NORMAL", "-VERS-ALL", "+VERS-TLS1.3"]
    if side.suites is not None:
        parts += ["-CIPHER-ALL", *(f"+{_GNUTLS_SUITES[suite]}" for suite in side.suites)]
    if side.groups is not None:
        parts += ["-GROUP-ALL", *(f"+GROUP-{group.upper()}" for group in side.groups)]
    if side.sigalgs is not None:
        parts += ["-SIGN-ALL", *(f"+SIGN-{name.upper().replace('_', '-')}" for name in side.sigalgs)]
    return ["--priority", ":".join(parts)]


def _gnutls_server(side: PeerSide, cert_dir: Path, port: int) -> list[str]:
    key = str(key_path(cert_dir, side.cert_type))
    arguments = ["gnutls-serv", "--echo", "--quiet", "--port", str(port)]
    arguments += ["--x509certfile", str(chain_path(cert_dir, side.cert_type)), "--x509keyfile", key]
    if side.sni:  # GnuTLS picks, among its certificates, one whose name matches the SNI
        arguments += ["--x509certfile", str(chain_path(cert_dir, side.cert_type, SNI_HOST)), "--x509keyfile", key]
    if side.require_client_cert:
        arguments += ["--require-client-cert", "--verify-client-cert", "--x509cafile", str(ca_path(cert_dir))]
    elif not side.defaults:
        arguments.append("--disable-client-cert")  # gnutls-serv asks for one (optional) by default
    arguments += [f"--alpn={name}" for name in side.alpn]
    return arguments + _gnutls_priority(side)


def _gnutls_client(side: PeerSide, cert_dir: Path, port: int) -> list[str]:
    name = SNI_HOST if side.sni else DEFAULT_HOST
    # Its messages go to stderr (--logfile), so stdout carries only the application data.
    arguments = ["gnutls-cli", "--port", str(port), LOOPBACK, "--x509cafile", str(ca_path(cert_dir))]
    arguments += ["--sni-hostname", name, "--verify-hostname", name, "--logfile=/dev/stderr"]
    if side.groups is not None and not side.defaults:
        arguments.append("--single-key-share")  # one key share, for the first group (as the other peers)
    arguments += [f"--alpn={protocol}" for protocol in side.alpn]
    return arguments + _gnutls_priority(side)


# ---- Python peers ----


def _job(cell: Cell, cert_dir: Path, port: int, listen_fd: int) -> PeerJob:
    side, conversation = cell.peer_side, cell.conversation
    return PeerJob(
        role=cell.peer_role, cert_dir=str(cert_dir), listen_fd=listen_fd, port=port, cert_type=side.cert_type,
        sni_host=SNI_HOST if side.sni and cell.peer_role == "server" else None,
        server_name=SNI_HOST if side.sni else DEFAULT_HOST, suites=side.suites, groups=side.groups,
        sigalgs=side.sigalgs, alpn=side.alpn, require_client_cert=side.require_client_cert,
        record_size=side.record_size, s2n_policy=side.s2n_policy, defaults=side.defaults,
        receive=conversation.to_peer, send=conversation.to_engine, close_first=conversation.close_first,
        timeout=cell.timeout,
    )  # fmt: skip


def _python_launch(cell: Cell, cert_dir: Path, port: int, listen_fd: int) -> Launch:
    job = _job(cell, cert_dir, port, listen_fd)
    argv = (sys.executable, "-m", _PYTHON_MODULES[cell.peer], job.to_json())
    fds = (listen_fd,) if listen_fd >= 0 else ()
    if cell.peer != "python-ssl" or job.defaults:
        return Launch(argv, stdio=False, pass_fds=fds, limits_records=cell.peer == "tlslite", python_report=True)
    # Python's ssl reads its TLS 1.3 suites, groups and schemes from OpenSSL's configuration file.
    conf = cert_dir.parent / f"openssl-{hashlib.sha256(cell.id.encode()).hexdigest()[:16]}.cnf"
    return Launch(
        argv, stdio=False, pass_fds=fds, env={"OPENSSL_CONF": str(conf)}, env_file=(conf, openssl_conf(job)),
        python_report=True,
    )  # fmt: skip


_CommandBuilder = Callable[[PeerSide, Path, int], list[str]]
_COMMANDS: dict[tuple[str, str], _CommandBuilder] = {
    ("openssl", "server"): _openssl_server,
    ("openssl", "client"): _openssl_client,
    ("gnutls", "server"): _gnutls_server,
    ("gnutls", "client"): _gnutls_client,
}


def launch(cell: Cell, cert_dir: Path, port: int, listen_fd: int = -1) -> Launch:
    """How to run ``cell``'s peer: a server peer on ``port`` (or, for a Python one, accepting on
    ``listen_fd``), a client peer connecting to the engine on ``port``."""
    if cell.peer in _PYTHON_MODULES:
        return _python_launch(cell, cert_dir, port, listen_fd)
    argv = tuple(_COMMANDS[cell.peer, cell.peer_role](cell.peer_side, cert_dir, port))
    gnutls_server = cell.peer == "gnutls" and cell.peer_role == "server"
    s_client = cell.peer == "openssl" and cell.peer_role == "client"
    return Launch(
        argv, stdio=True, echo=gnutls_server, limits_records=cell.peer == "openssl",
        largest_write=8192 if s_client else 1 << 14,
        # gnutls-cli exits on the engine's close_notify without answering it.
        answers_close_notify=not (cell.peer == "gnutls" and cell.peer_role == "client"),
    )  # fmt: skip
