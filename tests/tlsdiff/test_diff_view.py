"""``tlsdiff.diff_view``: the side-by-side of ``tlsdiff.locate`` read back from its text."""

from __future__ import annotations

from tests.tlsdiff.triage_fixtures import CCS, pinned
from tlsdiff.diff_view import parse_diff
from tlsdiff.targets import TARGETS


def test_a_findings_diff_lines_read_back() -> None:
    finding = TARGETS[CCS[0]].check(pinned(*CCS).data)
    assert finding is not None
    lines = list(finding.diff_lines)
    view = parse_diff(lines)
    assert (view.record, view.message, view.field_path) == (1, "change_cipher_spec", "ChangeCipherSpec.type")
    assert view.preamble == ("first differing record: 1", "")
    marked = [row for row in view.rows if row.names(view.field_path)]
    assert len(marked) == 1
    assert marked[0].differs
    assert marked[0].engine.strip() == "ChangeCipherSpec.type = 1"
    assert marked[0].s2n.strip() == "ChangeCipherSpec.type = 0 (INVALID)"
    # Rows and the rest account for every line after the heading and the column header.
    assert len(view.rows) + len(view.rest) == len(lines) - len(view.preamble) - 2
    assert view.rest[0].startswith("engine record bytes: ")


def test_a_row_keeps_a_missing_side_and_a_lost_trailing_space() -> None:
    heading = "first difference: record 7 written by the targets; message alert; field record[7].missing_on_s2n"
    row = ">> " + "client->server #7 alert 2 bytes".ljust(78) + " |"
    view = parse_diff([heading, row, "engine record bytes: 15"])
    assert len(view.rows) == 1
    assert (view.rows[0].engine, view.rows[0].s2n, view.rows[0].differs) == (
        "client->server #7 alert 2 bytes",
        "",
        True,
    )
    assert not view.rows[0].names(view.field_path)
    assert view.rest == ("engine record bytes: 15",)


def test_other_lines_are_kept_whole() -> None:
    traceback = ["Traceback (most recent call last):", '  File "x.py", line 1, in f', "KeyError: 'a'"]
    view = parse_diff(traceback)
    assert (view.preamble, view.record, view.rows, view.rest) == (tuple(traceback), None, (), ())
