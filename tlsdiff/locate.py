"""Where two targets' conversations first differ: record, message and field path, decoded for people.

The two targets agreed up to the step being compared, so their keys are the same; each
conversation is decoded with its own key log (``tlsdiff.decode``: records decrypted
where the keys are known, handshake messages reassembled), the first record the two
targets wrote differently is found, and in it the first differing handshake message
is diffed field by field (``tlsdiff.fieldtree``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.wire.record import RECORD_HEADER_SIZE
from tlsdiff.decode import DecodedRecord, decode_conversation, describe_record
from tlsdiff.fieldtree import Node, diff, parse_message, parse_record, render

__all__ = ["Difference", "first_difference", "side_by_side_lines"]

_TYPE_NAMES = {20: "change_cipher_spec", 21: "alert", 22: "handshake", 23: "application_data"}
_COLUMN = 78


@dataclass(frozen=True)
class Difference:
    """The first record (and message) where the engine's and s2n's writing part."""

    index: int  # among the targets' records
    engine: DecodedRecord | None
    s2n: DecodedRecord | None
    message: str
    field_path: str
    engine_tree: Node | None = None
    s2n_tree: Node | None = None


def _tree(record: DecodedRecord) -> Node:
    """The most specific tree of a record: its first message, its plaintext, or the raw record."""
    if record.messages:
        return parse_message(record.messages[0][1])
    if not record.protected:  # the record as sent: its header fields are part of what may differ
        return parse_record(record.raw)
    if record.plaintext is not None and record.inner_type is not None:
        header = bytes([record.inner_type, 3, 3]) + len(record.plaintext).to_bytes(2, "big")
        return parse_record(header + record.plaintext)
    return parse_record(record.raw)


def _message_difference(engine: DecodedRecord, s2n: DecodedRecord) -> tuple[str, str, Node, Node]:
    for (_, left), (_, right) in zip(engine.messages, s2n.messages, strict=False):
        if left != right:
            tree_left, tree_right = parse_message(left), parse_message(right)
            path = diff(tree_left, tree_right) or tree_left.name
            return tree_left.name, path, tree_left, tree_right
    tree_left, tree_right = _tree(engine), _tree(s2n)
    if len(engine.messages) != len(s2n.messages):
        return "handshake", f"record[{engine.index}].messages", tree_left, tree_right
    kind = _TYPE_NAMES.get(engine.inner_type or engine.content_type or 0, "record")
    return kind, diff(tree_left, tree_right) or f"record[{engine.index}]", tree_left, tree_right


def first_difference(
    engine_records: Sequence[DecodedRecord], s2n_records: Sequence[DecodedRecord], direction: str
) -> Difference | None:
    """The first record in ``direction`` (the targets' writing) that differs between the conversations."""
    ours = [r for r in engine_records if r.direction == direction]
    theirs = [r for r in s2n_records if r.direction == direction]
    for index in range(max(len(ours), len(theirs))):
        left = ours[index] if index < len(ours) else None
        right = theirs[index] if index < len(theirs) else None
        if left is not None and right is not None and left.raw == right.raw:
            continue
        if left is None or right is None:
            present = left or right
            kind = _TYPE_NAMES.get(present.inner_type or present.content_type or 0, "record") if present else "record"
            side = "engine" if left is None else "s2n"
            return Difference(index, left, right, kind, f"record[{index}].missing_on_{side}")
        if (left.inner_type, left.content_type) != (right.inner_type, right.content_type):
            return Difference(index, left, right, "record", f"record[{index}].content_type", _tree(left), _tree(right))
        message, path, tree_left, tree_right = _message_difference(left, right)
        return Difference(index, left, right, message, path, tree_left, tree_right)
    return None


def locate(
    transfers: dict[str, list[tuple[str, bytes]]], key_logs: dict[str, list[bytes]], direction: str
) -> tuple[Difference | None, list[DecodedRecord], list[DecodedRecord]]:
    """Decode both targets' conversations and find their first difference in ``direction``."""
    engine = decode_conversation(transfers["engine"], [*key_logs["peer"], *key_logs["engine"]])
    s2n = decode_conversation(transfers["s2n"], [*key_logs["peer"], *key_logs["s2n"]])
    return first_difference(engine, s2n, direction), engine, s2n


def _columns(left: list[str], right: list[str], marked: str) -> list[str]:
    lines = []
    for index in range(max(len(left), len(right))):
        a = left[index] if index < len(left) else ""
        b = right[index] if index < len(right) else ""
        flag = ">>" if a != b or (marked and marked in a.split(" ", 1)[0].strip()) else "  "
        lines.append(f"{flag} {a[:_COLUMN]:<{_COLUMN}} | {b[:_COLUMN]}")
    return lines


def side_by_side_lines(difference: Difference) -> list[str]:
    """The differing record and message, engine left and s2n right; ``>>`` marks lines that differ."""
    left, right = difference.engine, difference.s2n
    lines = [
        f"first difference: record {difference.index} written by the targets; message {difference.message}; "
        f"field {difference.field_path}",
        f"   {'engine':<{_COLUMN}} | s2n",
        *_columns([describe_record(left) if left else "(no record)"],
                  [describe_record(right) if right else "(no record)"], ""),
    ]  # fmt: skip
    if difference.engine_tree is not None and difference.s2n_tree is not None:
        lines += _columns(render(difference.engine_tree), render(difference.s2n_tree), difference.field_path)
    for name, record in (("engine", left), ("s2n", right)):
        if record is not None:
            lines.append(f"{name} record bytes: {record.raw[: RECORD_HEADER_SIZE + 64].hex()}")
    return lines
