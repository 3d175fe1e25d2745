"""The engine's half of a cell: a ``TLSSocket`` on loopback, configured from PEM files, running the conversation.

    report = run_engine(cell, cert_dir, port=peer_port)             # the engine as client
    report = run_engine(cell, cert_dir, listener=listening_socket)  # the engine as server

The conversation mirrors the peer's (``peer_protocol``): the engine sends its bytes, then
reads the peer's (an echo peer's come back chunk by chunk), then close_notify in the
cell's order. Every failure ends up in the ``EngineReport``: the engine's own refusal
(a ``TLSError``, with the alert it names), the peer's alert (``PeerAlertError``), or the
transport's trouble. The wire is recorded, for record sizes and the dissector test.
"""

from __future__ import annotations

import socket
from contextlib import suppress
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from engine.config import EngineConfig, RecordSizing
from engine.connection import ConnectionInfo, TLSConnection
from engine.errors import EngineError, PeerAlertError, TLSError, TransportError
from engine.pem import load_certified_key, load_trust_anchors
from engine.socket_api import TLSSocket
from interop.cells import Cell, EngineSide
from interop.files import DEFAULT_HOST, SNI_HOST, ca_path, chain_path, key_path
from interop.peer_protocol import LOOPBACK, alert_name, payload, sha256_hex
from tlsdiff.decode import split_wire_records

__all__ = ["APPLICATION_DATA", "EngineReport", "engine_config", "run_engine"]

APPLICATION_DATA = 23  # the outer type of every protected record
_ECHO_CHUNK = 16384
_CLOSE_WAIT = 2.0


@dataclass
class EngineReport:
    """What the engine saw in one cell."""

    handshake: bool = False
    info: ConnectionInfo | None = None
    received: int = 0
    received_sha256: str = ""
    peer_closed: bool = False  # the peer's close_notify arrived
    error: str | None = None
    peer_alert: str | None = None  # PeerAlertError: the alert the peer sent
    own_alert: str | None = None  # the engine's own TLSError: the alert it names
    stage: str = "connect"
    is_client: bool = True
    wire: list[tuple[str, bytes]] = field(default_factory=list)
    key_log: list[bytes] = field(default_factory=list)

    def record_lengths(self, *, sent: bool) -> list[int]:
        """The lengths of the protected records the engine sent (or received), in order."""
        outgoing = "client->server" if self.is_client else "server->client"
        chunks = [data for direction, data in self.wire if (direction == outgoing) == sent]
        records, _ = split_wire_records(b"".join(chunks))
        return [len(record) - 5 for record in records if record[0] == APPLICATION_DATA]


@cache
def engine_config(side: EngineSide, role: str, cert_dir: Path) -> EngineConfig:
    """The engine's configuration for a cell side, from the PEM files (built once per side)."""
    size = side.max_record if side.max_record is not None else RecordSizing.DEFAULT
    alpn = tuple(name.encode() for name in side.alpn)
    if role == "client":
        anchors = load_trust_anchors(ca_path(cert_dir))
        return EngineConfig(side.policy, trust_anchors=anchors, alpn=alpn, max_record_plaintext=size)
    hosts = (DEFAULT_HOST, SNI_HOST) if side.sni else (DEFAULT_HOST,)
    served = tuple(
        load_certified_key(chain_path(cert_dir, side.cert_type, host), key_path(cert_dir, side.cert_type))
        for host in hosts
    )
    return EngineConfig(side.policy, certificates=served, alpn=alpn, max_record_plaintext=size)


def _open(
    cell: Cell, cert_dir: Path, report: EngineReport, *, port: int, listener: socket.socket | None, timeout: float
) -> TLSSocket:
    config = engine_config(cell.engine, cell.engine_role, cert_dir)
    if cell.engine_role == "client":
        name = SNI_HOST if cell.engine.sni else DEFAULT_HOST
        connection = TLSConnection(config, client=True, server_name=name, key_log=report.key_log.append)
        sock = socket.create_connection((LOOPBACK, port), timeout=timeout)
    else:
        if listener is None:
            raise ValueError("an engine server needs the listening socket")
        listener.settimeout(timeout)
        sock, _ = listener.accept()
        connection = TLSConnection(config, client=False, key_log=report.key_log.append)
    report.is_client = connection.is_client
    tls = TLSSocket(sock, connection, timeout=timeout, record_wire=True)
    if tls.wire is not None:
        report.wire = tls.wire
    return tls


def _exchange(tls: TLSSocket, cell: Cell, echo: bool, report: EngineReport) -> bytes:
    conversation = cell.conversation
    data = payload("engine->peer", conversation.to_peer, text=echo)
    if not echo:
        tls.sendall(data)
        return tls.recv(conversation.to_engine)
    received = bytearray()
    for offset in range(0, len(data), _ECHO_CHUNK):
        chunk = data[offset : offset + _ECHO_CHUNK]
        tls.sendall(chunk)
        received += tls.recv(len(chunk))
        report.received = len(received)
    return bytes(received)


def _converse(tls: TLSSocket, cell: Cell, echo: bool, report: EngineReport) -> None:
    report.stage = "handshake"
    tls.do_handshake()
    report.handshake, report.info = True, tls.info()
    report.stage = "data"
    received = _exchange(tls, cell, echo, report)
    report.received, report.received_sha256 = len(received), sha256_hex(received)
    report.stage = "close"
    if cell.conversation.close_first == "peer":
        extra = tls.recv_available()
        if extra:
            raise TransportError(f"{len(extra)} more bytes where the peer's close_notify was expected")
    tls.close(_CLOSE_WAIT)
    report.peer_closed = tls.peer_closed
    report.stage = "done"


def run_engine(
    cell: Cell,
    cert_dir: Path,
    *,
    port: int = 0,
    listener: socket.socket | None = None,
    echo: bool = False,
    timeout: float = 5.0,
) -> EngineReport:
    """Run the engine's side of ``cell``; never raises for what happens on the connection."""
    report = EngineReport()
    tls: TLSSocket | None = None
    try:
        tls = _open(cell, cert_dir, report, port=port, listener=listener, timeout=timeout)
        _converse(tls, cell, echo, report)
    except PeerAlertError as error:
        report.error, report.peer_alert = f"PeerAlertError: {error}", alert_name(error.received)
    except TLSError as error:
        report.error, report.own_alert = f"{type(error).__name__}: {error}", alert_name(error.alert)
    except (EngineError, OSError) as error:
        report.error = f"{type(error).__name__}: {error}"
    finally:
        if tls is not None:
            if report.info is None:
                report.info = tls.info()
            with suppress(EngineError):
                tls.close(0)
    return report
