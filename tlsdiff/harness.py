"""The harness's public endpoints: one interface over an engine connection and an s2n connection.

An endpoint is built from a ``Setup`` (role, policy, certificate, seed, compatibility
switches, message layout) and driven with verbs that each return an ``Outcome``: the
bytes it wrote in answer, and a normalised status. The normalisation is the point: a
peer's fatal alert, a close_notify, a rejection and a plain answer mean the same thing
whichever implementation reports them, so the oracle compares like with like::

    with open_endpoint(Setup(Role.SERVER, "default_tls13", "ecdsa-p256", 7), "s2n") as server:
        outcome = server.deliver(client_hello_bytes)
        outcome.status, outcome.records, outcome.error

s2n configs (tens of milliseconds each) and engine configs are built once per setup and
reused; each connection gets its own seeded randomness and key log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol

from engine.config import EngineConfig, MessageLayout
from engine.connection import (
    AlertReceived,
    ConnectionClosed,
    ConnectionInfo,
    DataReceived,
    Event,
    TLSConnection,
)
from engine.errors import TLSError, UnexpectedEOFError
from engine.randomness import SeededRandomSource, StreamLabel
from s2n_bridge import Connection, Mode, S2NAlertError, S2NClosedError, S2NError
from s2n_bridge.pool import RestorePool
from tlsdiff.certs import CertSpec
from tlsdiff.decode import split_wire_records
from tlsdiff.errors_table import meaning_of
from tlsdiff.harness_configs import (
    COMPAT_MODES,
    CachedConfig,
    cached_s2n_config,
    engine_config,
    s2n_config,
)

__all__ = [
    "COMPAT_MODES",
    "Endpoint",
    "EngineEndpoint",
    "Outcome",
    "Role",
    "S2NSnapshot",
    "Setup",
    "Status",
    "endpoint_info",
    "engine_config",
    "open_endpoint",
    "open_engine",
    "restore_s2n",
    "s2n_config",
    "snapshot_s2n",
    "split_records",
]


class Role(StrEnum):
    """Which side of the handshake an endpoint plays."""

    CLIENT = "client"
    SERVER = "server"


class Status(StrEnum):
    """Where an endpoint stands after a verb, in the same words for both implementations."""

    WAITING = "waiting"  # answered (maybe with nothing); the handshake goes on
    COMPLETE = "complete"  # the handshake is complete; application data may flow
    FAILED = "failed"  # it rejected what it was given (its alert, if any, is in the output)
    PEER_ALERT = "peer_alert"  # the peer's fatal alert ended the connection
    PEER_CLOSED = "peer_closed"  # the peer's close_notify arrived
    PEER_EOF = "peer_eof"  # the peer's byte stream ended without close_notify (truncation: nothing is sent)


@dataclass(frozen=True)
class Setup:
    """What both implementations of one side are given."""

    role: Role
    policy: str
    cert_type: str
    seed: int
    compat: str = "s2n"  # a key of COMPAT_MODES; s2n itself has only its own behaviour
    layout: MessageLayout = field(default_factory=MessageLayout)
    alpn: tuple[str, ...] = ()
    server_name: str | None = "localhost"
    verify: bool = True
    served: tuple[CertSpec, ...] = ()
    trust: str = "ca"  # a client's trust anchors: one of certs.TRUST_CHOICES
    # A client's own host check for both (s2n_config_set_verify_host_callback, EngineConfig.verify_host).
    verify_host: Callable[[str], bool] | None = None

    @property
    def certificates(self) -> tuple[CertSpec, ...]:
        """The server's certificates, first added first."""
        return self.served or (CertSpec(self.cert_type),)

    @property
    def is_client(self) -> bool:
        """Whether this side is the client."""
        return self.role is Role.CLIENT


@dataclass(frozen=True)
class Outcome:
    """What an endpoint did with one verb."""

    implementation: str
    status: Status
    output: bytes
    error: str = ""  # the engine's TLSError class or s2n's error name; "" when none
    peer_alert: int | None = None
    data: bytes = b""  # application data that arrived
    handshake_type: str = ""
    last_message: str = ""
    protocol: str = ""  # the negotiated version as s2n names it ("TLSv1.3"), "NONE" before

    @property
    def records(self) -> list[bytes]:
        """The output cut into whole records (a partial tail is kept as the last item)."""
        return split_records(self.output)

    @property
    def meaning(self) -> str:
        """The error's meaning shared by both implementations (errors_table), or "" when none."""
        return meaning_of(self.error)

    @property
    def ended(self) -> bool:
        """Whether the connection is over (failed, alerted or closed by the peer)."""
        return self.status in (Status.FAILED, Status.PEER_ALERT, Status.PEER_CLOSED, Status.PEER_EOF)


def split_records(data: bytes) -> list[bytes]:
    """Cut a byte stream into records by their headers; bytes that make no whole record stay as one item."""
    records, rest = split_wire_records(data)
    return [*records, rest] if rest else records


class Endpoint(Protocol):
    """The verbs the lockstep driver needs; each returns what the endpoint wrote and where it stands."""

    implementation: str
    key_log: list[bytes]

    def start(self) -> Outcome:
        """Begin (a client writes its ClientHello); what it wrote."""

    def deliver(self, data: bytes, *, eof: bool = False) -> Outcome:
        """Give it the peer's bytes (and then the end of the stream if ``eof``); its answer."""

    def deliver_pieces(self, pieces: Sequence[bytes], *, eof: bool = False) -> Outcome:
        """The pieces given one after the other, seen as one step: one outcome for them all."""

    def send(self, data: bytes) -> Outcome:
        """Send application data; what it wrote."""

    def key_update(self, *, request_peer: bool) -> Outcome:
        """Send a KeyUpdate (asking the peer for one if ``request_peer``); what it wrote."""

    def close(self) -> Outcome:
        """Send close_notify; what it wrote."""


# ---- s2n ----


@dataclass(frozen=True)
class S2NSnapshot:
    """An established s2n endpoint as s2n serializes it (tls/s2n_connection_serialize.c: versions,
    suite, sequence numbers, secrets), with what its getters said then: a restored connection's
    getters know nothing of its handshake."""

    setup: Setup
    blob: bytes
    handshake_type: str
    protocol: str
    key_log: tuple[bytes, ...]


_AFTER_HANDSHAKE = "APPLICATION_DATA"  # s2n's last message name once the handshake is over


class _S2NEndpoint:
    implementation = "s2n"

    def __init__(
        self, connection: Connection, cached: CachedConfig, key_log: list[bytes], restored: S2NSnapshot | None = None
    ) -> None:
        self._connection = connection
        self._cached = cached
        self.key_log = key_log
        self._restored = restored
        self._complete = restored is not None
        self._ended: Outcome | None = None
        self._received = bytearray()  # what the current verb read so far
        self._released = False  # its connection went back to the pool (``restore_s2n``): no verb may use it

    def serialize(self, setup: Setup) -> S2NSnapshot | None:
        """Snapshot this established connection, or None when s2n cannot: it refuses while it holds unread input
        or unsent output (tls/s2n_connection_serialize.c:140-142). Either way s2n closes the connection."""
        if self._ended is not None or not self._complete or self._released:
            return None
        info = self._connection.info()
        try:
            blob = self._connection.serialize()
        except S2NError:
            return None
        return S2NSnapshot(setup, blob, info.handshake_type, info.protocol, tuple(self.key_log))

    def _guarded(self, action: Callable[[], Outcome]) -> Outcome:
        if self._released:
            raise RuntimeError("an s2n endpoint was used after its restore_s2n block ended")
        if self._ended is not None:
            return replace(self._ended, output=b"", data=b"")
        self._cached.router.sink = self.key_log
        self._received = bytearray()
        try:
            return action()
        except S2NError as error:
            _forget_traceback(error)
            return self._ended_by(error)
        finally:
            self._cached.router.sink = None

    def _ended_by(self, error: S2NError) -> Outcome:
        if isinstance(error, S2NAlertError):
            return self._end(Status.PEER_ALERT, error.name, peer_alert=error.alert)
        if isinstance(error, S2NClosedError):
            # S2N_ERR_CLOSED stands for both: a close_notify (the alert s2n holds is 0) or the end of the stream.
            if error.alert is None:
                return self._end(Status.PEER_EOF, error.name)
            return self._end(Status.PEER_CLOSED, error.name, answer_close=True)
        return self._end(Status.FAILED, error.name, alert=True)

    def _advance(self) -> Outcome:
        """Negotiate until blocked; once complete, read what arrived (post-handshake messages, data, close)."""
        ended = self._take_arrived()
        if ended is not None:
            return ended
        status = Status.COMPLETE if self._complete else Status.WAITING
        return self._outcome(status, self._connection.take_outgoing(), data=bytes(self._received))

    def _take_arrived(self) -> Outcome | None:
        """Negotiate and read until blocked, gathering data into ``_received``; the outcome if the peer closed."""
        if not self._complete:
            self._complete = self._connection.negotiate()
        # What arrived before a failure or an alert in the same delivery is still delivered (``_end``).
        received = self._received
        while self._complete and (chunk := self._connection.recv()) is not None:
            if chunk == b"":
                return self._end(Status.PEER_CLOSED, "", answer_close=True)
            received += chunk
        return None

    def _outcome(self, status: Status, output: bytes, *, error: str = "", **extra: object) -> Outcome:
        restored = self._restored
        if restored is not None:
            handshake_type, last_message, protocol = restored.handshake_type, _AFTER_HANDSHAKE, restored.protocol
        else:
            protocol, handshake_type, last_message = self._connection.progress()
        return Outcome(
            "s2n", status, output, error, handshake_type=handshake_type, last_message=last_message,
            protocol=protocol, **extra,  # type: ignore[arg-type]
        )  # fmt: skip

    def _end(
        self, status: Status, error: str, *, alert: bool = False, answer_close: bool = False, **extra: object
    ) -> Outcome:
        if answer_close:
            # The harness, as the application, answers close_notify with close_notify on both sides.
            with suppress(S2NError):
                self._connection.shutdown_send()
        output = self._connection.take_outgoing()
        if alert:
            output += self._connection.send_pending_alert()
        self._ended = self._outcome(status, output, error=error, data=bytes(self._received), **extra)
        return self._ended

    def start(self) -> Outcome:
        return self._guarded(self._advance)

    def deliver(self, data: bytes, *, eof: bool = False) -> Outcome:
        return self.deliver_pieces((data,), eof=eof)

    def deliver_pieces(self, pieces: Sequence[bytes], *, eof: bool = False) -> Outcome:
        """Each piece fed and read (s2n blocks between them), as one step: one outcome for them all."""

        def advance_each() -> Outcome:
            for piece in pieces[:-1]:
                self._connection.feed(piece)
                ended = self._take_arrived()
                if ended is not None:
                    return ended
            self._connection.feed(pieces[-1] if pieces else b"")
            if eof:
                self._connection.feed_eof()
            return self._advance()

        return self._guarded(advance_each)

    def send(self, data: bytes) -> Outcome:
        def write() -> Outcome:
            offset = 0
            while offset < len(data):
                offset += self._connection.send(data[offset:])
            return self._outcome(Status.COMPLETE, self._connection.take_outgoing())

        return self._guarded(write)

    def key_update(self, *, request_peer: bool) -> Outcome:
        def request() -> Outcome:
            # s2n writes the KeyUpdate with the next record it sends; so does the engine (a lazy key_update).
            self._connection.request_key_update(peer_update=request_peer)
            return self._outcome(Status.COMPLETE, self._connection.take_outgoing())

        return self._guarded(request)

    def close(self) -> Outcome:
        def shut() -> Outcome:
            self._connection.shutdown_send()
            return self._outcome(Status.COMPLETE, self._connection.take_outgoing())

        return self._guarded(shut)


# ---- engine ----


def _forget_traceback(error: BaseException) -> None:
    """Drop the traceback of an error handled here (its outcome says what it was).

    The engine keeps its error as the connection's sticky state, and the traceback's frames
    refer back to the connection: a cycle that holds the whole connection until the garbage
    collector runs. Most fuzz inputs end in an error, so without this every one of them left
    a connection graph for the collector.
    """
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:  # and of what it was raised from or during
        seen.add(id(link))
        link.__traceback__ = None
        link = link.__cause__ or link.__context__


class EngineEndpoint:
    """An engine endpoint (``open_engine``); ``connection`` is its ``TLSConnection``."""

    implementation = "engine"

    def __init__(
        self,
        connection: TLSConnection,
        key_log: list[bytes],
        take_output: Callable[[TLSConnection], bytes] | None = None,
    ) -> None:
        self.connection = connection
        self.key_log = key_log
        self._received = bytearray()  # what the current verb read so far
        # A peer whose flights the harness mutates takes its output through its own hook. (Bound
        # methods, never closures: copy.deepcopy of a snapshot must reach what they refer to.)
        self._take_output = take_output or TLSConnection.data_to_send
        self._ended: Outcome | None = None

    def _outcome(self, status: Status, *, error: str = "", **extra: object) -> Outcome:
        connection = self.connection
        if status is Status.WAITING and connection.handshake_complete:
            status = Status.COMPLETE
        protocol, handshake_type, last_message = connection.progress()
        return Outcome(
            "engine", status, self._take_output(connection), error, handshake_type=handshake_type,
            last_message=last_message, protocol=protocol, **extra,  # type: ignore[arg-type]
        )  # fmt: skip

    def _guarded(self, verb: str, data: Sequence[bytes] = (), *, request_peer: bool = False) -> Outcome:
        if self._ended is not None:
            return replace(self._ended, output=b"", data=b"")
        self._received = bytearray()  # the data of this step, kept when a later piece fails
        try:
            return self._verb(verb, data, request_peer)
        except TLSError as error:
            _forget_traceback(error)
            if isinstance(error, UnexpectedEOFError):
                self._ended = self._outcome(Status.PEER_EOF, error=type(error).__name__, data=bytes(self._received))
                return self._ended
            received = self._received + b"".join(
                event.data for event in error.events_before if isinstance(event, DataReceived)
            )
            self._ended = self._outcome(Status.FAILED, error=type(error).__name__, data=bytes(received))
            return self._ended

    def _verb(self, verb: str, data: Sequence[bytes], request_peer: bool) -> Outcome:
        connection = self.connection
        if verb == "start":
            connection.start()
        elif verb == "send":
            connection.send(data[0])
        elif verb == "key_update":
            connection.key_update(request_peer=request_peer)
        elif verb == "close":
            connection.close()
        else:
            return self._receive(data, eof=verb == "deliver_eof")
        return self._outcome(Status.WAITING)

    def _receive(self, pieces: Sequence[bytes], *, eof: bool) -> Outcome:
        receive = self.connection.receive_data
        for piece in pieces:
            # The engine reads receive_data(b"") as the end of the stream; here only ``eof`` means that.
            events = receive(piece) if piece else None
            ended = self._take_events(events) if events else None  # (most pieces of a trickle: no events)
            if ended is not None:
                return ended
        ended = self._take_events(receive(b"")) if eof else None
        return ended or self._outcome(Status.WAITING, data=bytes(self._received))

    def _take_events(self, events: list[Event]) -> Outcome | None:
        """Gather the data events into ``_received``; the outcome if the peer alerted or closed."""
        received = self._received
        for event in events:
            if isinstance(event, DataReceived):
                received += event.data
            elif isinstance(event, AlertReceived):
                self._ended = self._outcome(Status.PEER_ALERT, peer_alert=event.description, data=bytes(received))
                return self._ended
            elif isinstance(event, ConnectionClosed):
                self.connection.close()  # answer close_notify with close_notify, as s2n_shutdown does
                self._ended = self._outcome(Status.PEER_CLOSED, data=bytes(received))
                return self._ended
        return None

    def start(self) -> Outcome:
        """``Endpoint.start`` on the engine."""
        return self._guarded("start")

    def deliver(self, data: bytes, *, eof: bool = False) -> Outcome:
        """``Endpoint.deliver`` on the engine."""
        return self.deliver_pieces((data,), eof=eof)

    def deliver_pieces(self, pieces: Sequence[bytes], *, eof: bool = False) -> Outcome:
        """Each piece received in turn, as one step: one outcome for them all (it stops where one ends it)."""
        return self._guarded("deliver_eof" if eof else "deliver", pieces)

    def send(self, data: bytes) -> Outcome:
        """``Endpoint.send`` on the engine."""
        return self._guarded("send", (data,))

    def key_update(self, *, request_peer: bool) -> Outcome:
        """``Endpoint.key_update`` on the engine (lazy: sent with the next record, as s2n does)."""
        return self._guarded("key_update", request_peer=request_peer)

    def close(self) -> Outcome:
        """``Endpoint.close`` on the engine."""
        return self._guarded("close")


def open_engine(
    setup: Setup,
    take_output: Callable[[TLSConnection], bytes] | None = None,
    *,
    config: EngineConfig | None = None,
    **connection_options: object,
) -> EngineEndpoint:
    """An engine endpoint for ``setup``; ``take_output`` replaces ``data_to_send`` (a mutating peer's hook);
    ``config`` replaces ``engine_config(setup)`` (e.g. ``dataclasses.replace`` of it with other switches);
    extra keyword options go to ``TLSConnection`` (``instrumentation=``)."""
    key_log = _KeyLogLines()
    connection = TLSConnection(
        engine_config(setup) if config is None else config,
        client=setup.is_client,
        random=SeededRandomSource(setup.seed, StreamLabel.CLIENT if setup.is_client else StreamLabel.SERVER),
        server_name=setup.server_name if setup.is_client else None,
        key_log=key_log,
        **connection_options,  # type: ignore[arg-type]
    )
    return EngineEndpoint(connection, key_log, take_output)


class _KeyLogLines(list[bytes]):
    """An endpoint's key log and the connection's sink in one object: ``copy.deepcopy`` copies a
    ``list.append`` sink as itself, so a copied connection would log into the original's list."""

    def __call__(self, line: bytes) -> None:
        self.append(line)


@contextmanager
def open_endpoint(setup: Setup, implementation: str) -> Iterator[Endpoint]:
    """An endpoint of ``implementation`` ("engine" or "s2n") for ``setup``; s2n's is freed when the block ends."""
    if implementation == "engine":
        yield open_engine(setup)
        return
    if implementation != "s2n":
        raise ValueError(f"unknown implementation {implementation!r} (engine or s2n)")
    cached = cached_s2n_config(setup)
    mode = Mode.CLIENT if setup.is_client else Mode.SERVER
    name = setup.server_name if setup.is_client else None
    with Connection(cached.config, mode, seed=setup.seed, server_name=name) as connection:
        yield _S2NEndpoint(connection, cached, [])


def endpoint_info(endpoint: Endpoint) -> ConnectionInfo:
    """What an engine or s2n endpoint negotiated and where it stands, as s2n names them (``ConnectionInfo``);
    a restored s2n endpoint's getters know nothing of its handshake (see ``S2NSnapshot``)."""
    if isinstance(endpoint, _S2NEndpoint):
        return endpoint._connection.info()
    if isinstance(endpoint, EngineEndpoint):
        return endpoint.connection.info()
    raise TypeError(f"no connection info for a {endpoint.implementation} endpoint")


def snapshot_s2n(endpoint: Endpoint, setup: Setup) -> S2NSnapshot | None:
    """Serialize an established s2n endpoint of ``setup`` (which it uses up), or None when s2n cannot:
    it refuses while it holds unread input or unsent output (tls/s2n_connection_serialize.c:140-142)."""
    return endpoint.serialize(setup) if isinstance(endpoint, _S2NEndpoint) else None


_POOL = RestorePool()  # one restore per fuzz input: connections are wiped and reused


@contextmanager
def restore_s2n(snapshot: S2NSnapshot) -> Iterator[Endpoint]:
    """A fresh s2n endpoint in the state ``snapshot`` was taken in; its connection is wiped when the block ends."""
    setup = snapshot.setup
    cached = cached_s2n_config(setup)
    mode = Mode.CLIENT if setup.is_client else Mode.SERVER
    with _POOL.restored(cached.config, mode, snapshot.blob, seed=setup.seed) as connection:
        yield (endpoint := _S2NEndpoint(connection, cached, list(snapshot.key_log), restored=snapshot))
        endpoint._released = True  # (if the block raised, the pool freed the connection: it refuses use itself)
