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


_Step = tuple[Message | None, Action | None, bool, bool, bool, bool]
"""What a position tells about its message: the message, its entry, whether this side writes it
(``ours``), whether the handshake is over (``complete``), whether it is the peer's ChangeCipherSpec,
whether it is our own."""
_NOWHERE: _Step = (None, None, False, False, False, False)  # past the end of a sequence (or of no sequence)


@functools.lru_cache(maxsize=64)  # per handshake type and side: a handful of tables
def _steps(flags: HandshakeFlags, own: str) -> tuple[_Step, ...]:
    """Every message of the type's sequence as seen from the side that writes ``own``."""
    steps = []
    for message in SEQUENCES.get(flags, ()):
        action = ACTIONS[message]
        ours = action.writer == own
        change_cipher_spec = action.record_type == ContentType.CHANGE_CIPHER_SPEC
        peers, own_one = change_cipher_spec and not ours, change_cipher_spec and ours
        steps.append((message, action, ours, action.writer == "B", peers, own_one))
    return tuple(steps)


class HandshakePosition:
    """Where a connection is in its handshake: s2n's (handshake_type, message_number)."""

    # The message at the position and what follows from it are looked up (in ``_steps``) whenever the
    # type or the number changes: a handshake asks about its position several times per message.
    __slots__ = (
        "_action",
        "_flags",
        "_message",
        "_number",
        "_own",
        "_steps",
        "complete",
        "ours",
        "own_change_cipher_spec",
    )
    ours: bool
    """Whether this side writes the current message (``CONNECTION_IS_WRITER``); False past the sequence's end."""
    complete: bool
    """Whether the handshake is over (``s2n_handshake_is_complete``: the writer is 'B')."""
    own_change_cipher_spec: bool
    """Whether the current message is this side's middlebox-compatibility ChangeCipherSpec."""
    _message: Message | None
    _action: Action | None

    def __init__(self, *, client: bool) -> None:
        self._own = "C" if client else "S"
        self._number = 0
        self.flags = HandshakeFlags.INITIAL

    @property
    def flags(self) -> HandshakeFlags:
        """s2n's handshake type: which sequence ``number`` indexes."""
        return self._flags

    @flags.setter
    def flags(self, flags: HandshakeFlags) -> None:
        self._flags = flags
        self._steps = _steps(flags, self._own)
        self._move_to(self._number)

    @property
    def number(self) -> int:
        """s2n's message_number: the index of the current message in the handshake type's sequence."""
        return self._number

    def _move_to(self, number: int) -> None:
        self._number = number
        steps = self._steps
        step = steps[number] if number < len(steps) else _NOWHERE
        self._message, self._action, self.ours, self.complete, _, self.own_change_cipher_spec = step

    @property
    def message(self) -> Message:
        """The message at the position (``ACTIVE_MESSAGE``): being read or written, or APPLICATION_DATA."""
        if self._message is None:
            raise InternalError(f"no message {self._number} in handshake type {self.flags!r}")
        return self._message

    @property
    def action(self) -> Action:
        """The state-machine entry of the current message."""
        if self._action is None:
            raise InternalError(f"no message {self._number} in handshake type {self.flags!r}")
        return self._action

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
        number = self._number + 1
        steps = self._steps
        if number >= len(steps):
            self._move_to(number)
            raise InternalError(f"no message {number} in handshake type {self.flags!r}")
        peer_change_cipher_spec = steps[number][4]
        self._move_to(number + 1 if peer_change_cipher_spec else number)

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
        action = self._action
        if not self.ours or action is None or (action.record_type, action.message_type) != (record_type, message_type):
            raise InternalError(f"writing ({record_type}, {message_type}) at {self.message} of {self.flags!r}")
