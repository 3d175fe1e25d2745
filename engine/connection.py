"""``TLSConnection``: the engine's sans-IO facade (bytes in, events and bytes out).

    connection = TLSConnection(config, client=True, server_name="localhost")
    connection.start()                      # a client queues its ClientHello
    wire = connection.data_to_send()
    events = connection.receive_data(peer_bytes)
    connection.send(b"hello")               # after HandshakeComplete
    connection.close()                      # close_notify
    connection.receive_data(b"")            # the transport ended (EOF)

Roles: a server waits for a ClientHello from the start; a client waits for
``start()``, and bytes it receives before that are an ``UnexpectedMessageError``.
``start()`` is a no-op for a server and after the first call.

Errors: any ``TLSError`` raised by a verb (``start``, ``receive_data``, ``send``,
``key_update``, ``close``) queues the alert it names (protected when keys are in
use; see ``Compat.generic_close_notify``), puts the connection in a sticky error
state and propagates; from then on every verb raises that same error, while
``data_to_send()`` still hands out the queued alert and ``info()`` still answers.
A fatal alert from the peer (``AlertReceived``) ends the connection the same way,
without an alert of ours. Anything other than a ``TLSError`` escaping is a bug.

End of stream, as h11 has it: ``receive_data(b"")`` means the transport ended.

- During the handshake it raises ``UnexpectedEOFError``.
- After the handshake, without the peer's close_notify, it raises
  ``UnexpectedEOFError`` too (a truncation: the peer may not have said everything).
- After the peer's close_notify (``ConnectionClosed``) it is a no-op returning ``[]``.

In both error cases the connection enters its error state *without* queuing an
alert: s2n-tls writes nothing when its peer hangs up, and there is no one to read it.

Configuration that cannot work is refused when it is built: ``EngineConfig`` checks
itself, and the constructor checks what depends on the role (a server needs a
certificate; a client's server name must fit the server_name extension), raising
``engine.errors.ConfigurationError``, which is not a ``TLSError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import NamedTuple

from engine.config import EngineConfig
from engine.crypto.key_exchange import GROUP_NAMES
from engine.crypto.signer import SignatureScheme
from engine.errors import (
    AlertDescription,
    ConfigurationError,
    InternalError,
    TLSError,
    UnexpectedEOFError,
    UnexpectedMessageError,
)
from engine.handshake.client import AwaitingStart, start_client
from engine.handshake.context import HandshakeContext, KeyLogSink
from engine.handshake.names import handshake_type_name
from engine.handshake.post import (
    check_post_handshake_fragment,
    flush_key_update,
    handle_post_handshake,
    request_key_update,
)
from engine.handshake.server import ExpectClientHello
from engine.handshake.state import State
from engine.instrument import Instrumentation, PlaintextRecord
from engine.randomness import OsRandomSource, RandomSource
from engine.record.layer import SSLV2_RECORD, ContentType, RecordLayer, RecordReading
from engine.record.protection import RecordProtection
from engine.wire.record import Alert

__all__ = [
    "AlertReceived",
    "ConnectionClosed",
    "ConnectionInfo",
    "DataReceived",
    "Event",
    "HandshakeComplete",
    "Progress",
    "TLSConnection",
]

_NO_INSTRUMENTATION = Instrumentation()


@dataclass(frozen=True)
class HandshakeComplete:
    """Both Finished messages are verified; application data may flow."""


@dataclass(frozen=True)
class DataReceived:
    """Application data from the peer."""

    data: bytes


@dataclass(frozen=True)
class AlertReceived:
    """The peer sent an error alert; the connection is over."""

    description: int


@dataclass(frozen=True)
class ConnectionClosed:
    """The peer sent close_notify."""


Event = HandshakeComplete | DataReceived | AlertReceived | ConnectionClosed


class Progress(NamedTuple):
    """Where a connection's state machine stands, in s2n's names: the ``ConnectionInfo`` fields
    a lockstep comparison reads after every step, without the rest's cost."""

    protocol: str
    handshake_type: str
    last_message: str


@dataclass(frozen=True)
class ConnectionInfo:
    """What a connection negotiated and where its state machine is, named as s2n-tls names them.

    ``s2n_bridge`` reports s2n's connections in this class too, with the same conventions: ``protocol``
    "TLSv1.3" once a cipher suite is chosen, else "NONE"; ``cipher`` s2n's suite name
    (``TLS_AES_128_GCM_SHA256``) or "NONE"; ``group`` ``secp256r1``/``x25519``/... or
    "NONE"; ``signature_scheme`` the lowercase ``SignatureScheme`` name of the server's
    CertificateVerify or "NONE"; ``handshake_type`` and ``last_message`` as
    ``s2n_connection_get_handshake_type_name``/``_get_last_message_name``; ``alpn`` and
    ``server_name`` or None; the byte counts of what crossed the transport. ``hello_retry`` says
    whether the handshake had a HelloRetryRequest.
    """

    protocol: str
    cipher: str
    group: str
    signature_scheme: str
    handshake_type: str
    last_message: str
    alpn: str | None
    server_name: str | None
    wire_bytes_in: int
    wire_bytes_out: int

    @property
    def hello_retry(self) -> bool:
        """Whether the handshake type includes HELLO_RETRY_REQUEST (the server asked for another key share)."""
        return "HELLO_RETRY_REQUEST" in self.handshake_type.split("|")


def _check_role(config: EngineConfig, client: bool, server_name: str | None, verify_name: str | None) -> None:
    """What ``EngineConfig`` cannot check alone, because it depends on the role."""
    if not client and not config.certificates:
        raise ConfigurationError("a server needs at least one certificate")
    # RFC 6066 section 3: a HostName is 1 to 2^16-1 ASCII bytes; s2n takes at most 255 (S2N_MAX_SERVER_NAME).
    for kind, name in (("server name", server_name), ("name to verify", verify_name)):
        if name is not None and (not name.isascii() or not 1 <= len(name) <= 0xFF):
            raise ConfigurationError(f"{kind} {name!r} is not 1 to 255 ASCII characters")


class TLSConnection:
    """One TLS 1.3 connection, client or server, with no I/O of its own."""

    def __init__(
        self,
        config: EngineConfig,
        *,
        client: bool,
        random: RandomSource | None = None,
        server_name: str | None = None,
        key_log: KeyLogSink | None = None,
        instrumentation: Instrumentation | None = None,
        verify_name: str | None = None,
    ) -> None:
        """A connection for one side (``client``); a client sends ``server_name`` as SNI.

        ``verify_name`` is the name a client checks the server's certificate against: a DNS
        name, or an IP address literal matched against iPAddress SANs only; by default
        ``server_name`` (one string for both, as s2n-tls has it, which also sends an IP literal
        as SNI). To follow RFC 6066 section 3 for an IP address, give it as ``verify_name``
        with no ``server_name`` (``engine.socket_api.connect`` does). ``key_log`` receives
        one NSS key-log line per secret (``engine.keylog.KeyLogFile``).
        """
        _check_role(config, client, server_name, verify_name)
        hooks = instrumentation or _NO_INSTRUMENTATION
        compat = config.compat
        reading = RecordReading(
            compat.oversized_plaintext_records,
            compat.s2n_record_framing,
            compat.record_version_check,
            compat.inner_plaintext_slack,
        )
        records = RecordLayer(config.max_record_plaintext, reading=reading, defer_sealing=hooks.defer_sealing)
        records.allow_plaintext_alerts = config.compat.plaintext_alerts_in_handshake
        self.ctx = HandshakeContext(
            config, client, random or OsRandomSource(), records, key_log, message_hook=hooks.message_hook
        )
        self.ctx.negotiated.server_name = server_name
        self.ctx.verify_name = server_name if verify_name is None else verify_name
        # A client never runs server code: until start() it expects nothing at all.
        self._state: State = AwaitingStart() if client else ExpectClientHello()
        self._error: TLSError | None = None
        self._peer_closed = False
        self._close_sent = False

    # ---- the verbs ----

    def start(self) -> None:
        """A client sends its ClientHello; a server does nothing; a second call does nothing."""
        self._check_usable()
        if not isinstance(self._state, AwaitingStart):
            return
        try:
            self._state = start_client(self.ctx)
        except TLSError as error:
            self._fail(error)
            raise

    def receive_data(self, data: bytes) -> list[Event]:
        """Handle bytes from the peer (``b""``: the transport ended); return what happened."""
        self._check_usable()
        if not data:
            return self._receive_eof()
        events: list[Event] = []
        try:
            if isinstance(self._state, AwaitingStart):
                raise UnexpectedMessageError("a client received data before start()")
            records = self.ctx.records
            if not records.feed(data):  # a piece of a record (a peer trickling bytes): nothing to read yet
                return events
            for content_type, content in records.records():
                events += self._handle_record(content_type, content)
                if self._peer_closed or self._error is not None:
                    break
        except TLSError as error:
            error.events_before = tuple(events)
            self._fail(error)
            raise
        return events

    def data_to_send(self) -> bytes:
        """Everything queued for the peer (with ``defer_sealing``, pending records sealed as written)."""
        return self.ctx.records.take_outgoing()

    def send(self, data: bytes) -> None:
        """Queue application data (after the handshake), after a pending KeyUpdate (``key_update``).

        As s2n_send: no bytes, no record (and the pending KeyUpdate waits).
        """
        self._check_usable()
        try:
            if not self.handshake_complete:
                raise InternalError("application data before the handshake completed")
            # = https://www.rfc-editor.org/rfc/rfc8446#section-6.1
            # = type=implementation
            ## Any data received after a closure alert has been received MUST be ignored.
            # The mirror for our side: after our close_notify nothing more is written (s2n_send: S2N_ERR_CLOSED).
            if self._close_sent:
                raise InternalError("application data after close_notify")
            if not data:
                return
            flush_key_update(self.ctx)
            self.ctx.records.write(ContentType.APPLICATION_DATA, data)
        except TLSError as error:
            self._fail(error)
            raise

    def close(self) -> None:
        """Queue close_notify (once; later calls do nothing)."""
        self._check_usable()
        if self._close_sent:
            return
        self._close_sent = True
        try:
            self._send_alert(AlertDescription.CLOSE_NOTIFY, level=1)
        except TLSError as error:
            self._fail(error)
            raise

    def key_update(self, *, request_peer: bool = False) -> None:
        """Ask for a KeyUpdate (after the handshake): it is written, and our write keys move on, with the next data.

        As s2n_connection_request_key_update: it only marks one pending, and any number of
        requests (and KeyUpdates from the peer asking for one) before the next ``send`` make one
        KeyUpdate, ahead of that data; ``close()`` does not send it. ``request_peer`` asks the
        peer to update too (s2n cannot).
        """
        self._check_usable()
        try:
            if not self.handshake_complete:
                raise InternalError("KeyUpdate before the handshake completed")
            request_key_update(self.ctx, request_peer=request_peer)
        except TLSError as error:
            self._fail(error)
            raise

    # ---- instrumentation (engine.instrument) ----

    def take_plaintext_records(self) -> list[PlaintextRecord]:
        """With ``Instrumentation(defer_sealing=True)``: the records written since the last call, unsealed.

        Without the flag nothing is ever pending and this returns ``[]``.
        """
        return self.ctx.records.take_unsealed()

    def seal_records(self, records: Sequence[PlaintextRecord], padding: int | None = None) -> bytes:
        """Frame and encrypt ``records`` in order (each with its own protection); return the wire bytes.

        ``padding``, when given, replaces every record's own. The bytes count as sent in
        ``info().wire_bytes_out``; they are not queued for ``data_to_send()``.
        """
        return self.ctx.records.seal(records, padding)

    @property
    def write_protection(self) -> RecordProtection | None:
        """The protection our next record is sealed with (None while records go out in plaintext).

        For records built by hand: ``PlaintextRecord(21, b"\\x02\\x28", protection=connection.write_protection)``.
        """
        return self.ctx.records.write_protection

    # ---- state ----

    @property
    def is_client(self) -> bool:
        """Whether this is the client side."""
        return self.ctx.is_client

    @property
    def error(self) -> TLSError | None:
        """The error that ended the connection (the one every verb now raises), or None."""
        return self._error

    @property
    def handshake_complete(self) -> bool:
        """Whether both Finished messages are done."""
        return self._state.handshake_done

    @property
    def handshake_type_name(self) -> str:
        """s2n's name for the handshake type, e.g. ``NEGOTIATED|FULL_HANDSHAKE|MIDDLEBOX_COMPAT``."""
        return handshake_type_name(self.ctx.flags)

    @property
    def last_message_name(self) -> str:
        """s2n's name for the message at the connection's position (``s2n_connection_get_last_message_name``).

        The message being read or written: the one a failure happened in, the next one expected
        from the peer while waiting, APPLICATION_DATA once the handshake is over.
        """
        return str(self.ctx.position.message)

    def progress(self) -> Progress:
        """Where the state machine stands: protocol, handshake type and last message (``info()``'s names)."""
        protocol = "TLSv1.3" if self.ctx.negotiated.suite is not None else "NONE"
        return Progress(protocol, self.handshake_type_name, self.last_message_name)

    def info(self) -> ConnectionInfo:
        """A snapshot of what was negotiated, with s2n's names (``s2n_bridge.info.ConnectionInfo``'s fields)."""
        negotiated = self.ctx.negotiated
        suite, scheme, alpn = negotiated.suite, negotiated.signature_scheme, negotiated.alpn
        protocol, handshake_type, last_message = self.progress()
        return ConnectionInfo(
            protocol=protocol,
            cipher=suite.name if suite is not None else "NONE",
            group=GROUP_NAMES.get(negotiated.group or 0, "NONE"),
            signature_scheme=SignatureScheme(scheme).name.lower() if scheme is not None else "NONE",
            handshake_type=handshake_type,
            last_message=last_message,
            alpn=alpn.decode("utf-8", "replace") if alpn is not None else None,
            server_name=negotiated.server_name,
            wire_bytes_in=self.ctx.records.wire_bytes_in,
            wire_bytes_out=self.ctx.records.wire_bytes_out,
        )

    # ---- internals ----

    def _check_usable(self) -> None:
        if self._error is not None:
            raise self._error

    def _receive_eof(self) -> list[Event]:
        if self._peer_closed:
            return []
        if self.handshake_complete:
            error = UnexpectedEOFError("the transport ended without close_notify (truncation)")
        else:
            error = UnexpectedEOFError("the transport ended during the handshake")
        self._fail(error)
        raise error

    def _handle_record(self, content_type: int, content: bytes) -> list[Event]:
        if content_type == SSLV2_RECORD:
            # tls/s2n_handshake_io.c:1526-1528 and :1331, s2n_recv.c:225: S2N_ERR_BAD_MESSAGE for an SSLv2
            # record anywhere but as the first ClientHello, which a server refuses as s2n does.
            if not self.handshake_complete and isinstance(self._state, ExpectClientHello):
                self._state.handle_sslv2(self.ctx, content)
            raise UnexpectedMessageError("SSLv2 record other than a server's first ClientHello")
        # = https://www.rfc-editor.org/rfc/rfc8446#section-5.1
        # = type=implementation
        ## Handshake messages MUST NOT be interleaved with other record types.
        # As s2n checks it: after the handshake for every record type (tls/s2n_recv.c), during it for a
        # ChangeCipherSpec, whose byte s2n reads through its handshake buffer (tls/s2n_handshake_io.c).
        interleaving = self.handshake_complete or content_type == ContentType.CHANGE_CIPHER_SPEC
        if content_type != ContentType.HANDSHAKE and interleaving and self.ctx.incoming.pending:
            raise UnexpectedMessageError("a record of another type inside a fragmented handshake message")
        if content_type == ContentType.CHANGE_CIPHER_SPEC:
            return []  # the middlebox-compatibility CCS, checked by the record layer
        if content_type == ContentType.ALERT:
            return self._handle_alert(content)
        if content_type == ContentType.APPLICATION_DATA:
            if not self.handshake_complete:
                raise UnexpectedMessageError("application data during the handshake")
            return [DataReceived(content)]
        if content_type != ContentType.HANDSHAKE:
            raise UnexpectedMessageError(f"record type {content_type}")
        return self._handle_handshake_bytes(content)

    def _handle_handshake_bytes(self, content: bytes) -> list[Event]:
        incoming = self.ctx.incoming
        if not content and not self.handshake_complete:
            # tls/s2n_handshake_io.c s2n_handshake_read_io: an empty handshake record, protected or not.
            raise UnexpectedMessageError("zero-length handshake record")
        incoming.feed(content)
        events: list[Event] = []
        while (message := incoming.next_message()) is not None:
            was_done = self.handshake_complete
            read_keys = self.ctx.records.read_protection
            msg_type, raw = message
            if was_done:
                handle_post_handshake(self.ctx, msg_type, raw[4:])
                continue
            decoded = self._state.decode(self.ctx, msg_type, raw[4:])
            self._state = self._state.handle(self.ctx, decoded, raw)
            # = https://www.rfc-editor.org/rfc/rfc8446#section-5.1
            # = type=implementation
            ## Handshake messages MUST NOT span key changes.  Implementations MUST verify that all messages
            ## immediately preceding a key change align with a record boundary; if not, then they MUST
            ## terminate the connection with an "unexpected_message" alert.
            if self.ctx.records.read_protection is not read_keys and incoming.pending:
                raise UnexpectedMessageError("handshake message spans a key change")
            if self.handshake_complete:
                # A plaintext ChangeCipherSpec after the handshake is refused by s2n as by RFC 8446
                # section 5 (tls/s2n_record_read.c, s2n_is_tls13_plaintext_content: S2N_ERR_BAD_MESSAGE).
                self.ctx.records.allow_change_cipher_spec = False
                self.ctx.records.allow_plaintext_alerts = False
                self.ctx.records.ignore_protected_change_cipher_spec = (
                    self.ctx.config.compat.protected_change_cipher_spec_after_handshake
                )
                # tls/s2n_post_handshake.c:101-102: s2n waits for a body byte before it checks the length.
                incoming.check_length_on_header = not self.ctx.config.compat.lenient_key_update
                events.append(HandshakeComplete())
        if self.handshake_complete:
            check_post_handshake_fragment(self.ctx, incoming.pending)  # tls/s2n_post_handshake.c:129
        return events

    def _handle_alert(self, content: bytes) -> list[Event]:
        alert = Alert.decode(content)
        if alert.description == AlertDescription.CLOSE_NOTIFY:
            self._peer_closed = True
            return [ConnectionClosed()]
        # = https://www.rfc-editor.org/rfc/rfc8446#section-6.1
        # = type=implementation
        ## Any data received after a closure alert has been received MUST be ignored.
        # user_canceled is the other closure alert. Compat.ignore_user_canceled: s2n drops it once the
        # version is established, and before that fails on it as on an error alert.
        if alert.description == AlertDescription.USER_CANCELED:
            if not self.ctx.config.compat.ignore_user_canceled:
                self._peer_closed = True
                return [ConnectionClosed()]
            if self.ctx.records.version_established:
                return []
        self._error = TLSError(f"peer sent alert {alert.description}")
        return [AlertReceived(alert.description)]

    def _send_alert(self, description: AlertDescription, level: int = 2) -> None:
        version = self.ctx.alert_record_version
        if version is None:
            version = 0x0303 if self.ctx.version_settled else 0x0301
        self.ctx.records.write(ContentType.ALERT, bytes([level, description]), legacy_version=version)

    def _fail(self, error: TLSError) -> None:
        """Enter the sticky error state; queue the alert ``error`` names, if it sends one."""
        self._error = error
        # After our close_notify the write side is closed: s2n writes nothing more (tls/s2n_shutdown.c:77 sets
        # write_closed; s2n_connection_check_io_status, tls/s2n_connection.c:1861), and RFC 8446 6.1 agrees.
        if not error.sends_alert or self._close_sent:
            return
        description = error.alert
        level = 2
        if self.ctx.config.compat.generic_close_notify and error.alert != AlertDescription.PROTOCOL_VERSION:
            description, level = AlertDescription.CLOSE_NOTIFY, 1
        # If even the alert cannot be written (the sequence number would wrap), the error state stands.
        with suppress(TLSError):
            self._send_alert(description, level)
