"""The record layer of one connection: what to send, and what came in, per epoch.

Writing: content is cut into records of at most ``max_plaintext`` bytes (s2n's
sizing), protected once write keys are set. Reading: records are deframed,
decrypted with the current read keys, and handed up as (content type, payload);
the middlebox-compatibility ChangeCipherSpec is checked and dropped here.

With ``defer_sealing`` (``engine.instrument``) written records wait unsealed, each
with the protection in force when it was written, until they are taken or sealed.
``wire_bytes_in`` and ``wire_bytes_out`` count what crossed the transport, as s2n's
``s2n_connection_get_wire_bytes_in``/``_out`` do.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from engine.errors import RecordOverflowError, UnexpectedMessageError
from engine.instrument import PlaintextRecord, seal_record
from engine.record.deframer import Deframer
from engine.record.protection import MAX_CIPHERTEXT, MAX_INNER_PLAINTEXT, MAX_PLAINTEXT, RecordProtection

__all__ = ["SSLV2_RECORD", "ContentType", "RecordLayer", "RecordReading"]

SSLV2_RECORD = 0x100
"""The content type ``records`` gives an SSLv2 record (s2n's framing); its content starts at its msg_type."""

# The largest plaintext record s2n reads (Compat.oversized_plaintext_records): it passes every
# unprotected record through the null cipher's HMAC update, which refuses a size over
# UINT32_MAX - 4294949760 = 17535 (crypto/s2n_hmac.c:248, S2N_ERR_INTEGER_OVERFLOW), once the body is in
# (tls/s2n_record_read_stream.c:67); the header alone passes any length (tls/s2n_record_read.c:159-170).
_S2N_MAX_PLAINTEXT_RECORD = 17535
# How far past 2^14 + 1 bytes s2n lets a decrypted TLSInnerPlaintext run (Compat.inner_plaintext_slack):
# "Certain versions of Java can generate inner plaintexts with lengths up to
# S2N_MAXIMUM_INNER_PLAINTEXT_LENGTH + 16 (See JDK-8221253)" (tls/s2n_record_read.c:331-336).
_S2N_INNER_PLAINTEXT_SLACK = 16


class ContentType:
    """Record content types (RFC 8446 section 5.1)."""

    CHANGE_CIPHER_SPEC = 20
    ALERT = 21
    HANDSHAKE = 22
    APPLICATION_DATA = 23


_KNOWN_TYPES = {ContentType.CHANGE_CIPHER_SPEC, ContentType.ALERT, ContentType.HANDSHAKE, ContentType.APPLICATION_DATA}


@dataclass(frozen=True)
class RecordReading:
    """How records are read: the ``Compat`` switches of the record layer (all off: the RFC's reading)."""

    accept_oversized: bool = False
    s2n_framing: bool = False
    check_version: bool = False
    inner_plaintext_slack: bool = False


class RecordLayer:
    """Per-connection record state: keys, sequence numbers, buffers."""

    def __init__(
        self, max_plaintext: int, *, reading: RecordReading | None = None, defer_sealing: bool = False
    ) -> None:
        reading = reading or RecordReading()
        self.max_plaintext = max_plaintext
        self._max_received_plaintext = _S2N_MAX_PLAINTEXT_RECORD if reading.accept_oversized else MAX_PLAINTEXT
        self._max_inner = MAX_INNER_PLAINTEXT + (_S2N_INNER_PLAINTEXT_SLACK if reading.inner_plaintext_slack else 0)
        self.read_protection: RecordProtection | None = None
        self.write_protection: RecordProtection | None = None
        # Whether a ChangeCipherSpec record may come now (it is then dropped); the connection
        # opens this while the handshake may carry one and closes it as s2n does.
        self.allow_change_cipher_spec = False
        # Compat.plaintext_alerts_in_handshake: the connection clears it when the handshake completes.
        self.allow_plaintext_alerts = False
        self.ignore_protected_change_cipher_spec = False
        # s2n reads a record of any length before it looks at its size.
        max_body = 0xFFFF if reading.accept_oversized else MAX_CIPHERTEXT
        self._deframer = Deframer(max_body, s2n_framing=reading.s2n_framing, check_version=reading.check_version)
        self._outgoing: list[bytes] = []  # record headers and bodies, joined when taken
        self.defer_sealing = defer_sealing
        self._unsealed: list[PlaintextRecord] = []
        self.wire_bytes_in = 0
        self.wire_bytes_out = 0

    # ---- writing ----

    def write(
        self, content_type: int, content: bytes | bytearray | memoryview, *, legacy_version: int = 0x0303
    ) -> None:
        """Queue ``content`` as one or more records (never zero-length ones), copied before this returns."""
        protection = None if content_type == ContentType.CHANGE_CIPHER_SPEC else self.write_protection
        view = memoryview(content).cast("B")  # fragments are views: each is copied once, into its record
        for start in range(0, max(len(view), 1), self.max_plaintext):
            fragment = view[start : start + self.max_plaintext]
            if self.defer_sealing:
                version = legacy_version if protection is None else 0x0303
                self._unsealed.append(PlaintextRecord(content_type, bytes(fragment), version, protection))
            elif protection is None:
                header = bytes([content_type]) + legacy_version.to_bytes(2, "big") + len(fragment).to_bytes(2, "big")
                self._outgoing += (header, bytes(fragment))
            else:
                self._outgoing += protection.seal_parts(content_type, fragment)

    def write_change_cipher_spec(self) -> None:
        """The middlebox-compatibility ChangeCipherSpec record (RFC 8446 appendix D.4)."""
        if self.defer_sealing:
            self._unsealed.append(PlaintextRecord(ContentType.CHANGE_CIPHER_SPEC, b"\x01", 0x0303, None))
        else:
            self._outgoing.append(bytes([ContentType.CHANGE_CIPHER_SPEC, 3, 3, 0, 1, 1]))

    def take_outgoing(self) -> bytes:
        """Everything queued, for the transport (records still unsealed are sealed as they are)."""
        if self._unsealed:
            self._outgoing += (seal_record(record) for record in self._unsealed)
            self._unsealed.clear()
        data = b"".join(self._outgoing)  # the one copy of each record's bytes on the way out
        self._outgoing.clear()
        self.wire_bytes_out += len(data)
        return data

    def take_unsealed(self) -> list[PlaintextRecord]:
        """The records written since the last call, not yet sealed (only with ``defer_sealing``)."""
        records, self._unsealed = self._unsealed, []
        return records

    def seal(self, records: Sequence[PlaintextRecord], padding: int | None = None) -> bytes:
        """Wire bytes for ``records``, in order; they count as sent (``wire_bytes_out``)."""
        data = b"".join(seal_record(record, padding) for record in records)
        self.wire_bytes_out += len(data)
        return data

    # ---- reading ----

    def feed(self, data: bytes) -> bool:
        """Bytes from the peer; False when they only extend a record still incomplete (``records``
        would yield nothing)."""
        self.wire_bytes_in += len(data)
        return self._deframer.feed(data)

    @property
    def pending(self) -> int:
        """Received bytes that do not yet make a whole record."""
        return self._deframer.pending

    @property
    def version_established(self) -> bool:
        """Whether ``establish_version`` was called (s2n's ``actual_protocol_version_established``)."""
        return self._deframer.version_established

    def establish_version(self) -> None:
        """From now on record headers are checked as s2n checks them once the version is known.

        s2n sets ``actual_protocol_version_established`` on a client once it has parsed the
        ServerHello or HelloRetryRequest (tls/s2n_server_hello.c:273), on a server once it has
        written its ServerHello, not a HelloRetryRequest (tls/s2n_server_hello.c:340).
        """
        self._deframer.version_established = True

    def records(self) -> Iterator[tuple[int, bytes]]:
        """Whole records as (content type, content), decrypted; a ChangeCipherSpec after its checks.

        The connection drops a ChangeCipherSpec (it only checks where it comes). One inside a
        protected record is read as one, as s2n reads it (tls/s2n_record_read.c
        ``s2n_tls13_parse_record_type`` gives the inner type, then the same checks).
        """
        while (record := self._deframer.next_record()) is not None:
            if record.sslv2:
                yield SSLV2_RECORD, b"".join((record.header[2:], record.body))
                continue
            content_type, content = self._open(record.content_type, record.header, record.body)
            # A protected ChangeCipherSpec: after the handshake s2n discards one unchecked, whatever it holds
            # (tls/s2n_recv.c:245-253); the connection sets the flag then (Compat.protected_change_..._handshake).
            protected_ccs = content_type == ContentType.CHANGE_CIPHER_SPEC and record.content_type != content_type
            if protected_ccs and not self.ignore_protected_change_cipher_spec:
                self._check_change_cipher_spec(content)
            yield content_type, content

    def _open(self, content_type: int, header: bytes, body: memoryview) -> tuple[int, bytes]:
        """(content type, content) of one record; ``body`` is a view of what was fed, decrypted in place."""
        if content_type not in _KNOWN_TYPES:
            raise UnexpectedMessageError(f"unknown record type {content_type}")
        if content_type == ContentType.CHANGE_CIPHER_SPEC:
            self._check_change_cipher_spec(body)
            return content_type, bytes(body)
        if self.read_protection is not None and not (content_type == ContentType.ALERT and self.allow_plaintext_alerts):
            if content_type != ContentType.APPLICATION_DATA:
                raise UnexpectedMessageError("unprotected record after keys changed")
            return self.read_protection.open(header, body, max_inner=self._max_inner)
        # = https://www.rfc-editor.org/rfc/rfc8446#section-5.1
        # = type=implementation
        ## The length MUST NOT exceed 2^14 bytes.  An endpoint that receives a record that exceeds this length MUST
        ## terminate the connection with a "record_overflow" alert.
        if len(body) > self._max_received_plaintext:
            raise RecordOverflowError(f"plaintext record of {len(body)} bytes")
        if content_type == ContentType.APPLICATION_DATA:
            raise UnexpectedMessageError("application data before keys")
        # = https://www.rfc-editor.org/rfc/rfc8446#section-5.1
        # = type=implementation
        ## Implementations MUST NOT send zero-length fragments of Handshake types, even if those fragments contain
        ## padding.
        if not body:
            raise UnexpectedMessageError("zero-length plaintext record")
        return content_type, bytes(body)

    def _check_change_cipher_spec(self, body: bytes | memoryview) -> None:
        # = https://www.rfc-editor.org/rfc/rfc8446#section-5
        # = type=implementation
        ## An implementation which receives any other change_cipher_spec value or which receives a protected
        ## change_cipher_spec record MUST abort the handshake with an "unexpected_message" alert.
        if body != b"\x01":
            raise UnexpectedMessageError("change_cipher_spec must be the single byte 0x01")
        if not self.allow_change_cipher_spec:
            raise UnexpectedMessageError("change_cipher_spec where none may come (before a hello, after the handshake)")
