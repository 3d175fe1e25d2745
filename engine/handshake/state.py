"""The state interface: each handshake state handles one message and returns the next state."""

from __future__ import annotations

from typing import ClassVar

from engine.errors import UnexpectedMessageError
from engine.handshake.context import HandshakeContext
from engine.wire.handshake import HandshakeMessage

__all__ = ["Connected", "State"]


class State:
    """A handshake state; ``expected`` lists the message types it accepts."""

    expected: ClassVar[tuple[type, ...]] = ()
    handshake_done: ClassVar[bool] = False

    def handle(self, ctx: HandshakeContext, message: HandshakeMessage, raw: bytes) -> State:
        """Handle one handshake message and return the next state."""
        raise UnexpectedMessageError(f"{type(message).__name__} is not expected in {type(self).__name__}")


class Connected(State):
    """The handshake is over; post-handshake messages are handled by the connection."""

    handshake_done = True
