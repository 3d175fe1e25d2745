"""Write TLS conversations as a pcapng file that Wireshark and tshark decrypt unaided.

The harness exchanges TLS records in memory, with no packets, so this module makes
up the packets a real capture would hold: each conversation becomes one TCP stream
(three-way handshake, data segments, FIN both ways) over synthetic Ethernet and
IPv4, and the NSS key log is embedded as a Decryption Secrets Block (DSB), so the
file alone is enough to see every handshake message and application record in
clear. File layout (all blocks little-endian, see docs/pcapng.md):

1. Section Header Block (``shb_userappl`` "tlsdiff");
2. one Interface Description Block per conversation (LINKTYPE_ETHERNET, ``if_name``
   the conversation's name, microsecond timestamps), so tshark's
   ``frame.interface_name`` tells the conversations apart;
3. one DSB of type ``TLSK`` holding the key log, before any packet it decrypts;
4. Enhanced Packet Blocks, conversation after conversation; the first packet (SYN)
   of each carries an ``opt_comment`` naming the conversation.

Client 192.0.2.1 (port 49152 + index unless given), server 192.0.2.2 port 443 so
tshark dissects TLS without "decode as". IPv4 and TCP checksums are correct.
Timestamps are a fixed base plus 1 ms per packet and nothing depends on the clock
or on randomness: the same inputs always give the same bytes.

Example::

    result = run_pair("engine", "s2n", "default_tls13", "ecdsa-p256", 7)
    write_pcapng(Path("pair.pcapng"), [Conversation.from_records("engine", result.records)],
                 result.client_key_log)
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tlsdiff.atomic import write_atomic
from tlsdiff.transcript import Record

__all__ = [
    "CLIENT_TO_SERVER",
    "DEFAULT_MSS",
    "SERVER_PORT",
    "SERVER_TO_CLIENT",
    "Conversation",
    "key_log_bytes",
    "pcapng_bytes",
    "write_pcapng",
]

CLIENT_TO_SERVER = "client->server"
SERVER_TO_CLIENT = "server->client"
SERVER_PORT = 443
# The MSS of a 1500-byte Ethernet MTU (1500 - 20 IPv4 - 20 TCP).
DEFAULT_MSS = 1460
_FIRST_CLIENT_PORT = 49152  # start of the IANA dynamic range, as an OS would pick

_BLOCK_SECTION_HEADER = 0x0A0D0D0A
_BLOCK_INTERFACE = 0x00000001
_BLOCK_ENHANCED_PACKET = 0x00000006
_BLOCK_DECRYPTION_SECRETS = 0x0000000A
_SECRETS_TLS_KEY_LOG = 0x544C534B  # "TLSK"
_BYTE_ORDER_MAGIC = 0x1A2B3C4D
_SECTION_LENGTH_UNKNOWN = 0xFFFFFFFFFFFFFFFF
_LINKTYPE_ETHERNET = 1
_SNAPLEN = 262144  # what tcpdump and Wireshark write; larger than any frame here
_OPT_COMMENT = 1
_OPT_SHB_USERAPPL = 4
_OPT_IF_NAME = 2
_OPT_IF_DESCRIPTION = 3

# 2026-01-01T00:00:00Z in microseconds (the IDB's default resolution); fixed so the
# file bytes never depend on when it was written.
_BASE_TIME_US = 1_767_225_600_000_000
_TIME_STEP_US = 1_000

# Documentation addresses (RFC 5737 TEST-NET-1, locally administered MACs): they
# cannot be confused with a real capture.
_CLIENT_IP = bytes((192, 0, 2, 1))
_SERVER_IP = bytes((192, 0, 2, 2))
_CLIENT_MAC = bytes.fromhex("020000000001")
_SERVER_MAC = bytes.fromhex("020000000002")
_ETHERTYPE_IPV4 = 0x0800
_IP_PROTOCOL_TCP = 6
_IP_TTL = 64
_IP_DONT_FRAGMENT = 0x4000
_MAX_IP_PAYLOAD = 65535 - 20 - 20  # total length is 16 bits; 20 B IPv4 and TCP headers

_TCP_FIN = 0x01
_TCP_SYN = 0x02
_TCP_PSH = 0x08
_TCP_ACK = 0x10
_TCP_WINDOW = 65535  # no window scaling: the receiver acknowledges before it fills
_TCP_OPTION_MSS = 2
# Fixed initial sequence numbers, distinct per side so a mix-up shows in tshark.
_CLIENT_ISN = 0x10000000
_SERVER_ISN = 0x50000000


@dataclass(frozen=True)
class Conversation:
    """One TLS connection to put in the file as its own TCP stream.

    ``transfers`` are ``(direction, bytes)`` in the order they crossed the wire,
    direction ``"client->server"`` or ``"server->client"``; each transfer is cut
    into segments of at most the MSS. ``client_port`` None picks 49152 + the
    conversation's index in the file.
    """

    name: str
    transfers: Sequence[tuple[str, bytes]] = field(repr=False)
    client_port: int | None = None

    def __post_init__(self) -> None:
        for direction, _ in self.transfers:
            if direction not in (CLIENT_TO_SERVER, SERVER_TO_CLIENT):
                raise ValueError(f"unknown direction {direction!r}")
        if self.client_port is not None and not 0 < self.client_port < 65536:
            raise ValueError(f"client port {self.client_port} out of range")
        if self.client_port == SERVER_PORT:
            raise ValueError(f"client port may not be the server port {SERVER_PORT}")

    @classmethod
    def from_records(cls, name: str, records: Iterable[Record], client_port: int | None = None) -> Conversation:
        """A conversation from a transcript, consecutive records of one direction sent together."""
        transfers: list[tuple[str, bytes]] = []
        for record in records:
            if transfers and transfers[-1][0] == record.direction:
                transfers[-1] = (record.direction, transfers[-1][1] + record.data)
            else:
                transfers.append((record.direction, record.data))
        return cls(name, tuple(transfers), client_port)


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _options(options: Sequence[tuple[int, bytes]]) -> bytes:
    """An options list, each value padded to 4, closed by opt_endofopt (none: empty)."""
    if not options:
        return b""
    encoded = b"".join(struct.pack("<HH", code, len(value)) + _pad4(value) for code, value in options)
    return encoded + struct.pack("<HH", 0, 0)


def _block(block_type: int, body: bytes) -> bytes:
    """A block: type, total length, body (a multiple of 4), total length again."""
    total_length = 12 + len(body)
    return struct.pack("<II", block_type, total_length) + body + struct.pack("<I", total_length)


def _section_header() -> bytes:
    body = struct.pack("<IHHQ", _BYTE_ORDER_MAGIC, 1, 0, _SECTION_LENGTH_UNKNOWN)
    return _block(_BLOCK_SECTION_HEADER, body + _options([(_OPT_SHB_USERAPPL, b"tlsdiff")]))


def _interface_description(conversation: Conversation) -> bytes:
    body = struct.pack("<HHI", _LINKTYPE_ETHERNET, 0, _SNAPLEN)
    description = f"tlsdiff conversation {conversation.name}".encode()
    options = [(_OPT_IF_NAME, conversation.name.encode()), (_OPT_IF_DESCRIPTION, description)]
    return _block(_BLOCK_INTERFACE, body + _options(options))


def key_log_bytes(key_log: Iterable[bytes]) -> bytes:
    """The NSS key-log file content: one line per secret, each ending in a newline.

    Lines may come with or without their newline; empty lines are dropped.

    >>> key_log_bytes([b"CLIENT_TRAFFIC_SECRET_0 00 11", b"SERVER_TRAFFIC_SECRET_0 00 22\\n"])
    b'CLIENT_TRAFFIC_SECRET_0 00 11\\nSERVER_TRAFFIC_SECRET_0 00 22\\n'
    """
    lines = (line.rstrip(b"\r\n") for line in key_log)
    return b"".join(line + b"\n" for line in lines if line)


def _decryption_secrets(secrets: bytes) -> bytes:
    body = struct.pack("<II", _SECRETS_TLS_KEY_LOG, len(secrets)) + _pad4(secrets)
    return _block(_BLOCK_DECRYPTION_SECRETS, body)


def _enhanced_packet(interface_id: int, timestamp_us: int, frame: bytes, comment: str | None) -> bytes:
    header = struct.pack("<IIIII", interface_id, timestamp_us >> 32, timestamp_us & 0xFFFFFFFF, len(frame), len(frame))
    options = _options([(_OPT_COMMENT, comment.encode())] if comment else [])
    return _block(_BLOCK_ENHANCED_PACKET, header + _pad4(frame) + options)


def _internet_checksum(data: bytes) -> int:
    """RFC 1071: the ones' complement of the ones' complement sum of 16-bit words."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@dataclass
class _Endpoint:
    """One side of a TCP connection: its addresses and the next sequence number it sends."""

    mac: bytes
    ip: bytes
    port: int
    next_seq: int
    ip_id: int = 0
    in_flight: int = 0  # bytes sent that the other side has not acknowledged yet


def _tcp_frame(source: _Endpoint, destination: _Endpoint, flags: int, payload: bytes, options: bytes) -> bytes:
    """An Ethernet frame carrying one TCP segment from ``source``; advances its IP id."""
    data_offset = (20 + len(options)) // 4
    acknowledged = destination.next_seq if flags & _TCP_ACK else 0
    tcp_header = struct.pack(
        "!HHIIBBHHH", source.port, destination.port, source.next_seq & 0xFFFFFFFF, acknowledged & 0xFFFFFFFF,
        data_offset << 4, flags, _TCP_WINDOW, 0, 0,
    ) + options  # fmt: skip
    segment = tcp_header + payload
    pseudo_header = source.ip + destination.ip + struct.pack("!BBH", 0, _IP_PROTOCOL_TCP, len(segment))
    checksum = _internet_checksum(pseudo_header + segment)
    segment = segment[:16] + struct.pack("!H", checksum) + segment[18:]
    ip_header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(segment), source.ip_id, _IP_DONT_FRAGMENT, _IP_TTL,
        _IP_PROTOCOL_TCP, 0, source.ip, destination.ip,
    )  # fmt: skip
    ip_header = ip_header[:10] + struct.pack("!H", _internet_checksum(ip_header)) + ip_header[12:]
    source.ip_id = (source.ip_id + 1) & 0xFFFF
    ethernet = destination.mac + source.mac + struct.pack("!H", _ETHERTYPE_IPV4)
    return ethernet + ip_header + segment


class _TcpStream:
    """Turns one conversation into the frames of a plausible TCP connection."""

    def __init__(self, client_port: int, mss: int) -> None:
        self.client = _Endpoint(_CLIENT_MAC, _CLIENT_IP, client_port, _CLIENT_ISN)
        self.server = _Endpoint(_SERVER_MAC, _SERVER_IP, SERVER_PORT, _SERVER_ISN)
        self.mss = mss
        self.frames: list[bytes] = []

    def _emit(self, source: _Endpoint, flags: int, payload: bytes = b"", options: bytes = b"") -> None:
        destination = self.server if source is self.client else self.client
        self.frames.append(_tcp_frame(source, destination, flags, payload, options))
        # SYN and FIN each take one sequence number (RFC 9293 section 3.4).
        source.next_seq += len(payload) + (1 if flags & (_TCP_SYN | _TCP_FIN) else 0)
        if flags & _TCP_ACK:
            destination.in_flight = 0  # every ACK here acknowledges all the peer sent
        source.in_flight += len(payload)

    def handshake(self) -> None:
        mss_option = struct.pack("!BBH", _TCP_OPTION_MSS, 4, self.mss)
        self._emit(self.client, _TCP_SYN, options=mss_option)
        self._emit(self.server, _TCP_SYN | _TCP_ACK, options=mss_option)
        self._emit(self.client, _TCP_ACK)

    def send(self, direction: str, data: bytes) -> None:
        source, receiver = (self.client, self.server) if direction == CLIENT_TO_SERVER else (self.server, self.client)
        for offset in range(0, len(data), self.mss):
            chunk = data[offset : offset + self.mss]
            if source.in_flight + len(chunk) > _TCP_WINDOW:
                self._emit(receiver, _TCP_ACK)  # what a receiver does long before the window fills
            last = offset + self.mss >= len(data)
            self._emit(source, _TCP_ACK | (_TCP_PSH if last else 0), chunk)
        if data:
            self._emit(receiver, _TCP_ACK)

    def close(self) -> None:
        self._emit(self.client, _TCP_FIN | _TCP_ACK)
        self._emit(self.server, _TCP_FIN | _TCP_ACK)
        self._emit(self.client, _TCP_ACK)


def _client_ports(conversations: Sequence[Conversation]) -> list[int]:
    ports = [
        conversation.client_port if conversation.client_port is not None else _FIRST_CLIENT_PORT + index
        for index, conversation in enumerate(conversations)
    ]
    if len(set(ports)) != len(ports):
        raise ValueError(f"two conversations share a client port: {ports}")
    return ports


def pcapng_bytes(
    conversations: Sequence[Conversation],
    key_log: Iterable[bytes],
    *,
    include_secrets: bool = True,
    mss: int = DEFAULT_MSS,
) -> bytes:
    """The pcapng file content for ``conversations``, decryptable with ``key_log``.

    ``key_log`` holds NSS key-log lines (with or without newline) for every
    conversation. ``include_secrets`` False leaves out the Decryption Secrets Block
    (for a separate key-log file, or ``editcap --inject-secrets``); no DSB is
    written either when the key log is empty. Raises ValueError when two
    conversations would share a client port or ``mss`` is out of range.
    """
    if not 0 < mss <= _MAX_IP_PAYLOAD:
        raise ValueError(f"MSS {mss} out of range 1..{_MAX_IP_PAYLOAD}")
    ports = _client_ports(conversations)
    blocks = [_section_header()]
    blocks += [_interface_description(conversation) for conversation in conversations]
    secrets = key_log_bytes(key_log)
    if include_secrets and secrets:
        blocks.append(_decryption_secrets(secrets))
    packet_index = 0
    for interface_id, (conversation, port) in enumerate(zip(conversations, ports, strict=True)):
        stream = _TcpStream(port, mss)
        stream.handshake()
        for direction, data in conversation.transfers:
            stream.send(direction, data)
        stream.close()
        for frame_index, frame in enumerate(stream.frames):
            comment = f"tlsdiff conversation {conversation.name}" if frame_index == 0 else None
            timestamp = _BASE_TIME_US + packet_index * _TIME_STEP_US
            blocks.append(_enhanced_packet(interface_id, timestamp, frame, comment))
            packet_index += 1
    return b"".join(blocks)


def write_pcapng(
    path: Path,
    conversations: Sequence[Conversation],
    key_log: Iterable[bytes],
    *,
    include_secrets: bool = True,
    mss: int = DEFAULT_MSS,
) -> None:
    """Write :func:`pcapng_bytes` to ``path`` atomically (see :mod:`tlsdiff.atomic`)."""
    write_atomic(path, pcapng_bytes(conversations, key_log, include_secrets=include_secrets, mss=mss))
