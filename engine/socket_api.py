"""A blocking socket API over the sans-IO ``TLSConnection``.

    with connect("example.com", 443, config, timeout=10) as tls:   # TCP connect, SNI, handshake
        tls.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
        reply = tls.recv_available()

    with socket.create_server(("127.0.0.1", 8443)) as listener, accept(listener, server_config) as tls:
        request = tls.recv_available()

``TLSSocket`` also wraps a socket the caller connected (``TLSSocket(sock, TLSConnection(...))``).

Errors: every method raises only ``EngineError`` subclasses. A ``TLSError`` is raised after
the engine's alert went out; ``PeerAlertError`` when the peer's alert arrives, whatever the
step (during the handshake, before a server saw any ClientHello, while ``close()`` waits);
``TransportError`` when the socket fails or the peer hangs up TCP without close_notify;
``TLSTimeoutError`` when a call runs out of time. After any of them but a read timeout the
``TLSSocket`` is done: every later call raises the same error (``close()`` still closes).

Timeouts: ``timeout`` (or ``settimeout``) bounds each call as a whole, not each socket
operation: a peer that dribbles bytes cannot keep ``do_handshake`` or ``recv`` going. With
None the socket's own timeout applies, per operation. A read that times out loses nothing
(records already read stay buffered), so the call may be retried.

Every byte written and read is also kept in ``wire`` (direction, bytes) when
``record_wire`` is set, so a TCP run can be compared with an in-memory transcript.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from contextlib import ExitStack, suppress
from types import TracebackType

from engine.config import EngineConfig
from engine.connection import AlertReceived, ConnectionClosed, ConnectionInfo, DataReceived, TLSConnection
from engine.errors import (
    AlertDescription,
    EngineError,
    PeerAlertError,
    TLSError,
    TLSTimeoutError,
    TransportError,
    UnexpectedEOFError,
)
from engine.handshake.context import KeyLogSink
from engine.keylog import key_log_from_env

__all__ = ["DEFAULT_CLOSE_TIMEOUT", "TLSSocket", "accept", "connect"]

_READ_SIZE = 65536

DEFAULT_CLOSE_TIMEOUT = 2.0
"""Seconds ``close()`` waits for the peer's close_notify when not told otherwise."""

# How long an alert may take to go out after a failure: a courtesy, which must not make the failure hang.
_ALERT_SEND_TIMEOUT = 0.5


class TLSSocket:
    """A connected socket and the TLS connection running over it.

    ``timeout`` bounds each blocking call (seconds; None leaves the socket's own timeout
    alone). The handshake runs on the first call that needs it, or on ``do_handshake()``.
    Usable with ``with`` (``close()`` on exit).
    """

    def __init__(
        self,
        sock: socket.socket,
        connection: TLSConnection,
        *,
        timeout: float | None = None,
        record_wire: bool = False,
    ) -> None:
        """Wrap ``sock`` (connected) and ``connection`` (not started); nothing is sent yet."""
        self.sock = sock
        self.connection = connection
        self.wire: list[tuple[str, bytes]] | None = [] if record_wire else None
        self.peer_closed = False
        self._buffer = bytearray()
        self._timeout = timeout
        self._failure: EngineError | None = None
        self._closing = False
        self._closed = False
        # What close() closes besides the socket (a key log connect() or accept() opened).
        self._resources = ExitStack()
        if timeout is not None:
            sock.settimeout(timeout)

    # ---- the calls ----

    def do_handshake(self) -> None:
        """Run the handshake to completion (nothing happens once it is complete)."""
        self._check_usable()
        deadline = self._deadline()
        self._call(self.connection.start)
        self._flush(deadline)
        while not self.connection.handshake_complete:
            self._receive(deadline)
            if self.peer_closed and not self.connection.handshake_complete:
                # s2n-tls (Compat.generic_close_notify) answers most failures with close_notify.
                raise self._fail(PeerAlertError(AlertDescription.CLOSE_NOTIFY, "during the handshake"))

    def sendall(self, data: bytes) -> None:
        """Send application data (after the handshake, which runs first if needed)."""
        self.do_handshake()
        self._call(lambda: self.connection.send(data))
        self._flush(self._deadline())

    def recv(self, size: int) -> bytes:
        """Exactly ``size`` bytes of application data, or fewer if the peer's close_notify comes first."""
        if size < 0:
            raise ValueError(f"negative size {size}")
        self.do_handshake()
        deadline = self._deadline()
        while len(self._buffer) < size and not self.peer_closed:
            self._receive(deadline)
        return self._take(size)

    def recv_available(self, max_size: int = _READ_SIZE) -> bytes:
        """Up to ``max_size`` bytes of what has arrived, waiting only until there is some; b"" after close_notify."""
        if max_size < 1:
            raise ValueError(f"max_size {max_size} is not positive")
        self.do_handshake()
        deadline = self._deadline()
        while not self._buffer and not self.peer_closed:
            self._receive(deadline)
        return self._take(max_size)

    def send_close_notify(self) -> None:
        """Send our close_notify and keep reading: a TLS 1.3 half close (``recv*`` go on until the peer's).

        ``close()`` later does not send a second one; ``sendall`` after it is an error.
        """
        self.do_handshake()
        self._call(self.connection.close)
        self._flush(self._deadline())

    def settimeout(self, timeout: float | None) -> None:
        """Bound each later call by ``timeout`` seconds (None: block, as the socket does)."""
        self._timeout = timeout
        self.sock.settimeout(timeout)

    def gettimeout(self) -> float | None:
        """The bound ``settimeout`` (or the constructor) set, or None."""
        return self._timeout

    def pending(self) -> int:
        """How many bytes of application data are read and waiting (``select`` on ``fileno()`` cannot see them)."""
        return len(self._buffer)

    def fileno(self) -> int:
        """The socket's file descriptor (for ``select``; read and write only through this object)."""
        return self.sock.fileno()

    def info(self) -> ConnectionInfo:
        """What the connection negotiated (``TLSConnection.info``): version, suite, group, ALPN, SNI, HRR, ..."""
        return self.connection.info()

    def close(self, timeout: float | None = None) -> None:
        """Send close_notify, wait at most ``timeout`` seconds for the peer's, then close the socket.

        ``timeout`` defaults to ``DEFAULT_CLOSE_TIMEOUT``; 0 does not wait. The socket is
        closed whatever happens, and a peer that already left (reset, EOF, silence) raises
        nothing. Only an alert that arrives while waiting is raised (``PeerAlertError``).
        Nothing is sent when the handshake did not complete or the connection failed; a
        second call does nothing.
        """
        if self._closed:
            return
        self._closing = True
        try:
            self._say_goodbye(DEFAULT_CLOSE_TIMEOUT if timeout is None else timeout)
        finally:
            self._closed = True
            with self._resources:
                self.sock.close()

    def __enter__(self) -> TLSSocket:
        """The socket itself; ``close()`` on exit."""
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        """Close; when the block raised, an alert seen while closing does not hide that error."""
        if error is None:
            self.close()
            return
        with suppress(EngineError):  # the block's own error propagates
            self.close()

    # ---- internals ----

    def _say_goodbye(self, wait: float) -> None:
        connection = self.connection
        if self._failure is not None or connection.error is not None or not connection.handshake_complete:
            return
        try:
            connection.close()
        except TLSError:
            return
        self._send_quietly(max(wait, _ALERT_SEND_TIMEOUT))
        deadline = time.monotonic() + wait
        try:
            while not self.peer_closed:
                self._receive(deadline)
        except PeerAlertError:
            raise
        except EngineError:
            return  # the peer left, stayed silent or misbehaved: the socket is closed anyway

    def _check_usable(self) -> None:
        if self._closed:
            raise TransportError("the TLS socket is closed")
        if self._failure is not None:
            raise self._failure

    def _fail(self, error: EngineError) -> EngineError:
        """Remember ``error`` (every later call raises it) and return it, for ``raise``."""
        self._failure = error
        return error

    def _deadline(self) -> float | None:
        return None if self._timeout is None else time.monotonic() + self._timeout

    def _arm(self, deadline: float | None) -> None:
        """Give the next socket operation what is left of the call's time (None: the socket's own timeout)."""
        if deadline is None:
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TLSTimeoutError("timed out")
        self.sock.settimeout(remaining)

    def _call(self, verb: Callable[[], None]) -> None:
        """A connection verb; on a TLSError, its alert goes out before the error is raised."""
        try:
            verb()
        except TLSError as error:
            self._send_quietly(_ALERT_SEND_TIMEOUT)
            raise self._fail(error) from None

    def _send_quietly(self, timeout: float) -> None:
        """Send what the connection queued (an alert), within ``timeout``, ignoring any socket failure."""
        data = self.connection.data_to_send()
        if not data:
            return
        self._record(True, data)
        try:
            previous = self.sock.gettimeout()
            self.sock.settimeout(timeout)
            try:
                self.sock.sendall(data)
            finally:
                self.sock.settimeout(previous)
        except OSError:
            pass  # the peer may have gone; the error that brought us here, if any, is what matters

    def _flush(self, deadline: float | None) -> None:
        data = self.connection.data_to_send()
        if not data:
            return
        self._record(True, data)
        try:
            self._arm(deadline)
            self.sock.sendall(data)
        except TimeoutError:
            # Part of a record may be out: the stream cannot go on.
            raise self._fail(TLSTimeoutError("timed out sending to the peer")) from None
        except OSError as error:
            raise self._fail(TransportError(f"sending to the peer failed: {error}")) from error

    def _receive(self, deadline: float | None) -> None:
        """Read once from the socket, hand the bytes to the connection, send what it answers."""
        try:
            self._arm(deadline)
            data = self.sock.recv(_READ_SIZE)
        except TimeoutError:
            raise TLSTimeoutError("timed out waiting for the peer") from None  # nothing lost: not sticky
        except OSError as error:
            raise self._fail(TransportError(f"receiving from the peer failed: {error}")) from error
        if data:
            self._record(False, data)
        try:
            events = self.connection.receive_data(data)
        except UnexpectedEOFError as error:
            where = "during the handshake" if not self.connection.handshake_complete else "without close_notify"
            raise self._fail(TransportError(f"the peer closed the TCP connection {where}")) from error
        except TLSError as error:
            self._send_quietly(_ALERT_SEND_TIMEOUT)
            raise self._fail(error) from None
        for event in events:
            if isinstance(event, DataReceived) and not self._closing:
                self._buffer += event.data
            elif isinstance(event, ConnectionClosed):
                self.peer_closed = True
            elif isinstance(event, AlertReceived):
                step = "during the handshake" if not self.connection.handshake_complete else ""
                raise self._fail(PeerAlertError(event.description, step))
        self._flush(deadline)

    def _take(self, size: int) -> bytes:
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def _record(self, outgoing: bool, data: bytes) -> None:
        if self.wire is not None:
            client = self.connection.is_client
            self.wire.append(("client->server" if outgoing == client else "server->client", data))


def _is_ip_literal(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _open(host: str, port: int, timeout: float | None) -> socket.socket:
    try:
        return socket.create_connection((host, port), timeout=timeout)
    except TimeoutError:
        raise TLSTimeoutError(f"connecting to {host}:{port} timed out") from None
    except OSError as error:
        raise TransportError(f"cannot connect to {host}:{port}: {error}") from error


def _accept(listener: socket.socket, timeout: float | None) -> socket.socket:
    previous = listener.gettimeout()
    if timeout is not None:
        listener.settimeout(timeout)
    try:
        return listener.accept()[0]
    except TimeoutError:
        raise TLSTimeoutError(f"no connection within {timeout} s") from None
    except OSError as error:
        raise TransportError(f"accepting a connection failed: {error}") from error
    finally:
        if timeout is not None:
            listener.settimeout(previous)


def _key_log(resources: ExitStack, key_log: KeyLogSink | None) -> KeyLogSink | None:
    """``key_log``, or one from SSLKEYLOGFILE that ``resources`` will close."""
    if key_log is not None:
        return key_log
    env_log = key_log_from_env()
    if env_log is not None:
        resources.callback(env_log.close)
    return env_log


def _handshake(
    resources: ExitStack, sock: socket.socket, connection: TLSConnection, timeout: float | None
) -> TLSSocket:
    """The handshake over ``sock``; on failure the socket and ``resources`` are closed, else the socket owns them."""
    tls = TLSSocket(sock, connection, timeout=timeout)
    with ExitStack() as on_failure:
        on_failure.callback(tls.close, 0)
        tls._resources.enter_context(resources)
        tls.do_handshake()
        on_failure.pop_all()
    return tls


def connect(
    host: str,
    port: int,
    config: EngineConfig,
    *,
    server_name: str | None = None,
    timeout: float | None = None,
    key_log: KeyLogSink | None = None,
) -> TLSSocket:
    """Connect over TCP and run a client handshake; return the ``TLSSocket``.

    The server's certificate is checked against ``server_name``, or ``host`` when it is
    None. A DNS name is also sent as SNI; an IP address literal is not (RFC 6066 section 3:
    "Literal IPv4 and IPv6 addresses are not permitted in HostName") and is matched against
    the certificate's iPAddress SANs only. ``key_log`` defaults to ``key_log_from_env()``
    (SSLKEYLOGFILE), which the returned socket closes with itself.

        >>> with connect("127.0.0.1", 8443, EngineConfig(trust_anchors=anchors)) as tls:  # doctest: +SKIP
        ...     tls.sendall(b"ping")
    """
    name = host if server_name is None else server_name
    # s2n-tls sends whatever server name it is given, an IP literal too (tls/extensions/s2n_client_server_name.c:
    # should_send is "server_name[0] != 0"), and verifies that one string (reference_identity in
    # engine/handshake/certificates.py). Here an IP address is verified but, as RFC 6066 section 3 wants, not sent.
    sni = None if _is_ip_literal(name) else name
    with ExitStack() as resources:
        key_log = _key_log(resources, key_log)
        connection = TLSConnection(config, client=True, server_name=sni, verify_name=name, key_log=key_log)
        sock = _open(host, port, timeout)
        return _handshake(resources.pop_all(), sock, connection, timeout)


def accept(
    listener: socket.socket, config: EngineConfig, *, timeout: float | None = None, key_log: KeyLogSink | None = None
) -> TLSSocket:
    """Accept one TCP connection on ``listener`` and run a server handshake; return the ``TLSSocket``.

    ``timeout`` bounds the wait for a connection and then each call, as for ``connect``;
    the listener's own timeout is left as it was. ``key_log`` defaults to
    ``key_log_from_env()``. A failed handshake closes the accepted socket and raises.

        >>> with socket.create_server(("127.0.0.1", 8443)) as listener:  # doctest: +SKIP
        ...     with accept(listener, EngineConfig(certificates=(served,))) as tls:
        ...         tls.sendall(tls.recv_available())
    """
    with ExitStack() as resources:
        connection = TLSConnection(config, client=False, key_log=_key_log(resources, key_log))
        sock = _accept(listener, timeout)
        return _handshake(resources.pop_all(), sock, connection, timeout)
