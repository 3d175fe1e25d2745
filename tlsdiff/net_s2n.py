"""``--implementation s2n``: C s2n-tls on a real socket, through the bridge, in memory.

The bridge's connection runs in memory (``feed``/``take_outgoing``) and this module
pumps it over the socket, so every byte is seen on its way, as the engine's socket API
sees it, and both implementations are traced the same way. The server's key stays in
Python: s2n loads only the public chain and signs through its async private-key callback
with the same signer the engine would use.

One ``S2NBackend`` holds one ``Config`` (tens of milliseconds to build) for all the
connections of a command; its key log goes to the current session and to the key-log file.
"""

from __future__ import annotations

import functools
import socket
import time
from collections.abc import Callable
from contextlib import suppress

from engine.config import RecordSizing
from engine.connection import ConnectionInfo
from engine.handshake.context import KeyLogSink
from s2n_bridge import (
    Config,
    Connection,
    Mode,
    RecordSize,
    S2NAlertError,
    S2NClosedError,
    S2NError,
    S2NUsageError,
    ServerCertificate,
)
from tlsdiff.net_options import ClientOptions, Identity, ServerOptions, TLSOptions, Trust, same_address
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

__all__ = ["S2NBackend", "S2NSession"]

_READ_SIZE = 65536
_SEND_CHUNK = 65536  # what s2n is offered per call (it takes a record's worth or more)
_MIN_WAIT = 0.001  # a socket timeout of 0 would mean non-blocking, not "already late"
_RECORD_SIZES = {
    None: RecordSize.DEFAULT,
    RecordSizing.DEFAULT: RecordSize.DEFAULT,
    RecordSizing.THROUGHPUT: RecordSize.THROUGHPUT,
    RecordSizing.LOW_LATENCY: RecordSize.LOW_LATENCY,
}


def _describe(error: S2NError) -> str:
    return f"{error.message} ({error.name})"


def _transport_error(error: OSError, timeout: float | None, during: str) -> NetError:
    """The one-line error for a socket failure (a timeout says how long it waited)."""
    if isinstance(error, TimeoutError):
        return TimedOutError(f"no answer from the peer in {timeout:g} s {during}")
    return ConnectionLostError(f"{error.strerror or error} {during}")


class S2NSession:
    """One s2n connection pumped over a connected socket (a ``tlsdiff.net_session.Session``)."""

    implementation = "s2n"

    def __init__(self, sock: socket.socket, connection: Connection, *, client: bool, timeout: float | None) -> None:
        self.wire = Wire()
        self.key_log: list[bytes] = []
        self._sock = sock
        self._connection = connection
        self._outgoing, self._incoming = directions(client=client)
        self._timeout = timeout
        self._close_sent = False
        self._peer_closed = False
        sock.settimeout(timeout)

    def _flush(self) -> None:
        data = self._connection.take_outgoing()
        if data:
            self.wire.append((self._outgoing, data))
            self._sock.sendall(data)

    def _read_socket(self) -> None:
        data = self._sock.recv(_READ_SIZE)
        if data:
            self.wire.append((self._incoming, data))
            self._connection.feed(data)
        else:
            self._connection.feed_eof()

    def _send_alert(self) -> None:
        """After a failure s2n writes its alert only at shutdown, past its blinding delay (docs/bridge.md)."""
        with suppress(S2NError, OSError):
            data = self._connection.send_pending_alert()
            if data:
                self.wire.append((self._outgoing, data))
                self._sock.sendall(data)

    def _negotiate(self) -> None:
        # The timeout bounds the whole handshake, however slowly a peer drips its flight.
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        try:
            while not self._connection.negotiate():
                self._flush()
                if deadline is not None:
                    self._sock.settimeout(max(deadline - time.monotonic(), _MIN_WAIT))
                self._read_socket()
            self._flush()
        finally:
            self._sock.settimeout(self._timeout)

    def handshake(self) -> None:
        """Negotiate until complete, reading the socket whenever s2n waits for the peer."""
        try:
            self._negotiate()
        except S2NAlertError as error:
            raise HandshakeRefusedError(f"peer sent alert {alert_name(error.alert or 0)}") from None
        except S2NClosedError as error:
            # S2N_ERR_CLOSED for both: the alert s2n holds is 0 for a close_notify, none for the end of the stream.
            if error.alert == 0:
                raise HandshakeRefusedError("peer sent close_notify during the handshake") from None
            raise HandshakeRefusedError("peer closed the connection during the handshake") from None
        except S2NError as error:
            self._send_alert()
            raise HandshakeFailedError(_describe(error)) from None
        except OSError as error:
            raise _transport_error(error, self._timeout, "during the handshake") from None

    def send(self, data: bytes) -> None:
        """Send all of ``data`` (s2n takes what fits its records; the rest goes in the next call)."""
        view = memoryview(data)
        try:
            while view:
                taken = self._connection.send(bytes(view[:_SEND_CHUNK]))
                if taken <= 0:  # in memory s2n never blocks on writing: this would loop for ever
                    raise ConnectionLostError("s2n took no data to send")
                view = view[taken:]
                self._flush()
        except S2NError as error:
            raise ConnectionLostError(_describe(error)) from None
        except OSError as error:
            raise _transport_error(error, self._timeout, "while sending") from None

    def _drain(self) -> bytes:
        """Every plaintext byte s2n can give without reading the socket; notes the peer's close_notify."""
        received = bytearray()
        while not self._peer_closed and (chunk := self._connection.recv()) is not None:
            self._peer_closed = chunk == b""
            received += chunk
        return bytes(received)

    def _receive(self, wait: bool) -> bytes | None:
        data = self._drain()
        if wait and not data and not self._peer_closed:
            self._read_socket()
            data = self._drain()
        return data or (None if self._peer_closed else b"")

    def receive(self, *, wait: bool = True) -> bytes | None:
        """See ``Session.receive``; an EOF after this side's own close_notify counts as the peer's close."""
        try:
            return self._receive(wait)
        except S2NAlertError as error:
            raise AlertReceivedError(f"peer sent alert {alert_name(error.alert or 0)}") from None
        except S2NClosedError:
            if self._close_sent:
                self._peer_closed = True
                return None
            raise TruncatedError("the peer closed its socket without close_notify") from None
        except S2NError as error:
            self._send_alert()
            raise ConnectionLostError(_describe(error)) from None
        except OSError as error:
            raise _transport_error(error, self._timeout, "waiting for data") from None

    def close_send(self) -> None:
        """Send close_notify once (s2n_shutdown_send: s2n still reads after it)."""
        if self._close_sent:
            return
        self._close_sent = True
        try:
            self._connection.shutdown_send()
            self._flush()
        except S2NError as error:
            raise ConnectionLostError(_describe(error)) from None
        except OSError as error:
            raise _transport_error(error, self._timeout, "while closing") from None

    def settimeout(self, seconds: float | None) -> None:
        """Bound each socket wait from now on."""
        self._timeout = seconds
        self._sock.settimeout(seconds)

    def fileno(self) -> int:
        """The socket's file descriptor."""
        return self._sock.fileno()

    def info(self) -> ConnectionInfo:
        """s2n's view of the connection (``Connection.info``)."""
        return self._connection.info()

    def close(self) -> None:
        """Free the s2n connection and close the socket."""
        self._connection.close()
        self._sock.close()


class _KeyLogRouter:
    """The config's key-log callback: lines go to the current session and the key-log file."""

    def __init__(self, file: KeyLogSink | None) -> None:
        self.file = file
        self.session: list[bytes] | None = None

    def __call__(self, line: bytes) -> None:
        if self.session is not None:
            self.session.append(line)
        if self.file is not None:
            self.file(line)


class S2NBackend:
    """An s2n config for one command and the sessions made from it; a context manager that frees it."""

    name = "s2n"

    def __init__(
        self,
        build: Callable[[_KeyLogRouter], Config],
        mode: Mode,
        tls: TLSOptions,
        key_log: KeyLogSink | None,
        server_name: str | None = None,
    ) -> None:
        self._router = _KeyLogRouter(key_log)
        self._mode = mode
        self._server_name = server_name
        self._record_size = _RECORD_SIZES.get(tls.max_record, RecordSize.DEFAULT)
        self._timeout = tls.timeout
        try:
            self._config = build(self._router)
        except S2NUsageError as error:  # e.g. an unknown policy: the user's flag, not the peer
            raise UsageError(f"s2n refused the configuration (policy {tls.policy!r}): {_describe(error)}") from None

    @classmethod
    def for_client(cls, options: ClientOptions, trust: Trust, key_log: KeyLogSink | None) -> S2NBackend:
        """A client config: trust from the CA file, or no verification at all."""
        tls = options.tls

        # Without a server name s2n matches no certificate name (tls/s2n_connection.c s2n_default_verify_host):
        # an IP address connected to is matched against the certificate's iPAddress SANs here.
        host = options.address.host
        verify_host = None if options.server_name is not None else functools.partial(same_address, host=host)

        def build(router: _KeyLogRouter) -> Config:
            return Config(
                tls.policy, trust_pem=trust.pem, verify=trust.verify, verify_host=verify_host, alpn=tls.alpn,
                key_log=router, system_trust=False,
            )  # fmt: skip

        return cls(build, Mode.CLIENT, tls, key_log, options.server_name)

    @classmethod
    def for_server(cls, options: ServerOptions, identity: Identity, key_log: KeyLogSink | None) -> S2NBackend:
        """A server config presenting ``identity``; s2n signs through the identity's signer."""
        tls = options.tls
        served = ServerCertificate(identity.chain_pem, signer=identity.certified_key.signer)

        def build(router: _KeyLogRouter) -> Config:
            return Config(tls.policy, certificates=[served], alpn=tls.alpn, key_log=router, system_trust=False)

        return cls(build, Mode.SERVER, tls, key_log)

    def session(self, sock: socket.socket) -> S2NSession:
        """A new connection on ``sock`` (which the session then owns); the key log follows it."""
        try:
            connection = Connection(
                self._config, self._mode, server_name=self._server_name, record_size=self._record_size
            )
        except S2NError as error:
            sock.close()
            raise HandshakeFailedError(_describe(error)) from None
        session = S2NSession(sock, connection, client=self._mode is Mode.CLIENT, timeout=self._timeout)
        self._router.session = session.key_log
        return session

    def close(self) -> None:
        """Free the config (its connections are closed first by their sessions)."""
        self._config.close()

    def __enter__(self) -> S2NBackend:
        """The backend itself; ``close()`` on exit."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Free the config."""
        self.close()
