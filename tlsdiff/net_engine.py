"""``--implementation engine``: the Python engine on a real socket, through ``engine.socket_api.TLSSocket``.

``TLSSocket`` keeps every transfer in ``wire`` (``record_wire``) and bounds each call by
its timeout; this module maps its errors onto the command's (``tlsdiff.net_session``)
and adds the TLS 1.3 half close the pipe needs: close_notify sent, reading goes on.
"""

from __future__ import annotations

import socket
from contextlib import suppress

from engine.config import EngineConfig, RecordSizing
from engine.connection import ConnectionInfo, TLSConnection
from engine.errors import (
    AlertDescription,
    ConfigurationError,
    EngineError,
    PeerAlertError,
    TLSError,
    TLSTimeoutError,
    TransportError,
    UnexpectedEOFError,
)
from engine.handshake.context import KeyLogSink
from engine.socket_api import TLSSocket
from tlsdiff.net_options import ClientOptions, Identity, ServerOptions, TLSOptions, Trust
from tlsdiff.net_session import (
    AlertReceivedError,
    ConnectionLostError,
    HandshakeFailedError,
    HandshakeRefusedError,
    NetError,
    TimedOutError,
    TruncatedError,
    UsageError,
    Wire,
    directions,
)
from tlsdiff.net_trace import alert_name

__all__ = ["EngineBackend", "EngineSession", "handshake_error"]

# How long ``receive`` waits for data once the socket was readable: records that carry no data
# (session tickets) must not keep the pipe from reading stdin. Nothing read is lost on the timeout.
_DATA_WAIT = 0.05


def _described(error: TLSError) -> str:
    return f"{error} ({type(error).__name__})"


def _is_eof(error: TransportError) -> bool:
    return isinstance(error.__cause__, UnexpectedEOFError)


def handshake_error(error: EngineError, timeout: float | None) -> NetError:
    """The command's error for what ``do_handshake`` raised: the peer's refusal, this side's, or the transport's."""
    if isinstance(error, PeerAlertError):
        if error.received == AlertDescription.CLOSE_NOTIFY:
            return HandshakeRefusedError("peer sent close_notify during the handshake")
        return HandshakeRefusedError(f"peer sent alert {alert_name(int(error.received))}")
    if isinstance(error, TLSError):
        return HandshakeFailedError(_described(error))
    if isinstance(error, TLSTimeoutError):
        return TimedOutError(f"no answer from the peer in {timeout:g} s during the handshake")
    if isinstance(error, TransportError) and _is_eof(error):
        return HandshakeRefusedError("peer closed the connection during the handshake")
    return ConnectionLostError(str(error))


class EngineSession:
    """One engine connection on a socket (a ``tlsdiff.net_session.Session``)."""

    implementation = "engine"

    def __init__(self, sock: socket.socket, connection: TLSConnection, key_log: list[bytes], timeout: float) -> None:
        self._tls = TLSSocket(sock, connection, timeout=timeout)
        self.wire = Wire()
        self._tls.wire = self.wire  # the socket keeps every transfer there, as ``record_wire`` would
        self.key_log = key_log
        self._outgoing, _ = directions(client=connection.is_client)
        self._close_sent = False

    def handshake(self) -> None:
        """``TLSSocket.do_handshake``, its errors in the command's terms."""
        try:
            self._tls.do_handshake()
        except EngineError as error:
            raise handshake_error(error, self._tls.gettimeout()) from None

    def send(self, data: bytes) -> None:
        """``TLSSocket.sendall``."""
        try:
            self._tls.sendall(data)
        except EngineError as error:
            raise self._after_handshake(error) from None

    def _after_handshake(self, error: EngineError) -> NetError:
        if isinstance(error, PeerAlertError):
            return AlertReceivedError(str(error))
        if isinstance(error, TLSError):
            return ConnectionLostError(_described(error))
        if isinstance(error, TransportError) and _is_eof(error):
            return TruncatedError("the peer closed its socket without close_notify")
        if isinstance(error, TLSTimeoutError):
            return TimedOutError(f"no answer from the peer in {self._tls.gettimeout():g} s")
        return ConnectionLostError(str(error))

    def receive(self, *, wait: bool = True) -> bytes | None:
        """See ``Session.receive``; an EOF after this side's own close_notify counts as the peer's close."""
        tls = self._tls
        if tls.pending():  # data already read: ``select`` cannot see it, so all of it is taken now
            return tls.recv_available(tls.pending())
        if tls.peer_closed:
            return None
        if not wait:
            return b""
        timeout = tls.gettimeout()
        tls.settimeout(_DATA_WAIT if timeout is None else min(timeout, _DATA_WAIT))
        try:
            data = tls.recv_available()
        except TLSTimeoutError:
            return b""  # not sticky: what was read stays buffered
        except TransportError as error:
            if self._close_sent and _is_eof(error):
                return None
            raise self._after_handshake(error) from None
        except EngineError as error:
            raise self._after_handshake(error) from None
        finally:
            tls.settimeout(timeout)
        return data or None

    def close_send(self) -> None:
        """Send close_notify and go on reading (TLS 1.3 half close; ``TLSSocket.close`` would stop reading)."""
        if self._close_sent:
            return
        self._close_sent = True
        connection = self._tls.connection
        try:
            connection.close()
            data = connection.data_to_send()
            self.wire.append((self._outgoing, data))
            self._tls.sock.sendall(data)
        except TLSError as error:
            raise ConnectionLostError(_described(error)) from None
        except OSError as error:
            raise ConnectionLostError(f"sending close_notify failed: {error.strerror or error}") from None

    def settimeout(self, seconds: float | None) -> None:
        """Bound each later call (``TLSSocket.settimeout``)."""
        self._tls.settimeout(seconds)

    def fileno(self) -> int:
        """The socket's file descriptor."""
        return self._tls.fileno()

    def info(self) -> ConnectionInfo:
        """The engine's view of the connection (s2n's names)."""
        return self._tls.info()

    def close(self) -> None:
        """Close the socket without waiting (close_notify, if due, was sent by ``close_send``)."""
        with suppress(EngineError):  # an alert that came while closing changes nothing: the session is over
            self._tls.close(0)


class _KeyLog:
    """The connection's key-log sink: the session's lines and the key-log file."""

    def __init__(self, lines: list[bytes], file: KeyLogSink | None) -> None:
        self.lines = lines
        self.file = file

    def __call__(self, line: bytes) -> None:
        self.lines.append(line)
        if self.file is not None:
            self.file(line)


def _engine_config(tls: TLSOptions, **settings: object) -> EngineConfig:
    try:
        return EngineConfig(
            tls.policy,
            alpn=tuple(name.encode("ascii") for name in tls.alpn),
            max_record_plaintext=tls.max_record or RecordSizing.DEFAULT,
            **settings,  # type: ignore[arg-type]
        )
    except ConfigurationError as error:
        raise UsageError(str(error)) from None


class EngineBackend:
    """An ``EngineConfig`` for one command and the sessions made from it."""

    name = "engine"

    def __init__(
        self,
        config: EngineConfig,
        tls: TLSOptions,
        key_log: KeyLogSink | None,
        *,
        client: bool,
        server_name: str | None = None,
        verify_name: str | None = None,
    ) -> None:
        self._config = config
        self._client = client
        self._timeout = tls.timeout
        self._key_log = key_log
        self._server_name = server_name
        self._verify_name = verify_name

    @classmethod
    def for_client(cls, options: ClientOptions, trust: Trust, key_log: KeyLogSink | None) -> EngineBackend:
        """A client config: the CA file's anchors, or no verification."""
        config = _engine_config(options.tls, trust_anchors=trust.anchors, verify=trust.verify)
        return cls(
            config,
            options.tls,
            key_log,
            client=True,
            server_name=options.server_name,
            verify_name=options.verify_name,
        )

    @classmethod
    def for_server(cls, options: ServerOptions, identity: Identity, key_log: KeyLogSink | None) -> EngineBackend:
        """A server config presenting ``identity``."""
        config = _engine_config(options.tls, certificates=(identity.certified_key,))
        return cls(config, options.tls, key_log, client=False)

    def session(self, sock: socket.socket) -> EngineSession:
        """A new connection on ``sock``, which the session then owns."""
        lines: list[bytes] = []
        try:
            connection = TLSConnection(
                self._config,
                client=self._client,
                server_name=self._server_name,
                verify_name=self._verify_name,
                key_log=_KeyLog(lines, self._key_log),
            )
        except ConfigurationError as error:
            sock.close()
            raise UsageError(str(error)) from None
        return EngineSession(sock, connection, lines, self._timeout)

    def close(self) -> None:
        """Nothing to free: the engine holds no C objects."""
