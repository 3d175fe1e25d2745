"""Post-handshake messages: KeyUpdate (RFC 8446 section 4.6.3); a client drops NewSessionTicket; others are refused.

Our KeyUpdates go out as s2n's do (tls/s2n_key_update.c): one asked for (``request_key_update``,
s2n_connection_request_key_update) or owed to the peer (a KeyUpdate of theirs with
update_requested, ``s2n_key_update_recv``) only marks one pending (``key_update_pending``);
the pending KeyUpdate is written before the next record of application data
(``flush_key_update``: s2n_send calls ``s2n_post_handshake_send`` before each record), so
any number of requests and peer updates before then make one KeyUpdate. close_notify does
not carry it (s2n_shutdown writes no post-handshake messages).
"""

from __future__ import annotations

from engine.crypto.key_schedule import next_traffic_secret, traffic_keys
from engine.errors import DecodeError, IllegalParameterError, InternalError, UnexpectedMessageError
from engine.handshake.context import HandshakeContext
from engine.record.layer import ContentType
from engine.record.protection import RecordProtection
from engine.wire.handshake import (
    HANDSHAKE_HEADER_SIZE,
    HandshakeMessage,
    HandshakeType,
    KeyUpdate,
    decode_handshake_body,
    encode_handshake,
)

__all__ = [
    "check_post_handshake_fragment",
    "flush_key_update",
    "handle_post_handshake",
    "request_key_update",
    "send_key_update",
]


def _next_protection(ctx: HandshakeContext, secret: bytes) -> RecordProtection:
    suite = ctx.suite
    return RecordProtection(suite, traffic_keys(suite.hash_name, secret, suite.key_len, suite.iv_len))


def send_key_update(ctx: HandshakeContext, *, request_peer: bool) -> None:
    """Send KeyUpdate under the current keys, then move the write keys on."""
    protection = ctx.records.write_protection
    if protection is None:
        raise InternalError("KeyUpdate before the handshake completed")
    ctx.records.write(ContentType.HANDSHAKE, ctx.hooked(encode_handshake(KeyUpdate(1 if request_peer else 0))))
    ctx.records.write_protection = _next_protection(
        ctx, next_traffic_secret(ctx.suite.hash_name, protection.keys.secret)
    )


def request_key_update(ctx: HandshakeContext, *, request_peer: bool) -> None:
    """Mark a KeyUpdate of ours pending; it goes with the next application data (``flush_key_update``)."""
    if ctx.records.write_protection is None:
        raise InternalError("KeyUpdate before the handshake completed")
    ctx.key_update_pending = True
    ctx.key_update_request = ctx.key_update_request or request_peer


def flush_key_update(ctx: HandshakeContext) -> None:
    """Send the pending KeyUpdate, if there is one (s2n_key_update_send, before a record of data)."""
    if ctx.key_update_pending:
        send_key_update(ctx, request_peer=ctx.key_update_request)
        ctx.key_update_pending = ctx.key_update_request = False


def _decode(ctx: HandshakeContext, msg_type: int, body: bytes | memoryview) -> HandshakeMessage:
    """The message; a KeyUpdate as s2n reads it under ``Compat.lenient_key_update`` (its first byte)."""
    if msg_type == HandshakeType.KEY_UPDATE and ctx.config.compat.lenient_key_update:
        if not body:
            raise DecodeError("empty KeyUpdate")  # s2n: S2N_ERR_STUFFER_OUT_OF_DATA
        return KeyUpdate(body[0])
    return decode_handshake_body(msg_type, body)


def check_post_handshake_fragment(ctx: HandshakeContext, pending: int) -> None:
    """After a handshake record past the handshake: an s2n server refuses a message body split over records.

    ``pending`` is what the record left of an unfinished message. s2n reassembles
    post-handshake messages in ``conn->post_handshake.in``, on a server a static buffer
    of one header (tls/s2n_post_handshake.h:28, ``header_in``), and never grows it:
    "s2n-tls servers only support the KeyUpdate message, which should never require
    additional memory to parse" (tls/s2n_post_handshake.c:120-129,
    ``RESULT_ENSURE(conn->mode == S2N_CLIENT, S2N_ERR_BAD_MESSAGE)``). A header may
    span records (tls/s2n_post_handshake.c:91-101, S2N_ERR_IO_BLOCKED), but the record
    that holds the end of the header must hold the whole body (:107-114). s2n checks
    this under ``Compat.lenient_key_update`` (how s2n reads the peer's KeyUpdate); a
    client grows its buffer and reassembles as RFC 8446 section 5.1 allows.
    """
    if ctx.is_client or not ctx.config.compat.lenient_key_update:
        return
    if pending > HANDSHAKE_HEADER_SIZE:
        raise UnexpectedMessageError("a post-handshake message body split over records (s2n server)")


def handle_post_handshake(ctx: HandshakeContext, msg_type: int, body: bytes | memoryview) -> None:
    """Handle a handshake message after the handshake: KeyUpdate; a client drops NewSessionTicket.

    The engine keeps no tickets; like an s2n client without tickets it drops a
    NewSessionTicket unparsed (tls/s2n_server_new_session_ticket.c, ``s2n_tls13_server_nst_recv``).
    """
    if msg_type == HandshakeType.NEW_SESSION_TICKET and ctx.is_client:
        return
    message = _decode(ctx, msg_type, body)
    if not isinstance(message, KeyUpdate):
        raise UnexpectedMessageError(f"{type(message).__name__} after the handshake")
    # = https://www.rfc-editor.org/rfc/rfc8446#section-4.6.3
    # = type=implementation
    ## If an implementation receives any other value, it MUST terminate the connection with an
    ## "illegal_parameter" alert.
    if message.request_update not in (0, 1):
        raise IllegalParameterError("KeyUpdate request_update must be 0 or 1")
    read = ctx.records.read_protection
    if read is None:
        raise InternalError("no read keys after the handshake")
    ctx.records.read_protection = _next_protection(ctx, next_traffic_secret(ctx.suite.hash_name, read.keys.secret))
    # = https://www.rfc-editor.org/rfc/rfc8446#section-4.6.3
    # = type=implementation
    ## If the request_update field is set to "update_requested", then the receiver MUST send a KeyUpdate of its own
    ## with request_update set to "update_not_requested" prior to sending its next Application Data record.
    if message.request_update == 1:
        # Answered lazily, as s2n_key_update_recv does; a request of ours still pending is dropped, as the
        # peer's keys have just moved on (s2n never asks: its KeyUpdates always say update_not_requested).
        ctx.key_update_pending = True
        ctx.key_update_request = False
