"""A finding's diff lines read back into parts: the side-by-side rows, the marked field, the rest.

``tlsdiff.locate.side_by_side_lines`` writes the first differing record and message as text
(the ``diff.txt`` of a finding): a heading naming record, message and field path, a column
header, rows of ``FLAG ENGINE | S2N`` (``>>`` where the two sides differ; each column cut
to ``_COLUMN`` characters), then the raw record bytes and both conversations. The HTML
report shows the same rows as a table; this module reads them back, so a finding recorded
long ago renders the same way as one replayed now. Lines of any other shape (a crash's
traceback, an oracle's detail lines) are kept as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["DiffRow", "DiffView", "parse_diff"]

_HEADING = re.compile(r"^first difference: record (?P<record>\d+) written by the targets; "
                      r"message (?P<message>.*); field (?P<field>.*)$")  # fmt: skip
_COLUMN = 78  # tlsdiff.locate's column width
_SEPARATOR = " | "
_LEFT = slice(3, 3 + _COLUMN)
_RIGHT_START = 3 + _COLUMN + len(_SEPARATOR)
_FLAGS = (">> ", "   ")


@dataclass(frozen=True)
class DiffRow:
    """One row of the side-by-side: what the engine wrote, what s2n wrote, whether they differ."""

    engine: str
    s2n: str
    differs: bool

    def names(self, field_path: str) -> bool:
        """Whether this row is the marked field's (its first word, on either side, holds the path)."""
        return bool(field_path) and any(field_path in _first_word(side) for side in (self.engine, self.s2n))


@dataclass(frozen=True)
class DiffView:
    """A finding's diff lines, in parts."""

    preamble: tuple[str, ...]  # lines before the side-by-side (oracle detail, or a whole traceback)
    record: int | None  # the first differing record among the targets' (None: no side-by-side)
    message: str
    field_path: str
    rows: tuple[DiffRow, ...]
    rest: tuple[str, ...]  # raw record bytes and both conversations


def _first_word(text: str) -> str:
    return text.strip().split(" ", 1)[0].rstrip(":")


def _row(line: str) -> DiffRow | None:
    # A trailing space may be lost to an editor: the separator is " |" then the s2n side.
    if line[: len(_FLAGS[0])] not in _FLAGS or line[_LEFT.stop : _RIGHT_START].rstrip() != _SEPARATOR.rstrip():
        return None
    return DiffRow(line[_LEFT].rstrip(), line[_RIGHT_START:], line.startswith(">>"))


def _is_column_header(row: DiffRow) -> bool:
    return row.engine.strip() == "engine" and row.s2n == "s2n" and not row.differs


def _split_rows(lines: list[str]) -> tuple[list[DiffRow], list[str]]:
    rows: list[DiffRow] = []
    for index, line in enumerate(lines):
        row = _row(line)
        if row is None:
            return rows, lines[index:]
        if not _is_column_header(row):
            rows.append(row)
    return rows, []


def parse_diff(lines: Iterable[str]) -> DiffView:
    """The parts of ``diff.txt`` (or a ``Finding``'s ``diff_lines``).

    >>> view = parse_diff(["first difference: record 1 written by the targets; message alert; field Alert.level",
    ...                    ">> " + "Alert.level = 2".ljust(78) + " | Alert.level = 1"])
    >>> view.message, view.field_path, view.rows[0].names(view.field_path)
    ('alert', 'Alert.level', True)
    """
    text = list(lines)
    for index, line in enumerate(text):
        match = _HEADING.match(line)
        if match is not None:
            rows, rest = _split_rows(text[index + 1 :])
            return DiffView(tuple(text[:index]), int(match["record"]), match["message"], match["field"],
                            tuple(rows), tuple(rest))  # fmt: skip
    return DiffView(tuple(text), None, "", "", (), ())
