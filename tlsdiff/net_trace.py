"""The handshake trace of ``tlsdiff client`` and ``tlsdiff server``: what crossed the socket, message by message.

Both implementations are traced the same way, from the outside: every byte a session
writes or reads is kept with its direction, and ``tlsdiff.decode`` cuts it into records
and decrypts them with the session's own key log, as Wireshark would. So the engine and
C s2n-tls print the same lines for the same conversation, named as s2n names its messages
(``s2n_connection_get_last_message_name``), one line per message, e.g.
``<<< SERVER_HELLO 151 bytes: TLS_AES_128_GCM_SHA256; key share secp256r1``: ``>>>`` is
what this side sent, ``<<<`` what it received (docs/cli.md shows a whole trace).
Application data is only counted, one line per direction when the connection is over.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from cryptography import x509
from cryptography.x509.oid import NameOID

from engine.connection import ConnectionInfo
from engine.errors import AlertDescription
from engine.wire.extensions import NamedGroup, SignatureScheme
from engine.wire.handshake import CipherSuite, HandshakeType, KeyUpdateRequest
from engine.wire.record import ContentType
from tlsdiff.decode import CLIENT_TO_SERVER, ConversationDecoder, DecodedRecord
from tlsdiff.fieldschema import HELLO_RETRY_REQUEST
from tlsdiff.fieldtree import Kind, Node, parse_message, preorder

__all__ = ["RECEIVED", "SENT", "WireTrace", "alert_name", "describe_message", "summary_lines"]

SENT, RECEIVED = ">>>", "<<<"
Emit = Callable[[str], None]

# s2n's message names (tls/s2n_handshake_io.c message_names); the sender's side prefixes the shared ones.
_SIDED_NAMES = {
    HandshakeType.CERTIFICATE: "CERT",
    HandshakeType.CERTIFICATE_VERIFY: "CERT_VERIFY",
    HandshakeType.FINISHED: "FINISHED",
    HandshakeType.CERTIFICATE_REQUEST: "CERT_REQ",
}
_TLS13_SUITE_PREFIX = 0x13  # TLS 1.3 suites are 0x13xx; the others a ClientHello lists are TLS 1.2 suites or SCSVs
_ALERT_LEVELS = {1: "warning", 2: "fatal"}
_ALERT_SIZE = 2


def alert_name(description: int) -> str:
    """An alert as people read it: ``handshake_failure (40)``; an unknown one by its number.

    >>> alert_name(40), alert_name(201)
    ('handshake_failure (40)', 'alert 201')
    """
    try:
        return f"{AlertDescription(description).name.lower()} ({description})"
    except ValueError:
        return f"alert {description}"


def _path(name: str) -> str:
    """A field path without positions: ``ClientHello.extensions[4:server_name].x[0]`` is
    ``ClientHello.extensions.server_name.x``."""
    return re.sub(r"\[\d+\]", "", re.sub(r"\[\d+:([^\]]+)\]", r".\1", name))


class _Fields:
    """A message's field tree, looked up by position-free path."""

    def __init__(self, tree: Node) -> None:
        self.by_path: dict[str, list[Node]] = {}
        for node in preorder(tree):
            self.by_path.setdefault(_path(node.name), []).append(node)

    def values(self, path: str) -> list[int]:
        return [node.value for node in self.by_path.get(path, []) if node.kind is Kind.UINT]

    def data(self, path: str) -> list[bytes]:
        return [node.data for node in self.by_path.get(path, []) if node.kind is Kind.OPAQUE]

    def extension_names(self, message: str) -> list[str]:
        prefix = f"{message}.extensions."
        return [path[len(prefix) :] for path in self.by_path if path.startswith(prefix) and path.count(".") == 2]


def _text(names: Sequence[bytes]) -> str:
    return ",".join(name.decode("ascii", "replace") for name in names)


def _group_names(values: Sequence[int]) -> str:
    return " ".join(NamedGroup(value).name.lower() for value in values)


def _client_hello(fields: _Fields) -> list[str]:
    suites = fields.values("ClientHello.cipher_suites")
    tls13 = [CipherSuite(suite).name for suite in suites if suite >> 8 == _TLS13_SUITE_PREFIX]
    others = len(suites) - len(tls13)
    parts = [" ".join(tls13) + (f" (+{others} more)" if others else "")]
    parts.append("key share " + (_group_names(fields.values("ClientHello.extensions.key_share.client_shares.group"))))
    if names := fields.data("ClientHello.extensions.server_name.server_name_list.name"):
        parts.append(f"sni {_text(names)}")
    if protocols := fields.data("ClientHello.extensions.application_layer_protocol_negotiation.protocol_name_list"):
        parts.append(f"alpn {_text(protocols)}")
    return parts


def _server_hello(fields: _Fields) -> list[str]:
    parts = [CipherSuite(suite).name for suite in fields.values("ServerHello.cipher_suite")]
    if groups := fields.values("ServerHello.extensions.key_share.server_share.group"):
        parts.append(f"key share {_group_names(groups)}")
    return parts


def _hello_retry(fields: _Fields) -> list[str]:
    parts = [CipherSuite(suite).name for suite in fields.values("HelloRetryRequest.cipher_suite")]
    if groups := fields.values("HelloRetryRequest.extensions.key_share.selected_group"):
        parts.append(f"asks for a key share {_group_names(groups)}")
    return parts


def _encrypted_extensions(fields: _Fields) -> list[str]:
    names = fields.extension_names("EncryptedExtensions")
    alpn = fields.data("EncryptedExtensions.extensions.application_layer_protocol_negotiation.protocol_name_list")
    shown = [f"alpn {_text(alpn)}" if name == "application_layer_protocol_negotiation" else name for name in names]
    return [" ".join(shown) or "no extensions"]


def _common_name(der: bytes) -> str:
    try:
        names = x509.load_der_x509_certificate(der).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError:  # the peer's bytes: a trace shows them, it does not judge them
        return "not a certificate"
    return f"CN={names[0].value!s}" if names else "no CN"


def _certificate(fields: _Fields) -> list[str]:
    chain = fields.data("Certificate.certificate_list.cert_data")
    count = f"{len(chain)} certificate{'s' if len(chain) != 1 else ''}"
    return [count + (f", leaf {_common_name(chain[0])}" if chain else "")]


def _certificate_verify(fields: _Fields) -> list[str]:
    return [SignatureScheme(value).name.lower() for value in fields.values("CertificateVerify.algorithm")]


def _new_session_ticket(fields: _Fields) -> list[str]:
    return [f"lifetime {value} s" for value in fields.values("NewSessionTicket.ticket_lifetime")]


def _key_update(fields: _Fields) -> list[str]:
    return [KeyUpdateRequest(value).name.lower() for value in fields.values("KeyUpdate.request_update")]


def _no_details(fields: _Fields) -> list[str]:
    del fields
    return []


_DETAILS: dict[str, Callable[[_Fields], list[str]]] = {
    "ClientHello": _client_hello,
    "ServerHello": _server_hello,
    HELLO_RETRY_REQUEST: _hello_retry,
    "EncryptedExtensions": _encrypted_extensions,
    "Certificate": _certificate,
    "CertificateVerify": _certificate_verify,
    "NewSessionTicket": _new_session_ticket,
    "KeyUpdate": _key_update,
}


def _message_name(msg_type: int, tree_name: str, from_client: bool) -> str:
    if tree_name == HELLO_RETRY_REQUEST:
        return "HELLO_RETRY_MSG"
    sided = _SIDED_NAMES.get(HandshakeType(msg_type))
    if sided is not None:
        return f"{'CLIENT' if from_client else 'SERVER'}_{sided}"
    return HandshakeType(msg_type).name


def describe_message(raw: bytes, *, from_client: bool) -> str:
    """One handshake message (header and body) in one line: s2n's name, body size, what matters in it.

    >>> describe_message(bytes.fromhex("1800000101"), from_client=True)
    'KEY_UPDATE 1 bytes: update_requested'
    """
    tree = parse_message(raw)
    msg_type = tree.children[0].value if tree.children else 0
    line = f"{_message_name(msg_type, tree.name, from_client)} {max(len(raw) - 4, 0)} bytes"
    details = [part for part in _DETAILS.get(tree.name, _no_details)(_Fields(tree)) if part]
    return line + (": " + "; ".join(details) if details else "")


def _alert_line(content: bytes) -> str:
    if len(content) != _ALERT_SIZE:
        return f"ALERT of {len(content)} bytes"
    return f"ALERT {_ALERT_LEVELS.get(content[0], f'level {content[0]}')} {alert_name(content[1])}"


def _side(record: DecodedRecord) -> str:
    return "CLIENT" if record.direction == CLIENT_TO_SERVER else "SERVER"


_CONTENT_LINES: dict[int, Callable[[DecodedRecord], list[str]]] = {
    ContentType.HANDSHAKE: lambda record: [
        describe_message(raw, from_client=record.direction == CLIENT_TO_SERVER) for _, raw in record.messages
    ],
    ContentType.CHANGE_CIPHER_SPEC: lambda record: [f"{_side(record)}_CHANGE_CIPHER_SPEC"],
    ContentType.ALERT: lambda record: [_alert_line(record.plaintext or b"")],
    ContentType.APPLICATION_DATA: lambda record: [],  # the data itself goes to stdout
}


def _record_lines(record: DecodedRecord) -> list[str]:
    """What a trace shows of one record: its handshake messages, a CCS, an alert, or why it cannot say more."""
    if not record.complete:
        return [f"{len(record.raw)} bytes that end before a whole record"]
    if record.protected and not record.decrypted:
        return [f"encrypted record, {len(record.body)} bytes (no key for it)"]
    lines = _CONTENT_LINES.get(record.inner_type or -1)
    return lines(record) if lines is not None else [f"record of type {record.inner_type}, {len(record.body)} bytes"]


class WireTrace:
    """Prints each record of one connection's wire once, decoded with its key log as both grow.

    ``wire`` and ``key_log`` are the session's own lists, read again at every ``update()``
    (the command calls it after each transfer, so the trace is live). Until ``settle()`` (the
    handshake is over), a grown key log means the conversation is decoded again from its
    start, so records that arrived before their keys decrypt; and a protected record that
    does not decrypt yet is held back, with all that follows it, because its key usually
    comes with this side's next step. ``settle()`` prints what is held, decrypted or not.
    After it, only new bytes are decoded, and the transfers read are removed from ``wire``
    so a long session does not keep its whole stream.
    """

    def __init__(self, wire: list[tuple[str, bytes]], key_log: list[bytes], outgoing: str, emit: Emit) -> None:
        self._wire = wire
        self._key_log = key_log
        self._outgoing = outgoing
        self._emit = emit
        self._decoder = ConversationDecoder()
        self._settled = False
        self._fed = 0  # transfers of ``wire`` fed to the decoder
        self._keys_seen = 0  # key log lines the decoder was built with
        self._records: list[DecodedRecord] = []  # what the decoder returned (after settle(): not yet printed)
        self._printed = 0  # of ``_records`` (a rebuilt decoder returns the same records again)
        self._data: dict[str, _DataCount] = {}  # application data records by arrow, told at the end

    def _show(self, records: Sequence[DecodedRecord]) -> None:
        self._records += records
        for record in self._records[self._printed :]:
            if not self._settled and record.protected and not record.decrypted:
                return
            self._print(record)
            self._printed += 1
        if self._settled:
            self._records.clear()
            self._printed = 0

    def _print(self, record: DecodedRecord) -> None:
        arrow = SENT if record.direction == self._outgoing else RECEIVED
        if record.inner_type == ContentType.APPLICATION_DATA and record.plaintext is not None:
            self._data.setdefault(arrow, _DataCount()).add(len(record.plaintext))
        for line in _record_lines(record):
            self._emit(f"  {arrow} {line}")

    def update(self) -> None:
        """Print what crossed the wire since the last call."""
        if not self._settled and len(self._key_log) != self._keys_seen:
            self._keys_seen = len(self._key_log)
            self._decoder = ConversationDecoder(list(self._key_log))
            self._fed = 0
            self._records = []
        records: list[DecodedRecord] = []
        for direction, data in self._wire[self._fed :]:
            records += self._decoder.feed(direction, data)
        self._fed = len(self._wire)
        if self._settled:
            del self._wire[: self._fed]
            self._fed = 0
        self._show(records)

    def settle(self) -> None:
        """The handshake is over: print what is pending or held, and from now on decode only new bytes."""
        self.update()
        self._settled = True
        self._show([])

    def finish(self) -> None:
        """Print what is left, including bytes that never made a whole record, and how much data went each way."""
        if not self._settled:
            self.settle()
        self.update()
        self._show(self._decoder.finish())
        for arrow in (SENT, RECEIVED):
            if arrow in self._data:
                self._emit(f"  {arrow} {self._data[arrow]}")


class _DataCount:
    """Application data records one way: how many, their plaintext bytes, the largest."""

    def __init__(self) -> None:
        self.records = self.size = self.largest = 0

    def add(self, size: int) -> None:
        self.records += 1
        self.size += size
        self.largest = max(self.largest, size)

    def __str__(self) -> str:
        plural = "s" if self.records != 1 else ""
        return f"application data: {self.size} bytes in {self.records} record{plural} (largest {self.largest})"


def summary_lines(info: ConnectionInfo, implementation: str) -> list[str]:
    """The negotiated parameters after a handshake, as s2n names them, one per line."""
    rows = (
        ("version", info.protocol),
        ("cipher", info.cipher),
        ("group", info.group),
        ("signature scheme", info.signature_scheme),
        ("alpn", info.alpn or "none"),
        ("server name", info.server_name or "none"),
        ("handshake type", info.handshake_type),
        ("implementation", implementation),
    )
    return [f"  {label:<17} {value}" for label, value in rows]
