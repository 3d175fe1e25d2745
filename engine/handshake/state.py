"""The state interface: each handshake state handles one message and returns the next state."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from engine.errors import UnexpectedMessageError
from engine.handshake.context import HandshakeContext
from engine.wire.handshake import HandshakeMessage, decode_handshake_body

__all__ = ["Connected", "State", "expect"]

_Message = TypeVar("_Message")


def expect(message: HandshakeMessage, kind: type[_Message]) -> _Message:
    """The message as the type a state waits for; anything else is unexpected_message (one place)."""
    if not isinstance(message, kind):
        raise UnexpectedMessageError(f"expected {kind.__name__}, got {type(message).__name__}")
    return message


class State:
    """A handshake state: ``handle`` reads one message (via ``expect``) and returns the next state."""

    handshake_done: ClassVar[bool] = False

    def decode(self, ctx: HandshakeContext, msg_type: int, body: bytes | memoryview) -> HandshakeMessage:
        """Decode a message body; a state may parse its message as s2n does (see ``Compat``)."""
        return decode_handshake_body(msg_type, body)

    def handle(self, ctx: HandshakeContext, message: HandshakeMessage, raw: bytes) -> State:
        """Handle one handshake message and return the next state."""
        raise UnexpectedMessageError(f"{type(message).__name__} is not expected in {type(self).__name__}")


class Connected(State):
    """The handshake is over; post-handshake messages are handled by the connection."""

    handshake_done = True
