"""Transcripts: every TLS record of a conversation, in order, with its direction.

A transcript is what the harness compares. Its digest is SHA-256 over, for each
record in order, one direction byte (``0x01`` client to server, ``0x02`` server
to client) followed by the whole record (5-byte header and body). A transcript
file holds one JSON object per record::

    {"direction": "client->server", "type": "handshake", "length": 261, "hex": "16030102..."}
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CONTENT_TYPES",
    "Record",
    "TranscriptError",
    "split_records",
    "transcript_sha256",
    "write_transcript",
]

CONTENT_TYPES = {20: "change_cipher_spec", 21: "alert", 22: "handshake", 23: "application_data"}
_DIRECTION_BYTES = {"client->server": b"\x01", "server->client": b"\x02"}
_HEADER = 5


class TranscriptError(ValueError):
    """The bytes of one direction do not end on a record boundary."""


@dataclass(frozen=True)
class Record:
    """One TLS record as it crossed the wire."""

    direction: str
    data: bytes

    @property
    def content_type(self) -> int:
        """The record's ContentType byte."""
        return self.data[0]

    @property
    def length(self) -> int:
        """The length field of the record header (the body size)."""
        return int.from_bytes(self.data[3:5], "big")


def split_records(transfers: Iterable[tuple[str, bytes]]) -> list[Record]:
    """Cut each direction's byte stream into records, keeping the order records completed in."""
    pending: dict[str, bytearray] = {direction: bytearray() for direction in _DIRECTION_BYTES}
    records: list[Record] = []
    for direction, data in transfers:
        if direction not in pending:
            raise TranscriptError(f"unknown direction {direction!r}")
        buffer = pending[direction]
        buffer += data
        while len(buffer) >= _HEADER and len(buffer) >= _HEADER + int.from_bytes(buffer[3:5], "big"):
            size = _HEADER + int.from_bytes(buffer[3:5], "big")
            records.append(Record(direction, bytes(buffer[:size])))
            del buffer[:size]
    for direction, buffer in pending.items():
        if buffer:
            raise TranscriptError(f"{direction}: {len(buffer)} trailing bytes are not a whole record")
    return records


def transcript_sha256(records: Iterable[Record]) -> str:
    """The transcript digest defined in this module's docstring, as hex."""
    digest = hashlib.sha256()
    for record in records:
        digest.update(_DIRECTION_BYTES[record.direction] + record.data)
    return digest.hexdigest()


def write_transcript(path: Path, records: Iterable[Record]) -> None:
    """Write one JSON line per record (direction, content type, length, hex bytes)."""
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            line = {
                "direction": record.direction,
                "type": CONTENT_TYPES.get(record.content_type, str(record.content_type)),
                "length": record.length,
                "hex": record.data.hex(),
            }
            out.write(json.dumps(line) + "\n")
