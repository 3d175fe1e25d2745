"""The handshake as data: s2n-tls's TLS 1.3 message sequences, and a connection's position in one.

From tls/s2n_handshake_io.c:

- ``tls13_state_machine``: each message's record type, handshake message type and writer
  ('C' client, 'S' server, 'B' both: the handshake is over) -> ``ACTIONS``;
- ``tls13_handshakes``: per handshake type (a set of ``HandshakeFlags``) the sequence of
  messages -> ``SEQUENCES``, with the handshake types the engine can reach (no client
  authentication, no early data, no PSK);
- the position is (handshake type, message number), and
  ``s2n_connection_get_last_message_name`` is the message at it (``ACTIVE_MESSAGE``): the
  message being read or written, so a failure while reading or writing message X names X,
  and a finished handshake names APPLICATION_DATA.

The number moves on (``s2n_advance_message``) once a message is read (``s2n_finish_read``:
after its handler and the key schedule update) or written (``s2n_handshake_write_io``: after
the record is written and the key schedule updated), skipping a ChangeCipherSpec entry the
peer writes: in TLS 1.3 the peer's CCS is optional, read whenever it comes and never
waited for, so it never moves the position. The handshake type changes while negotiating
(``s2n_conn_set_tls13_handshake_type``, ``s2n_set_hello_retry_required``) and the same number
then indexes the new sequence.

>>> position = HandshakePosition(client=False)
>>> position.message
<Message.CLIENT_HELLO: 'CLIENT_HELLO'>
>>> position.set_handshake_type(middlebox=True)
>>> position.advance()
>>> position.message, position.ours
(<Message.SERVER_HELLO: 'SERVER_HELLO'>, True)
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from engine.errors import InternalError
from engine.handshake.names import HandshakeFlags, Message
from engine.record.layer import ContentType
from engine.wire.handshake import HandshakeType

__all__ = ["ACTIONS", "SEQUENCES", "Action", "HandshakePosition"]


@dataclass(frozen=True)
class Action:
    """One entry of s2n's ``tls13_state_machine``: how a message travels and who writes it."""

    record_type: int
    message_type: int  # 0 for ChangeCipherSpec and application data, as s2n has it
    writer: str  # "C", "S" or "B"


ACTIONS: Mapping[Message, Action] = MappingProxyType({
    Message.CLIENT_HELLO: Action(ContentType.HANDSHAKE, HandshakeType.CLIENT_HELLO, "C"),
    Message.SERVER_HELLO: Action(ContentType.HANDSHAKE, HandshakeType.SERVER_HELLO, "S"),
    Message.HELLO_RETRY_MSG: Action(ContentType.HANDSHAKE, HandshakeType.SERVER_HELLO, "S"),
    Message.ENCRYPTED_EXTENSIONS: Action(ContentType.HANDSHAKE, HandshakeType.ENCRYPTED_EXTENSIONS, "S"),
    Message.SERVER_CERT: Action(ContentType.HANDSHAKE, HandshakeType.CERTIFICATE, "S"),
    Message.SERVER_CERT_VERIFY: Action(ContentType.HANDSHAKE, HandshakeType.CERTIFICATE_VERIFY, "S"),
    Message.SERVER_FINISHED: Action(ContentType.HANDSHAKE, HandshakeType.FINISHED, "S"),
    Message.CLIENT_FINISHED: Action(ContentType.HANDSHAKE, HandshakeType.FINISHED, "C"),
    Message.CLIENT_CHANGE_CIPHER_SPEC: Action(ContentType.CHANGE_CIPHER_SPEC, 0, "C"),
    Message.SERVER_CHANGE_CIPHER_SPEC: Action(ContentType.CHANGE_CIPHER_SPEC, 0, "S"),
    Message.APPLICATION_DATA: Action(ContentType.APPLICATION_DATA, 0, "B"),
})  # fmt: skip

_F = HandshakeFlags
_M = Message
_SERVER_AUTH = (_M.ENCRYPTED_EXTENSIONS, _M.SERVER_CERT, _M.SERVER_CERT_VERIFY, _M.SERVER_FINISHED)

SEQUENCES: Mapping[HandshakeFlags, tuple[Message, ...]] = MappingProxyType({
    _F.INITIAL: (_M.CLIENT_HELLO, _M.SERVER_HELLO),
    _F.INITIAL | _F.HELLO_RETRY_REQUEST: (_M.CLIENT_HELLO, _M.HELLO_RETRY_MSG),
    _F.NEGOTIATED | _F.FULL_HANDSHAKE: (
        _M.CLIENT_HELLO,
        _M.SERVER_HELLO, *_SERVER_AUTH,
        _M.CLIENT_FINISHED,
        _M.APPLICATION_DATA,
    ),
    _F.NEGOTIATED | _F.FULL_HANDSHAKE | _F.MIDDLEBOX_COMPAT: (
        _M.CLIENT_HELLO,
        _M.SERVER_HELLO, _M.SERVER_CHANGE_CIPHER_SPEC, *_SERVER_AUTH,
        _M.CLIENT_CHANGE_CIPHER_SPEC, _M.CLIENT_FINISHED,
        _M.APPLICATION_DATA,
    ),
    _F.NEGOTIATED | _F.FULL_HANDSHAKE | _F.HELLO_RETRY_REQUEST: (
        _M.CLIENT_HELLO,
        _M.HELLO_RETRY_MSG,
        _M.CLIENT_HELLO,
        _M.SERVER_HELLO, *_SERVER_AUTH,
        _M.CLIENT_FINISHED,
        _M.APPLICATION_DATA,
    ),
    _F.NEGOTIATED | _F.FULL_HANDSHAKE | _F.HELLO_RETRY_REQUEST | _F.MIDDLEBOX_COMPAT: (
        _M.CLIENT_HELLO,
        _M.HELLO_RETRY_MSG, _M.SERVER_CHANGE_CIPHER_SPEC,
        _M.CLIENT_CHANGE_CIPHER_SPEC, _M.CLIENT_HELLO,
        _M.SERVER_HELLO, *_SERVER_AUTH,
        _M.CLIENT_FINISHED,
        _M.APPLICATION_DATA,
    ),
})  # fmt: skip

# The flags a retry keeps: they have already decided messages that were sent or read.
_KEPT_ON_RENEGOTIATION = _F.HELLO_RETRY_REQUEST | _F.MIDDLEBOX_COMPAT | _F.EARLY_CLIENT_CCS


@functools.lru_cache(maxsize=64)  # a handful of types; the Flag operators are slow Python
def _negotiated_type(flags: HandshakeFlags, middlebox: bool) -> HandshakeFlags:
    negotiated = (flags & _KEPT_ON_RENEGOTIATION) | HandshakeFlags.NEGOTIATED | HandshakeFlags.FULL_HANDSHAKE
    return negotiated | HandshakeFlags.MIDDLEBOX_COMPAT if middlebox else negotiated


class HandshakePosition:
    """Where a connection is in its handshake: s2n's (handshake_type, message_number)."""

    __slots__ = ("_flags", "_own", "_sequence", "number")

    def __init__(self, *, client: bool) -> None:
        self.flags = HandshakeFlags.INITIAL
        self.number = 0
        self._own = "C" if client else "S"

    @property
    def flags(self) -> HandshakeFlags:
        """s2n's handshake type: which sequence ``number`` indexes."""
        return self._flags

    @flags.setter
    def flags(self, flags: HandshakeFlags) -> None:
        # The sequence is looked up once per handshake type, not at every question about the position.
        self._flags = flags
        self._sequence = SEQUENCES.get(flags)

    @property
    def message(self) -> Message:
        """The message at the position (``ACTIVE_MESSAGE``): being read or written, or APPLICATION_DATA."""
        sequence = self._sequence
        if sequence is None or self.number >= len(sequence):
            raise InternalError(f"no message {self.number} in handshake type {self.flags!r}")
        return sequence[self.number]

    @property
    def action(self) -> Action:
        """The state-machine entry of the current message."""
        return ACTIONS[self.message]

    @property
    def ours(self) -> bool:
        """Whether this side writes the current message (``CONNECTION_IS_WRITER``)."""
        return self.action.writer == self._own

    @property
    def complete(self) -> bool:
        """Whether the handshake is over (``s2n_handshake_is_complete``: the writer is 'B')."""
        return self.action.writer == "B"

    @property
    def tls13_state_machine(self) -> bool:
        """Whether s2n would have chosen its TLS 1.3 state machine (``IS_TLS13_HANDSHAKE``).

        s2n chooses it when it sets the handshake type or a TLS 1.3 flag
        (tls/s2n_handshake_type.c ``s2n_handshake_type_set_tls13_flag``); before that it
        uses the TLS 1.2 tables, whose INITIAL sequence is the same two messages.
        """
        return self.flags != HandshakeFlags.INITIAL

    def advance(self) -> None:
        """Move to the next message, skipping a ChangeCipherSpec the peer writes (``s2n_advance_message``)."""
        self.number += 1
        action = self.action
        if action.writer != self._own and action.record_type == ContentType.CHANGE_CIPHER_SPEC:
            self.number += 1

    def set_hello_retry(self) -> None:
        """A HelloRetryRequest is needed or was received (``s2n_set_hello_retry_required``)."""
        self.flags |= HandshakeFlags.HELLO_RETRY_REQUEST

    def set_handshake_type(self, *, middlebox: bool) -> None:
        """The handshake type once a ClientHello or ServerHello is processed (``s2n_conn_set_tls13_handshake_type``).

        A full handshake (no PSK); MIDDLEBOX_COMPAT when ``middlebox`` (s2n: always, outside QUIC,
        ``s2n_is_middlebox_compat_enabled``). Flags that already shaped the sequence stay.
        """
        self.flags = _negotiated_type(self.flags, middlebox)

    def check_write(self, record_type: int, message_type: int = 0) -> None:
        """An internal error unless this side is to write such a message now (the table and the states agree)."""
        action = self.action
        if not self.ours or (action.record_type, action.message_type) != (record_type, message_type):
            raise InternalError(f"writing ({record_type}, {message_type}) at {self.message} of {self.flags!r}")
