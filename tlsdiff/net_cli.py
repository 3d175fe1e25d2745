"""``tlsdiff client HOST:PORT`` and ``tlsdiff server [HOST:]PORT``: TLS 1.3 on sockets, as s_client/s_server.

Either implementation (``--implementation engine|s2n``) runs behind one ``Session``;
the handshake trace (each message sent and received, then what was negotiated) and
every status line go to stderr, application data to stdout, so ``echo hi | tlsdiff
client ...`` pipes cleanly. Exit status: 0 for a clean close, 1 when a connection fails
(refused handshake, TLS error, connection refused, timeout), 2 for bad flags or files.

The pipe: stdin goes to the peer and the peer's data to stdout. When stdin ends, this
side sends close_notify and keeps reading until the peer's close_notify (TLS 1.3 half
close), each wait bounded by ``--timeout``. ``--www`` answers each connection's HTTP
request with a status page instead (``tlsdiff.net_www``). A server serves one
connection at a time until stopped (or one with ``--once``), each bounded by the
timeout, so a stalled or misbehaving client delays the next one by at most that much.
"""

from __future__ import annotations

import argparse
import os
import selectors
import socket
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any, BinaryIO, Protocol

from engine.keylog import KeyLogFile
from tlsdiff.net_options import (
    Address,
    ClientOptions,
    ServerOptions,
    TLSOptions,
    add_client_arguments,
    add_server_arguments,
    client_options,
    load_identity,
    load_key_log,
    load_trust,
    server_options,
)
from tlsdiff.net_session import (
    ConnectFailedError,
    NetError,
    Session,
    TimedOutError,
    UsageError,
    directions,
)
from tlsdiff.net_trace import WireTrace, summary_lines
from tlsdiff.net_www import read_request, response_for

__all__ = ["Backend", "Trace", "add_net_commands", "run_client", "run_server"]

_STDIN_READ = 16384
_SIGPIPE_STATUS = 128 + 13  # what a shell reports for a process killed by SIGPIPE
_Note = Callable[[str], None]


class Backend(Protocol):
    """One implementation's configuration for a command: it makes the sessions (``tlsdiff.net_engine``,
    ``tlsdiff.net_s2n``)."""

    name: str

    def session(self, sock: socket.socket) -> Session:
        """A TLS session on a connected socket, which it then owns."""

    def close(self) -> None:
        """Free what the backend holds."""


def _note_printer(prog: str) -> _Note:
    def note(message: str) -> None:
        print(f"{prog}: {message}", file=sys.stderr, flush=True)

    return note


def _trace_printer(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _open_key_log(tls: TLSOptions, stack: ExitStack) -> KeyLogFile | None:
    """The key-log file the flags (or ``$SSLKEYLOGFILE``) name, closed when ``stack`` ends."""
    key_log = load_key_log(tls)
    if key_log is not None:
        stack.callback(key_log.close)
    return key_log


def _client_backend(options: ClientOptions, stack: ExitStack) -> Backend:
    trust = load_trust(options)
    key_log = _open_key_log(options.tls, stack)
    if options.tls.implementation == "s2n":
        from tlsdiff.net_s2n import S2NBackend  # noqa: PLC0415  (needs the built bridge)

        return stack.enter_context(S2NBackend.for_client(options, trust, key_log))
    from tlsdiff.net_engine import EngineBackend  # noqa: PLC0415

    return EngineBackend.for_client(options, trust, key_log)


def _server_backend(options: ServerOptions, stack: ExitStack, note: _Note) -> Backend:
    identity = load_identity(options, note)
    key_log = _open_key_log(options.tls, stack)
    if options.tls.implementation == "s2n":
        from tlsdiff.net_s2n import S2NBackend  # noqa: PLC0415

        return stack.enter_context(S2NBackend.for_server(options, identity, key_log))
    from tlsdiff.net_engine import EngineBackend  # noqa: PLC0415

    return EngineBackend.for_server(options, identity, key_log)


def _connect(address: Address, timeout: float) -> socket.socket:
    try:
        return socket.create_connection((address.host, address.port), timeout=timeout)
    except socket.gaierror as error:
        raise ConnectFailedError(f"{address}: cannot resolve the host name ({error.strerror})") from None
    except TimeoutError:
        raise ConnectFailedError(f"{address}: no answer in {timeout:g} s") from None
    except OSError as error:
        raise ConnectFailedError(f"{address}: {(error.strerror or str(error)).lower()}") from None


class Trace(Protocol):
    """What the commands ask of a trace (``WireTrace``, or nothing with ``--quiet``)."""

    def update(self) -> None:
        """Show what crossed the wire since the last call."""

    def settle(self) -> None:
        """The handshake is over."""

    def finish(self) -> None:
        """The connection is over."""


class _NoTrace:
    """--quiet: nothing is decoded, and the wire is not kept."""

    def __init__(self, wire: list[tuple[str, bytes]]) -> None:
        self._wire = wire

    def update(self) -> None:
        self._wire.clear()

    settle = finish = update


def _trace_for(session: Session, tls: TLSOptions, *, client: bool) -> Trace:
    if tls.quiet:
        return _NoTrace(session.wire)
    outgoing, _ = directions(client=client)
    trace = WireTrace(session.wire, session.key_log, outgoing, _trace_printer)
    session.wire.observer = trace.update  # live: each message when it crosses the socket
    return trace


def _handshake(session: Session, trace: Trace, tls: TLSOptions, note: _Note) -> None:
    """The handshake, its trace (also when it fails) and the negotiated parameters."""
    try:
        session.handshake()
    finally:
        trace.settle()
    if not tls.quiet:
        note("handshake complete")
        for line in summary_lines(session.info(), session.implementation):
            _trace_printer(line)


class _Output(Protocol):
    """Where the peer's data goes: stdout, or nowhere."""

    def write(self, data: bytes, /) -> int:
        """Write all of ``data``."""

    def flush(self) -> None:
        """Push it out now."""


class _StdoutClosedError(Exception):
    """stdout's reader went away (``tlsdiff client ... | head``)."""


def _write_out(stdout: _Output, data: bytes) -> None:
    try:
        stdout.write(data)
        stdout.flush()
    except BrokenPipeError:
        raise _StdoutClosedError from None  # told apart from a socket's broken pipe


def _pipe(
    session: Session,
    trace: Trace,
    stdin: BinaryIO | None,
    stdout: _Output,
    timeout: float,
    *,
    deadline: float | None = None,
) -> None:
    """stdin to the peer, the peer's data to stdout, until the peer closes; see the module docstring.

    Once stdin is done, each wait for the peer is bounded by ``timeout``, and the whole by ``deadline``
    (a ``time.monotonic()`` value) if given.
    """
    # poll, not epoll: stdin may be a regular file, which epoll refuses.
    with selectors.PollSelector() as selector:
        selector.register(session.fileno(), selectors.EVENT_READ, session)
        if stdin is not None:
            selector.register(stdin.fileno(), selectors.EVENT_READ, stdin)
        else:
            session.close_send()
        wait = False  # first what the handshake read along with its last flight
        while (data := session.receive(wait=wait)) is not None:
            trace.update()
            if data:
                _write_out(stdout, data)
                # What came with it (the peer's close_notify, more records) is read; select would not see it.
                wait = False
                continue
            wait_for = None if stdin is not None else _wait(timeout, deadline)
            events = selector.select(wait_for) if wait_for is None or wait_for > 0 else []
            if not events:
                raise TimedOutError(f"the peer did not close within {timeout:g} s of this side's close_notify")
            wait = any(key.data is session for key, _ in events)
            if stdin is not None and any(key.data is stdin for key, _ in events):
                stdin = _forward(stdin, session, selector)
                trace.update()
        trace.update()
        session.close_send()  # the peer is done: so is this side (a no-op if it already was)


def _wait(timeout: float, deadline: float | None) -> float:
    return timeout if deadline is None else min(timeout, deadline - time.monotonic())


def _forward(stdin: BinaryIO, session: Session, selector: selectors.BaseSelector) -> BinaryIO | None:
    """One read of stdin to the peer; at its end, close_notify, and None: stdin is read no more."""
    chunk = os.read(stdin.fileno(), _STDIN_READ)
    if chunk:
        session.send(chunk)
        return stdin
    selector.unregister(stdin.fileno())
    session.close_send()
    return None


def run_client(args: argparse.Namespace) -> int:
    """``tlsdiff client``: connect, handshake (traced), pipe stdin and stdout; the exit status."""
    note = _note_printer("tlsdiff client")
    try:
        options = client_options(args)
        with ExitStack() as stack:
            backend = _client_backend(options, stack)
            sock = _connect(options.address, options.tls.timeout)
            session = backend.session(sock)
            stack.callback(session.close)
            if not options.tls.quiet:
                note(f"connected to {options.address} ({backend.name})")
            trace = _trace_for(session, options.tls, client=True)
            try:
                _handshake(session, trace, options.tls, note)
                _pipe(session, trace, _stdin(), sys.stdout.buffer, options.tls.timeout)
            finally:
                trace.finish()
    except UsageError as error:
        note(str(error))
        return 2
    except NetError as error:
        note(f"{error.kind}: {error}")
        return 1
    except KeyboardInterrupt:
        note("interrupted")
        return 130
    except _StdoutClosedError:
        return _stdout_gone()
    if not options.tls.quiet:
        note("closed")
    return 0


def _stdout_gone() -> int:
    """stdout's reader left (``| head``): stop quietly with the shell's SIGPIPE status, as ``openssl s_client`` does.

    stdout is pointed at /dev/null first, so the interpreter's last flush does not fail too.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return _SIGPIPE_STATUS


def _listen(address: Address) -> socket.socket:
    try:
        return socket.create_server((address.host, address.port))
    except socket.gaierror as error:
        raise UsageError(f"cannot resolve {address.host}: {error.strerror}") from None
    except OSError as error:
        raise UsageError(f"cannot listen on {address}: {(error.strerror or str(error)).lower()}") from None


class _Server:
    """The accept loop: one connection at a time, each traced and ended on its own."""

    def __init__(self, options: ServerOptions, backend: Backend, note: _Note) -> None:
        self.options = options
        self.backend = backend
        self.note = note
        self.count = 0
        self.stdin: BinaryIO | None = None if options.www else _stdin()

    def serve(self, listener: socket.socket) -> int:
        """Accept and serve until stopped (with ``--once``: one connection, and its status)."""
        while True:
            sock, peer_address = listener.accept()
            self.count += 1
            label = f"connection {self.count} from {_peer_name(peer_address)}"
            try:
                status = self.serve_one(sock, label)
            except _StdoutClosedError:
                raise  # nowhere left to write what clients send: stop serving
            except Exception as error:  # a bug (the engine's or ours) must not take the server down: say it, go on
                self.note(f"{label}: internal error: {type(error).__name__}: {error}")
                status = 1
            if self.options.once:
                return status

    def serve_one(self, sock: socket.socket, label: str) -> int:
        """One connection, from handshake to close; its status (0 when it closed cleanly)."""
        tls = self.options.tls

        def note(message: str) -> None:
            self.note(f"{label}: {message}")

        if not tls.quiet:
            self.note(label)
        try:
            session = self.backend.session(sock)
        except NetError as error:
            note(f"{error.kind}: {error}")
            return 1
        trace = _trace_for(session, tls, client=False)
        failure: NetError | None = None
        try:
            _handshake(session, trace, tls, note)
            if self.options.www:
                self._answer(session, trace, label)
            else:
                _pipe(session, trace, self.stdin, sys.stdout.buffer, tls.timeout)
        except NetError as error:
            failure = error
        finally:
            trace.finish()  # the trace first, then how it ended
            session.close()
        if failure is not None:
            note(f"{failure.kind}: {failure}")
            return 1
        if not tls.quiet:
            note("closed")
        return 0

    def _answer(self, session: Session, trace: Trace, label: str) -> None:
        """--www: one request, its answer, close_notify, and the client's (each step bounded by the timeout)."""
        timeout = self.options.tls.timeout
        request = read_request(session, timeout)
        trace.update()
        if request is not None:
            session.send(response_for(request, session.info(), session.implementation, label))
        # The client has the timeout, all told, to close: one that goes on sending must not hold the server.
        _pipe(session, trace, None, _Discard(), timeout, deadline=time.monotonic() + timeout)


class _Discard:
    """stdout for a --www connection: what a client sends after its request is not printed."""

    def write(self, data: bytes) -> int:
        return len(data)

    def flush(self) -> None:
        return None


def _stdin() -> BinaryIO | None:
    return None if sys.stdin is None else sys.stdin.buffer  # None when the process was started without one


def _peer_name(peer_address: Any) -> str:
    host, port = peer_address[0], peer_address[1]
    return str(Address(host, port))


def run_server(args: argparse.Namespace) -> int:
    """``tlsdiff server``: listen, then serve connections (traced) until stopped; the exit status."""
    note = _note_printer("tlsdiff server")
    try:
        options = server_options(args)
        with ExitStack() as stack:
            backend = _server_backend(options, stack, note)
            listener = stack.enter_context(_listen(options.address))
            host, port = listener.getsockname()[:2]
            mode = "--www" if options.www else "stdin/stdout"
            note(f"listening on {Address(host, port)} ({backend.name}, policy {options.tls.policy}, {mode})")
            return _Server(options, backend, note).serve(listener)
    except UsageError as error:
        note(str(error))
        return 2
    except KeyboardInterrupt:
        note("stopped")
        return 130
    except _StdoutClosedError:
        return _stdout_gone()


def add_net_commands(commands: Any) -> None:
    """Add ``client`` and ``server`` to the ``tlsdiff`` parser."""
    client = commands.add_parser("client", help="connect to a TLS 1.3 server, trace the handshake, pipe stdin/stdout")
    add_client_arguments(client)
    client.set_defaults(run=run_client)
    server = commands.add_parser("server", help="serve TLS 1.3, trace each handshake, pipe stdin/stdout or --www")
    add_server_arguments(server)
    server.set_defaults(run=run_server)
