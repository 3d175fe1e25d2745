"""``TLSConnection``: the engine's sans-IO facade (bytes in, events and bytes out).

    connection = TLSConnection(config, client=True, server_name="localhost")
    connection.start()                      # a client queues its ClientHello
    wire = connection.data_to_send()
    events = connection.receive_data(peer_bytes)
    connection.send(b"hello")               # after HandshakeComplete
    connection.close()                      # close_notify

Any ``TLSError`` raised while reading queues the alert it names (protected when
keys are in use), puts the connection in a sticky error state and propagates.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.config import EngineConfig
from engine.errors import AlertDescription, InternalError, TLSError, UnexpectedMessageError
from engine.handshake.client import start_client
from engine.handshake.context import HandshakeContext, KeyLogSink
from engine.handshake.names import handshake_type_name
from engine.handshake.post import handle_post_handshake, send_key_update
from engine.handshake.server import ExpectClientHello
from engine.handshake.state import State
from engine.randomness import OsRandomSource, RandomSource
from engine.record.layer import ContentType, RecordLayer
from engine.wire.handshake import HandshakeBuffer, HandshakeType
from engine.wire.record import Alert

__all__ = [
    "AlertReceived",
    "ConnectionClosed",
    "DataReceived",
    "Event",
    "HandshakeComplete",
    "TLSConnection",
]

_MESSAGE_NAMES = {HandshakeType.KEY_UPDATE: "KEY_UPDATE", HandshakeType.NEW_SESSION_TICKET: "NEW_SESSION_TICKET"}


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
    ) -> None:
        records = RecordLayer(config.max_record_plaintext, accept_oversized=config.compat.oversized_plaintext_records)
        self.ctx = HandshakeContext(config, client, random or OsRandomSource(), records, key_log)
        self.ctx.negotiated.server_name = server_name
        self._state: State = ExpectClientHello()
        self._messages = HandshakeBuffer()
        self._error: TLSError | None = None
        self._closed = False

    # ---- the verbs ----

    def start(self) -> None:
        """A client sends its ClientHello; a server does nothing."""
        if self.ctx.is_client:
            self._state = start_client(self.ctx)

    def receive_data(self, data: bytes) -> list[Event]:
        """Handle bytes from the peer; return what happened."""
        self._check_usable()
        self.ctx.records.feed(data)
        events: list[Event] = []
        try:
            for content_type, content in self.ctx.records.records():
                events += self._handle_record(content_type, content)
                if self._closed:
                    break
        except TLSError as error:
            self._fail(error)
            raise
        return events

    def data_to_send(self) -> bytes:
        """Everything queued for the peer."""
        return self.ctx.records.take_outgoing()

    def send(self, data: bytes) -> None:
        """Queue application data (after the handshake)."""
        self._check_usable()
        if not self.handshake_complete:
            raise InternalError("application data before the handshake completed")
        self.ctx.records.write(ContentType.APPLICATION_DATA, data)

    def close(self) -> None:
        """Queue close_notify."""
        if self._error is None:
            self._send_alert(AlertDescription.CLOSE_NOTIFY, level=1)

    def key_update(self, *, request_peer: bool = False) -> None:
        """Send KeyUpdate and move our write keys on."""
        send_key_update(self.ctx, request_peer=request_peer)

    # ---- state ----

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
        """s2n's name for the last handshake message handled."""
        return self.ctx.last_message

    # ---- internals ----

    def _check_usable(self) -> None:
        if self._error is not None:
            raise self._error

    def _handle_record(self, content_type: int, content: bytes) -> list[Event]:
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
        self._messages.feed(content)
        events: list[Event] = []
        while (message := self._messages.next_message()) is not None:
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
            if self.ctx.records.read_protection is not read_keys and self._messages.pending:
                raise UnexpectedMessageError("handshake message spans a key change")
            if self.handshake_complete:
                self.ctx.records.allow_change_cipher_spec = self.ctx.config.compat.change_cipher_spec_after_handshake
                events.append(HandshakeComplete())
        return events

    def _handle_alert(self, content: bytes) -> list[Event]:
        alert = Alert.decode(content)
        if alert.description == AlertDescription.CLOSE_NOTIFY:
            self._closed = True
            return [ConnectionClosed()]
        self._error = TLSError(f"peer sent alert {alert.description}")
        return [AlertReceived(alert.description)]

    def _send_alert(self, description: AlertDescription, level: int = 2) -> None:
        version = 0x0303 if self.ctx.version_settled else 0x0301
        self.ctx.records.write(ContentType.ALERT, bytes([level, description]), legacy_version=version)

    def _fail(self, error: TLSError) -> None:
        self._error = error
        if self.ctx.config.compat.generic_close_notify and error.alert != AlertDescription.PROTOCOL_VERSION:
            self._send_alert(AlertDescription.CLOSE_NOTIFY, level=1)
        else:
            self._send_alert(error.alert)
