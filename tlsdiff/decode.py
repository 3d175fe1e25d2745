"""Decode a recorded TLS 1.3 conversation, both directions, with its NSS key log.

A passive observer, as Wireshark is: it cuts each direction into records, learns the
client random from the ClientHello and the suite from the ServerHello (a
HelloRetryRequest changes nothing), and follows each sender's keys from the messages it
sees:

- server to client: after the ServerHello, SERVER_HANDSHAKE_TRAFFIC_SECRET; after the
  server's Finished, SERVER_TRAFFIC_SECRET_0;
- client to server: after the ServerHello (a plaintext change_cipher_spec may come
  first), CLIENT_HANDSHAKE_TRAFFIC_SECRET; after the client's Finished,
  CLIENT_TRAFFIC_SECRET_0;
- a KeyUpdate moves its sender to the next generation (RFC 8446 7.2).

0-RTT early data is not followed (its records show as undecrypted). Handshake
messages are reassembled across records; a message is reported with the
record in which it completes. Decoding is total: garbage, cut streams and records that
do not decrypt become records with ``plaintext=None`` or an incomplete last record.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag

from engine.crypto.key_schedule import next_traffic_secret, traffic_keys
from engine.crypto.suites import TLS13_SUITES, CipherSuite
from engine.errors import BadRecordMacError, TLSError
from engine.record.protection import RecordProtection
from engine.wire.handshake import HandshakeBuffer, HandshakeType
from engine.wire.reader import Reader
from engine.wire.record import RECORD_HEADER_SIZE, ContentType, RecordHeader
from tlsdiff.fieldtree import find, parse_message

__all__ = [
    "CLIENT_TO_SERVER",
    "SERVER_TO_CLIENT",
    "ConversationDecoder",
    "DecodedRecord",
    "KeyLog",
    "decode_conversation",
    "decode_stream",
    "describe_record",
    "split_wire_records",
]

CLIENT_TO_SERVER = "client->server"
SERVER_TO_CLIENT = "server->client"
_SENDERS = {CLIENT_TO_SERVER: "CLIENT", SERVER_TO_CLIENT: "SERVER"}
_CLIENT_RANDOM_SIZE = 32
# A u24 length never exceeds this, so reassembly never refuses a message.
_ANY_MESSAGE_SIZE = 1 << 24


@dataclass(frozen=True, slots=True)
class KeyLog:
    """NSS key-log secrets by (label, client_random); lines that do not parse are skipped.

    >>> log = KeyLog.parse([b"SERVER_TRAFFIC_SECRET_0 " + b"01" * 32 + b" 0a0b", b"garbage"])
    >>> log.secret("SERVER_TRAFFIC_SECRET_0", bytes([1]) * 32).hex()
    '0a0b'
    """

    secrets: dict[tuple[str, bytes], bytes] = field(default_factory=dict)

    @classmethod
    def parse(cls, lines: Iterable[bytes | str] | bytes | str) -> KeyLog:
        """Read ``LABEL <client_random hex> <secret hex>`` lines (items may hold several lines)."""
        items: Iterable[object] = (lines,) if isinstance(lines, bytes | bytearray | str) else lines
        secrets: dict[tuple[str, bytes], bytes] = {}
        for item in items:
            text = item.encode("utf-8", "replace") if isinstance(item, str) else item
            if not isinstance(text, bytes | bytearray | memoryview):
                continue
            for line in bytes(text).splitlines():
                entry = _key_log_entry(line)
                if entry is not None:
                    secrets.setdefault(entry[0], entry[1])
        return cls(secrets)

    def secret(self, label: str, client_random: bytes) -> bytes | None:
        """The secret logged under ``label`` for the connection with ``client_random``."""
        return self.secrets.get((label, client_random))

    @property
    def client_randoms(self) -> tuple[bytes, ...]:
        """The client randoms the log names, in first-seen order."""
        return tuple(dict.fromkeys(client_random for _, client_random in self.secrets))


def _key_log_entry(line: bytes) -> tuple[tuple[str, bytes], bytes] | None:
    parts = line.split()
    if len(parts) != 3 or parts[0].startswith(b"#"):
        return None
    try:
        label = parts[0].decode("ascii")
        client_random = bytes.fromhex(parts[1].decode("ascii"))
        secret = bytes.fromhex(parts[2].decode("ascii"))
    except ValueError:  # not ASCII, or not hex
        return None
    return (label, client_random), secret


@dataclass(frozen=True, slots=True)
class DecodedRecord:
    """One record of a conversation as an observer with the key log sees it.

    ``index`` counts records per direction from 0. Header fields are None only for an
    incomplete last record too short to hold them. An unprotected record's
    ``inner_type`` and ``plaintext`` are its header type and body; a protected one's are
    the real content type and the content without padding once decrypted (``inner_type``
    is None if the plaintext held no nonzero byte), else None. ``messages`` are the
    handshake messages that complete in this record, as (msg_type, whole message bytes).
    """

    direction: str
    index: int
    content_type: int | None
    legacy_version: int | None
    length: int | None
    raw: bytes
    complete: bool = True
    protected: bool = False
    decrypted: bool = False
    inner_type: int | None = None
    plaintext: bytes | None = None
    padding: int = 0
    key_label: str | None = None
    messages: tuple[tuple[int, bytes], ...] = ()

    @property
    def body(self) -> bytes:
        """The record body as on the wire (after the 5-byte header)."""
        return self.raw[RECORD_HEADER_SIZE:]


def split_wire_records(data: bytes | memoryview) -> tuple[list[bytes], bytes]:
    """Cut ``data`` into whole records (header and body) and the incomplete bytes left after them.

    >>> split_wire_records(bytes.fromhex("14030300010116030300"))
    ([b'\\x14\\x03\\x03\\x00\\x01\\x01'], b'\\x16\\x03\\x03\\x00')
    """
    reader = Reader(data)
    records: list[bytes] = []
    while reader.remaining >= RECORD_HEADER_SIZE:
        header = reader.bytes(RECORD_HEADER_SIZE)
        length = RecordHeader.decode(header).length
        if length > reader.remaining:
            return records, bytes(header) + bytes(reader.rest())
        records.append(bytes(header) + bytes(reader.bytes(length)))
    return records, bytes(reader.rest())


_Opened = tuple[int | None, bytes, int]  # (inner content type, content, padding length)


def _open(protection: RecordProtection, header: bytes, body: bytes) -> _Opened | None:
    """Open one record with ``protection``; None if it does not decrypt (the sequence still moves on)."""
    sequence = protection.sequence
    try:
        inner_type, content = protection.open(header, body)
    except BadRecordMacError:
        return None
    except TLSError:
        # Over-long or without a content type: the engine refuses it, an observer still shows it.
        return _open_leniently(protection, sequence, header, body)
    return inner_type, content, len(body) - protection.suite.tag_len - 1 - len(content)


def _open_leniently(protection: RecordProtection, sequence: int, header: bytes, body: bytes) -> _Opened | None:
    suite, keys = protection.suite, protection.keys
    protection.sequence = sequence + 1
    if sequence >= 1 << 64:
        return None
    nonce = (int.from_bytes(keys.iv, "big") ^ sequence).to_bytes(suite.iv_len, "big")
    try:
        inner = suite.aead(keys.key).decrypt(nonce, body, header)
    except InvalidTag:
        return None
    content = inner.rstrip(b"\x00")
    if not content:
        return None, b"", len(inner)
    return content[-1], content[:-1], len(inner) - len(content)


_PLAINTEXT, _HANDSHAKE, _APPLICATION = "plaintext", "handshake", "application"


class _Side:
    """What the observer knows about one direction: buffered bytes, reassembly, its current keys."""

    __slots__ = ("count", "direction", "generation", "label", "messages", "pending", "protection", "secret", "stage")

    def __init__(self, direction: str) -> None:
        self.direction = direction
        self.pending = b""
        self.messages = HandshakeBuffer(_ANY_MESSAGE_SIZE)
        self.count = 0
        self.stage = _PLAINTEXT
        self.generation = 0
        self.label: str | None = None
        self.secret: bytes | None = None
        self.protection: RecordProtection | None = None

    @property
    def sender(self) -> str | None:
        return _SENDERS.get(self.direction)


class ConversationDecoder:
    """Incremental decoding: ``feed`` each transfer in order, then ``finish`` for what is left over.

    ``client_random`` names the connection in the key log when the ClientHello is not in
    the capture; otherwise a key log naming a single connection is used for it.
    """

    def __init__(self, key_log: Iterable[bytes] | KeyLog = (), *, client_random: bytes | None = None) -> None:
        self._key_log = key_log if isinstance(key_log, KeyLog) else KeyLog.parse(key_log)
        self._client_randoms: list[bytes] = [] if client_random is None else [client_random]
        self._suite: CipherSuite | None = None
        self._sides = {direction: _Side(direction) for direction in _SENDERS}

    def feed(self, direction: str, data: bytes) -> list[DecodedRecord]:
        """The records ``data`` completes in ``direction`` (any other direction name is decoded without keys)."""
        side = self._sides.setdefault(direction, _Side(direction))
        records, side.pending = split_wire_records(side.pending + bytes(data))
        return [self._record(side, raw) for raw in records]

    def finish(self) -> list[DecodedRecord]:
        """One incomplete record per direction whose bytes did not end on a record boundary."""
        return [self._incomplete(side) for side in self._sides.values() if side.pending]

    def _incomplete(self, side: _Side) -> DecodedRecord:
        reader = Reader(side.pending)
        content_type, legacy_version, length = (
            reader.uint(size) if reader.remaining >= size else None for size in (1, 2, 2)
        )
        record = DecodedRecord(side.direction, side.count, content_type, legacy_version, length, side.pending, False)
        side.count += 1
        side.pending = b""
        return record

    def _record(self, side: _Side, raw: bytes) -> DecodedRecord:
        header = RecordHeader.decode(raw[:RECORD_HEADER_SIZE])
        body = raw[RECORD_HEADER_SIZE:]
        index, side.count = side.count, side.count + 1
        protected = header.content_type == ContentType.APPLICATION_DATA
        opened: _Opened | None = (header.content_type, body, 0)
        label = None
        if protected:
            label = side.label
            opened = None if side.protection is None else _open(side.protection, raw[:RECORD_HEADER_SIZE], body)
        messages: tuple[tuple[int, bytes], ...] = ()
        if opened is not None and opened[0] == ContentType.HANDSHAKE:
            messages = self._handshake(side, opened[1])
        return DecodedRecord(
            side.direction, index, header.content_type, header.legacy_version, header.length, raw,
            protected=protected, decrypted=protected and opened is not None,
            inner_type=None if opened is None else opened[0], plaintext=None if opened is None else opened[1],
            padding=0 if opened is None else opened[2], key_label=label, messages=messages,
        )  # fmt: skip

    def _handshake(self, side: _Side, content: bytes) -> tuple[tuple[int, bytes], ...]:
        side.messages.feed(content)
        messages = []
        while (message := side.messages.next_message()) is not None:
            messages.append(message)
            self._observe(side, *message)
        return tuple(messages)

    def _observe(self, side: _Side, msg_type: int, raw: bytes) -> None:
        """Move the epochs on as the messages demand; keys change for the records after this one."""
        if msg_type == HandshakeType.CLIENT_HELLO and side.direction == CLIENT_TO_SERVER:
            random = find(parse_message(raw), "ClientHello.random")
            if random is not None and len(random.data) == _CLIENT_RANDOM_SIZE:
                self._client_randoms.append(random.data)
        elif msg_type == HandshakeType.SERVER_HELLO and side.direction == SERVER_TO_CLIENT:
            self._server_hello(raw)
        elif msg_type == HandshakeType.FINISHED and side.stage == _HANDSHAKE:
            self._enter(side, _APPLICATION, f"{side.sender}_TRAFFIC_SECRET_0")
        elif msg_type == HandshakeType.KEY_UPDATE and side.stage == _APPLICATION:
            self._key_update(side)

    def _server_hello(self, raw: bytes) -> None:
        tree = parse_message(raw)
        suite = find(tree, "ServerHello.cipher_suite")
        # A HelloRetryRequest parses as its own message name; a second ServerHello is ignored.
        if tree.name != "ServerHello" or suite is None or self._sides[SERVER_TO_CLIENT].stage != _PLAINTEXT:
            return
        self._suite = TLS13_SUITES.get(suite.value)
        for direction in _SENDERS:
            side = self._sides[direction]
            self._enter(side, _HANDSHAKE, f"{side.sender}_HANDSHAKE_TRAFFIC_SECRET")

    def _enter(self, side: _Side, stage: str, label: str) -> None:
        side.stage, side.label, side.generation = stage, label, 0
        side.secret = self._secret(label) if side.sender is not None else None
        side.protection = self._protection(side.secret)

    def _key_update(self, side: _Side) -> None:
        side.generation += 1
        side.label = f"{side.sender}_TRAFFIC_SECRET_{side.generation}"
        if side.secret is not None and self._suite is not None:
            side.secret = next_traffic_secret(self._suite.hash_name, side.secret)
        else:
            side.secret = None
        side.protection = self._protection(side.secret)

    def _secret(self, label: str) -> bytes | None:
        candidates = list(reversed(self._client_randoms))
        if not candidates and len(self._key_log.client_randoms) == 1:
            candidates = list(self._key_log.client_randoms)
        for client_random in candidates:
            secret = self._key_log.secret(label, client_random)
            if secret is not None:
                return secret
        return None

    def _protection(self, secret: bytes | None) -> RecordProtection | None:
        suite = self._suite
        if secret is None or suite is None:
            return None
        return RecordProtection(suite, traffic_keys(suite.hash_name, secret, suite.key_len, suite.iv_len))


def decode_conversation(
    transfers: Sequence[tuple[str, bytes]], key_log: Iterable[bytes] | KeyLog = ()
) -> list[DecodedRecord]:
    """Every record of a conversation, in the order the records completed.

    ``transfers`` are ``("client->server" | "server->client", bytes)`` in the order they
    were sent; any split of the streams gives the same records. Incomplete bytes at the
    end of a direction come last, as records with ``complete=False``.
    """
    decoder = ConversationDecoder(key_log)
    records: list[DecodedRecord] = []
    for direction, data in transfers:
        records += decoder.feed(direction, data)
    return records + decoder.finish()


def decode_stream(
    direction: str, data: bytes, key_log: Iterable[bytes] | KeyLog = (), *, client_random: bytes | None = None
) -> list[DecodedRecord]:
    """The records of one direction alone.

    Server to client, the keys follow from the ServerHello in the stream, with the client
    random given or the only one in the key log. Client to server, only the plaintext
    records decode (the suite comes from the other direction).
    """
    decoder = ConversationDecoder(key_log, client_random=client_random)
    return decoder.feed(direction, data) + decoder.finish()


_TYPE_NAMES = {20: "change_cipher_spec", 21: "alert", 22: "handshake", 23: "application_data"}


def describe_record(record: DecodedRecord) -> str:
    """One line: direction, index, types, sizes, key and the messages it completes.

    >>> describe_record(DecodedRecord("client->server", 0, 21, 0x0303, 2, bytes.fromhex("15030300020100"),
    ...                               inner_type=21, plaintext=b"\\x01\\x00"))
    'client->server #0 alert 2 bytes'
    """
    outer = _TYPE_NAMES.get(record.content_type or 0, str(record.content_type))
    parts = [f"{record.direction} #{record.index} {outer}"]
    if record.protected:
        inner = "undecrypted" if not record.decrypted else _TYPE_NAMES.get(record.inner_type or 0, "no type")
        parts.append(f"({inner})")
    parts.append(f"{len(record.raw) - RECORD_HEADER_SIZE if record.complete else len(record.raw)} bytes")
    if not record.complete:
        parts.append("incomplete")
    if record.key_label is not None:
        parts.append(f"key {record.key_label}")
    if record.padding:
        parts.append(f"padding {record.padding}")
    parts += [HandshakeType(msg_type).name for msg_type, _ in record.messages]
    return " ".join(parts)
