"""Post-handshake messages: KeyUpdate (RFC 8446 section 4.6.3); a client drops NewSessionTicket; others are refused."""

from __future__ import annotations

from engine.crypto.key_schedule import next_traffic_secret, traffic_keys
from engine.errors import IllegalParameterError, InternalError, UnexpectedMessageError
from engine.handshake.context import HandshakeContext
from engine.record.layer import ContentType
from engine.record.protection import RecordProtection
from engine.wire.handshake import HandshakeType, KeyUpdate, decode_handshake_body, encode_handshake

__all__ = ["handle_post_handshake", "send_key_update"]


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


def handle_post_handshake(ctx: HandshakeContext, msg_type: int, body: bytes | memoryview) -> None:
    """Handle a handshake message after the handshake: KeyUpdate; a client drops NewSessionTicket.

    The engine keeps no tickets; like an s2n client without tickets it drops a
    NewSessionTicket unparsed (tls/s2n_server_new_session_ticket.c, ``s2n_tls13_server_nst_recv``).
    """
    if msg_type == HandshakeType.NEW_SESSION_TICKET and ctx.is_client:
        return
    message = decode_handshake_body(msg_type, body)
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
    if message.request_update == 1:
        send_key_update(ctx, request_peer=False)
