"""What a handshake carries from state to state: the protocol's mutable state, in one place.

States (``client.py``, ``server.py``) are small classes that read a message and
return the next state; everything they share lives in a ``HandshakeContext``:
the transcript, the key schedule, the record layer, the negotiated parameters and
the position in s2n's message sequence (``engine.handshake.sequence``), which every
message read or written moves on.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from engine.config import CertifiedKey, EngineConfig
from engine.crypto.key_schedule import KeySchedule, traffic_keys
from engine.crypto.signer import SignatureScheme, scheme_hash
from engine.crypto.suites import CipherSuite
from engine.crypto.transcript import Transcript
from engine.errors import DecodeError, DecryptError, InternalError, UnexpectedMessageError
from engine.handshake.names import HandshakeFlags
from engine.handshake.sequence import HandshakePosition
from engine.instrument import MessageHook
from engine.randomness import RandomSource
from engine.record.layer import ContentType, RecordLayer
from engine.record.protection import RecordProtection
from engine.wire.handshake import HandshakeBuffer, HandshakeMessage, encode_handshake

__all__ = ["HandshakeContext", "KeyLogSink", "Negotiated", "certificate_verify_digest"]

KeyLogSink = Callable[[bytes], None]

_SERVER_CONTEXT = b"TLS 1.3, server CertificateVerify"
_CLIENT_CONTEXT = b"TLS 1.3, client CertificateVerify"


@dataclass
class Negotiated:
    """What the handshake settled on (names as s2n reports them)."""

    suite: CipherSuite | None = None
    group: int | None = None
    signature_scheme: int | None = None
    certificate: CertifiedKey | None = None
    alpn: bytes | None = None
    server_name: str | None = None
    peer_chain: tuple[bytes, ...] = ()


@dataclass
class HandshakeContext:
    """The mutable state of one handshake (and of the keys after it)."""

    config: EngineConfig
    is_client: bool
    random: RandomSource
    records: RecordLayer
    key_log: KeyLogSink | None = None
    transcript: Transcript = field(default_factory=Transcript)
    negotiated: Negotiated = field(default_factory=Negotiated)
    # s2n's (handshake type, message number): what info() names, what may be read or written next.
    position: HandshakePosition = field(init=False)
    # The peer's handshake bytes not yet read as messages (what is left of the current record).
    incoming: HandshakeBuffer = field(default_factory=HandshakeBuffer)
    # s2n writes records as TLS 1.0 (0x0301) until it has parsed a ClientHello (server)
    # or sent one (client); after that as TLS 1.2 (0x0303).
    version_settled: bool = False
    # The legacy_record_version of an alert when it is neither of those: s2n writes every record
    # in its actual_protocol_version (tls/s2n_record_write.c:173-219), which a ClientHello's
    # legacy_version can make SSLv3 or garbage (engine.handshake.server, _check_versions_as_s2n).
    alert_record_version: int | None = None
    client_random: bytes = b""
    # Client: the signature schemes its ClientHello offered (the server's CertificateVerify must use one).
    offered_signature_schemes: tuple[int, ...] = ()
    # Client: the name the server's certificate must carry, a DNS name or an IP literal (None: nothing matches).
    verify_name: str | None = None
    schedule: KeySchedule | None = None
    client_handshake_secret: bytes = b""
    server_handshake_secret: bytes = b""
    client_application_secret: bytes = b""
    server_application_secret: bytes = b""
    # The fuzzing harness's hook (engine.instrument): rewrites each handshake message we send.
    message_hook: MessageHook | None = None
    # s2n's key_update_pending (tls/s2n_key_update.c): a KeyUpdate goes out with the next record of data.
    key_update_pending: bool = False
    # Our pending KeyUpdate asks the peer to update too (update_requested).
    key_update_request: bool = False
    _batch: bytearray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        """Start at the first message of s2n's INITIAL sequence."""
        self.position = HandshakePosition(client=self.is_client)

    @property
    def flags(self) -> HandshakeFlags:
        """s2n's handshake type so far."""
        return self.position.flags

    @property
    def suite(self) -> CipherSuite:
        """The negotiated suite; an internal error before ServerHello."""
        if self.negotiated.suite is None:
            raise InternalError("no cipher suite negotiated yet")
        return self.negotiated.suite

    @property
    def key_schedule(self) -> KeySchedule:
        """The key schedule; an internal error before ServerHello."""
        if self.schedule is None:
            raise InternalError("key schedule not started")
        return self.schedule

    def send(self, message: HandshakeMessage, *, legacy_version: int = 0x0303) -> bytes:
        """Write the message at the position (``write_message``), then move on; return the bytes sent."""
        encoded = self.write_message(message, legacy_version=legacy_version)
        self.finish_write()
        return encoded

    def write_message(self, message: HandshakeMessage, *, legacy_version: int = 0x0303) -> bytes:
        """Encode, add to the transcript, queue as its own record(s), without moving on; return the bytes.

        The message must be the one the position says this side writes now (else an
        ``InternalError``: the states and the sequence disagree). Inside ``one_record(True)``
        the message waits to share a record with the next ones. With a ``message_hook``,
        what it returns is what is hashed and written.
        """
        self.position.check_write(ContentType.HANDSHAKE, message.msg_type)
        encoded = self.hooked(encode_handshake(message))
        self.transcript.add(encoded)
        if self._batch is not None:
            self._batch += encoded
        else:
            self.records.write(ContentType.HANDSHAKE, encoded, legacy_version=legacy_version)
        return encoded

    def finish_write(self) -> None:
        """The message written is done (s2n_handshake_write_io): move on, and write our CCS if it is next."""
        self.position.advance()
        self._write_own_change_cipher_spec()

    def hooked(self, encoded: bytes) -> bytes:
        """``encoded`` as the message hook rewrites it (unchanged without one)."""
        return encoded if self.message_hook is None else self.message_hook(encoded[0], encoded)

    @contextmanager
    def one_record(self, coalesce: bool) -> Iterator[None]:
        """With ``coalesce``, the messages sent inside go out together (one record up to the size limit)."""
        if not coalesce:
            yield
            return
        self._batch = bytearray()
        try:
            yield
            self.records.write(ContentType.HANDSHAKE, bytes(self._batch))
        finally:
            self._batch = None

    def _write_own_change_cipher_spec(self) -> None:
        """The middlebox-compatibility CCS (RFC 8446 appendix D.4) where our sequence has it.

        MIDDLEBOX_COMPAT sequences hold one per side: after the HelloRetryRequest (or the
        ServerHello) for the server, before the second ClientHello (or the Finished) for the client.
        """
        if self.position.own_change_cipher_spec:
            self.records.write_change_cipher_spec()
            self.position.advance()

    def set_handshake_type(self, *, middlebox: bool) -> None:
        """The handshake type once the hello is processed (``HandshakePosition.set_handshake_type``)."""
        self.position.set_handshake_type(middlebox=middlebox)
        self.records.allow_change_cipher_spec = True

    def set_hello_retry(self) -> None:
        """A HelloRetryRequest is part of this handshake."""
        self.position.set_hello_retry()
        self.records.allow_change_cipher_spec = True

    def received(self, raw: bytes) -> None:
        """A message read from the peer is done: into the transcript, then ``finish_read``."""
        self.transcript.add(raw)
        self.finish_read()

    def finish_read(self) -> None:
        """The message read is done (s2n_finish_read): move on; check the rest of its record; write our CCS if next.

        s2n reads on in the same record only while it expects the peer's messages
        (tls/s2n_handshake_io.c ``s2n_handshake_message_process``): at APPLICATION_DATA any
        byte left is S2N_ERR_BAD_MESSAGE, and when it is our turn to write a whole message
        left is one too (it is not expected, and the writer does not read), before we write.
        """
        position = self.position
        position.advance()
        if position.complete and self.incoming.pending:
            raise UnexpectedMessageError("handshake data after the last handshake message, in its record")
        if position.ours and self.incoming.message_ready():
            raise UnexpectedMessageError("a handshake message after the end of the peer's flight, in its record")
        self._write_own_change_cipher_spec()

    def _log_secret(self, label: bytes, secret: bytes) -> None:
        if self.key_log is not None:
            self.key_log(label + b" " + self.client_random.hex().encode() + b" " + secret.hex().encode())

    def _protection(self, secret: bytes) -> RecordProtection:
        suite = self.suite
        return RecordProtection(suite, traffic_keys(suite.hash_name, secret, suite.key_len, suite.iv_len))

    def derive_handshake_secrets(self, shared_secret: bytes) -> None:
        """After ServerHello: the handshake traffic secrets (RFC 8446 section 7.1)."""
        schedule = self.key_schedule
        schedule.enter_handshake(shared_secret)
        transcript_hash = self.transcript.digest()
        self.client_handshake_secret = schedule.derive_secret(
            schedule.handshake_secret, b"c hs traffic", transcript_hash
        )
        self.server_handshake_secret = schedule.derive_secret(
            schedule.handshake_secret, b"s hs traffic", transcript_hash
        )
        self._log_secret(b"CLIENT_HANDSHAKE_TRAFFIC_SECRET", self.client_handshake_secret)
        self._log_secret(b"SERVER_HANDSHAKE_TRAFFIC_SECRET", self.server_handshake_secret)

    def derive_application_secrets(self) -> None:
        """After the server Finished: the application traffic and exporter secrets."""
        schedule = self.key_schedule
        schedule.enter_master()
        transcript_hash = self.transcript.digest()
        self.client_application_secret = schedule.derive_secret(
            schedule.master_secret, b"c ap traffic", transcript_hash
        )
        self.server_application_secret = schedule.derive_secret(
            schedule.master_secret, b"s ap traffic", transcript_hash
        )
        self._log_secret(b"CLIENT_TRAFFIC_SECRET_0", self.client_application_secret)
        self._log_secret(b"SERVER_TRAFFIC_SECRET_0", self.server_application_secret)
        if self.key_log is not None:  # nothing else uses the exporter secret: derived only to be logged
            exporter = schedule.derive_secret(schedule.master_secret, b"exp master", transcript_hash)
            self._log_secret(b"EXPORTER_SECRET", exporter)

    def use_handshake_keys(self, *, read: bool, write: bool) -> None:
        """Switch one or both directions to the handshake traffic keys."""
        self._use_keys(self.client_handshake_secret, self.server_handshake_secret, read=read, write=write)

    def use_application_keys(self, *, read: bool, write: bool) -> None:
        """Switch one or both directions to the application traffic keys."""
        self._use_keys(self.client_application_secret, self.server_application_secret, read=read, write=write)

    def _use_keys(self, client_secret: bytes, server_secret: bytes, *, read: bool, write: bool) -> None:
        own, peer = self._own_and_peer(client_secret, server_secret)
        if write:
            self.records.write_protection = self._protection(own)
        if read:
            self.records.read_protection = self._protection(peer)

    def _own_and_peer(self, client_secret: bytes, server_secret: bytes) -> tuple[bytes, bytes]:
        return (client_secret, server_secret) if self.is_client else (server_secret, client_secret)

    def finished_verify_data(self, *, ours: bool) -> bytes:
        """The verify_data a Finished must carry now, for our side or the peer's."""
        client_is_sender = self.is_client == ours
        base_key = self.client_handshake_secret if client_is_sender else self.server_handshake_secret
        return self.key_schedule.finished_verify_data(base_key, self.transcript.digest())

    def check_peer_finished(self, verify_data: bytes) -> None:
        """Check the peer's Finished against the transcript so far."""
        if len(verify_data) != self.suite.hash_len:
            raise DecodeError(f"Finished of {len(verify_data)} bytes, expected {self.suite.hash_len}")
        # = https://www.rfc-editor.org/rfc/rfc8446#section-4.4.4
        # = type=implementation
        ## Recipients of Finished messages MUST verify that the contents are correct and if incorrect MUST
        ## terminate the connection with a "decrypt_error" alert.
        if not hmac.compare_digest(verify_data, self.finished_verify_data(ours=False)):
            raise DecryptError("the peer's Finished does not verify")


def certificate_verify_digest(scheme: int, transcript_hash: bytes, *, server: bool) -> bytes:
    """The digest signed in CertificateVerify (RFC 8446 section 4.4.3)."""
    content = b" " * 64 + (_SERVER_CONTEXT if server else _CLIENT_CONTEXT) + b"\x00" + transcript_hash
    return hashlib.new(_hash_name(scheme), content).digest()


@functools.lru_cache(maxsize=64)  # by code point: both sides ask once a handshake
def _hash_name(scheme: int) -> str:
    return scheme_hash(SignatureScheme(scheme)).name
