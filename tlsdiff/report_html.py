"""The static HTML report of a triage: an index of the groups, one page per group.

Everything a page shows comes from its group's finding directory (the minimised finding
when there is one, else the first finding as recorded): the decoded side-by-side of the
first differing record and message (``tlsdiff.diff_view``), with the field path marked;
the RFC 8446 sections that govern that message or field, quoted (``tlsdiff.rfc_sections``);
the engine's compatibility switches; both outcomes; the reproduce command; and the pcapng,
key log and input, copied beside the page so the report directory stands alone. Pages
use inline CSS only: no script, no external resource. Every string from a finding is
escaped: findings are shaped by the fuzzer, which is to say by an attacker.
"""

from __future__ import annotations

import html
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import quote

from engine.config import Compat
from tlsdiff.diff_view import DiffRow, DiffView, parse_diff
from tlsdiff.findings import load_finding
from tlsdiff.harness import COMPAT_MODES
from tlsdiff.rfc_sections import Section, governing_sections
from tlsdiff.triage import Group, TriageResult

__all__ = ["COPIED_FILES", "page_path", "write_report"]

COPIED_FILES = ("conversations.pcapng", "keylog.txt", "input.bin", "finding.json", "scenario.json", "diff.txt")
_INDEX_COLUMNS = ("status", "known", "inputs", "first seen", "target", "minimised", "signature")
_OUTCOME_KEYS = ("status", "error", "meaning", "peer_alert", "last_message", "handshake_type", "output_records")
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #1a1a1a; max-width: 110em; }
code, pre, td.side { font-family: ui-monospace, monospace; font-size: 0.85em; }
pre { background: #f6f6f6; padding: 0.6em; overflow-x: auto; white-space: pre-wrap; }
table { border-collapse: collapse; margin: 0.5em 0 1.2em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }
td.side { white-space: pre; }
table.index td { white-space: nowrap; }
table.index td.signature { white-space: normal; overflow-wrap: anywhere; }
tr.differs td.side { background: #fff4e0; }
tr.field td.side { background: #ffd6d6; }
mark.field { background: #ff9d9d; font-weight: bold; }
.reproduces { color: #a00000; font-weight: bold; }
.changed { color: #8a5a00; font-weight: bold; }
.fixed { color: #006400; font-weight: bold; }
blockquote { border-left: 4px solid #99b; margin: 0.5em 0; padding-left: 1em; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def page_path(group: Group) -> Path:
    """Where a group's page is, relative to the report directory."""
    return Path(group.target) / group.identifier / "index.html"


def _document(title: str, body: Iterable[str]) -> str:
    return "\n".join(
        ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{_e(title)}</title>",
         f"<style>{_STYLE}</style></head><body>", *body, "</body></html>", ""]
    )  # fmt: skip


def _table(rows: Iterable[tuple[str, str]]) -> str:
    """A two-column table; the cells are HTML already."""
    return "<table>" + "".join(f"<tr><th>{label}</th><td>{cell}</td></tr>" for label, cell in rows) + "</table>"


def _size(group: Group) -> str:
    minimized = group.minimized
    if minimized is None:
        return "not minimised" if group.reproducing else "-"
    if minimized.directory is None:
        return f"minimisation failed: {minimized.error}"
    return f"{minimized.size} of {minimized.original_size} bytes"


def _index_row(group: Group) -> str:
    link = quote(page_path(group).as_posix())
    return (f'<tr><td class="{_e(group.status)}">{_e(group.status)}</td><td>{_e(group.known)}</td>'
            f"<td>{_e(group.count_label)}</td>"
            f"<td>{_e(group.first_seen)}</td><td>{_e(group.target)}</td><td>{_e(_size(group))}</td>"
            f'<td class="signature"><a href="{_e(link)}"><code>{_e(group.signature)}</code></a></td></tr>')  # fmt: skip


def _index(result: TriageResult) -> str:
    header = "".join(f"<th>{name}</th>" for name in _INDEX_COLUMNS)
    rows = "".join(_index_row(group) for group in result.groups)
    return _document(
        "tlsdiff triage",
        [f"<h1>Triage of <code>{_e(result.directory)}</code></h1>",
         f"<p>{len(result.groups)} groups ({_e(result.status_summary())}) from {result.inputs} inputs, triaged in "
         f"{result.seconds:.0f} s. A count with + reached the findings directory's cap of kept inputs.</p>",
         f'<table class="index"><tr>{header}</tr>{rows}</table>'],
    )  # fmt: skip


def _marked(text: str, field_path: str) -> str:
    """``text`` escaped, with the field path marked where it occurs."""
    if not field_path or field_path not in text:
        return _e(text)
    head, _, tail = text.partition(field_path)
    return f'{_e(head)}<mark class="field">{_e(field_path)}</mark>{_e(tail)}'


def _diff_row(row: DiffRow, field_path: str) -> str:
    names = row.names(field_path)
    kind = "field" if names else "differs" if row.differs else "same"
    cells = (_marked(side, field_path) if names else _e(side) for side in (row.engine, row.s2n))
    flag = "&ne;" if row.differs else ""
    return f'<tr class="{kind}"><td>{flag}</td>' + "".join(f'<td class="side">{cell}</td>' for cell in cells) + "</tr>"


def _diff_section(view: DiffView, origin: str) -> list[str]:
    parts = ["<h2>First difference</h2>", f"<p>{_e(origin)}</p>"]
    if any(line.strip() for line in view.preamble):
        parts.append(f"<pre>{_e(chr(10).join(view.preamble))}</pre>")
    if view.record is None:
        return parts
    parts.append(f"<p>Record {view.record} written by the targets; message <code>{_e(view.message)}</code>; "
                 f'field <mark class="field">{_e(view.field_path)}</mark></p>')  # fmt: skip
    rows = "".join(_diff_row(row, view.field_path) for row in view.rows)
    parts.append(f"<table><tr><th></th><th>engine</th><th>s2n</th></tr>{rows}</table>")
    if view.rest:
        parts.append(f"<pre>{_e(chr(10).join(view.rest))}</pre>")
    return parts


def _rfc_section(section: Section) -> str:
    return (f'<h3><a href="{_e(section.url)}">RFC 8446, {_e(section.heading)}</a></h3>'
            f"<blockquote><pre>{_e(section.text)}</pre></blockquote>")  # fmt: skip


def _compat(document: Mapping[str, Any]) -> str:
    """Each side's compatibility mode (finding.json ``compat``) and the engine switches that mode sets."""
    compat = document.get("compat")
    if not isinstance(compat, Mapping) or not compat:
        return "<p>Not recorded for this finding.</p>"
    modes = {str(side): COMPAT_MODES.get(str(mode)) for side, mode in compat.items()}
    header = "".join(f"<th>{_e(side)}: <code>{_e(mode)}</code></th>" for side, mode in compat.items())
    rows = "".join(
        f"<tr><th><code>{_e(switch.name)}</code></th>"
        + "".join(f"<td>{_e(getattr(mode, switch.name)) if mode else 'unknown mode'}</td>" for mode in modes.values())
        + "</tr>"
        for switch in fields(Compat)
    )
    return (f"<p>The engine's switches between s2n's behaviour and the RFC's, per side (engine.config.Compat; "
            f"the target side is the engine under test, the peer the mutating actor).</p>"
            f"<table><tr><th>switch</th>{header}</tr>{rows}</table>")  # fmt: skip


def _outcomes(document: Mapping[str, Any]) -> str:
    engine, s2n = document.get("engine"), document.get("s2n")
    if not isinstance(engine, Mapping) or not isinstance(s2n, Mapping):
        return f"<p>{_e(document.get('exception', 'no outcomes recorded'))}</p>"
    sides = (engine, s2n)
    header = "<tr><th></th><th>engine</th><th>s2n</th></tr>"
    rows = "".join(f"<tr><th>{_e(key)}</th>" + "".join(f"<td><code>{_e(side.get(key))}</code></td>" for side in sides)
                   + "</tr>" for key in _OUTCOME_KEYS)  # fmt: skip
    return f"<table>{header}{rows}</table>"


def _files_section(page_dir: Path) -> list[str]:
    present = [name for name in COPIED_FILES if (page_dir / name).is_file()]
    links = "".join(f'<li><a href="{_e(quote(name))}">{_e(name)}</a></li>' for name in present)
    parts = ["<h2>Files</h2>", f"<ul>{links}</ul>"]
    if "conversations.pcapng" not in present:
        parts.append("<p>No conversation was recorded for this finding (a crash has none).</p>")
    else:
        parts.append("<p>Wireshark decrypts the pcapng on its own: the key log is embedded in it.</p>")
    return parts


def _origin(group: Group, document: Mapping[str, Any]) -> str:
    if group.minimized is not None and group.minimized.directory is not None:
        return "From the minimised input, run by today's code."
    seen = document.get("first_seen", "?")
    if group.reproducing:
        return f"As recorded when the finding was saved ({seen}); its input still reproduces it."
    return f"As recorded when the finding was saved ({seen}); no input gives this signature today."


def _status_line(group: Group) -> str:
    line = f"{group.reproducing} of {group.count} inputs give this signature today"
    if group.moved:
        others = "; ".join(f"{signature} ({count})" for signature, count in group.moved.most_common())
        line += f"; others now give: {others}"
    return f'<span class="{_e(group.status)}">{_e(group.status)}</span>: {_e(line)}'


def _summary(group: Group, document: Mapping[str, Any]) -> str:
    directories = "<br>".join(f"<code>{_e(d)}</code>" for d in group.directories)
    recorded = [(key, f"<code>{_e(document[key])}</code>") for key in ("tier", "role", "step") if document.get(key)]
    pinned = f"<code>{_e(group.pinned)}</code>" if group.pinned else _e(group.cause or group.known)
    return _table([("target", f"<code>{_e(group.target)}</code>"), ("status", _status_line(group)),
                   ("known", pinned), ("inputs", _e(group.count_label)), ("first seen", _e(group.first_seen)),
                   *recorded,
                   ("minimised", _e(_size(group))), ("finding directories", directories)])  # fmt: skip


def _reproduce(group: Group, document: Mapping[str, Any]) -> list[str]:
    beside = f"tlsdiff fuzz {group.target} --replay input.bin"
    return ["<h2>Reproduce</h2>", f'<pre class="reproduce">{_e(document.get("reproduce", ""))}</pre>',
            "<p>or, from this page's directory (the input is copied beside it):</p>",
            f"<pre>{_e(beside)}</pre>"]  # fmt: skip


def _group_page(group: Group, page_dir: Path) -> str:
    source = group.finding_directory
    document = load_finding(source)
    view = parse_diff((source / "diff.txt").read_text(encoding="utf-8", errors="replace").splitlines())
    field_path = view.field_path or str(document.get("field_path", ""))
    sections = governing_sections(field_path, str(document.get("message", "")), view.message)
    rfc = [_rfc_section(section) for section in sections] or ["<p>No RFC 8446 section is mapped to this finding.</p>"]
    return _document(group.signature, [
        '<p><a href="../../index.html">all groups</a></p>', f"<h1><code>{_e(group.signature)}</code></h1>",
        _summary(group, document), *_diff_section(view, _origin(group, document)),
        "<h2>Outcomes</h2>", _outcomes(document), "<h2>RFC 8446</h2>", *rfc,
        "<h2>Compatibility switches in force</h2>", _compat(document),
        *_reproduce(group, document), *_files_section(page_dir),
    ])  # fmt: skip


def _copy_files(source: Path, page_dir: Path) -> None:
    page_dir.mkdir(parents=True, exist_ok=True)
    for name in COPIED_FILES:
        if (source / name).is_file():
            shutil.copyfile(source / name, page_dir / name)
        else:
            (page_dir / name).unlink(missing_ok=True)  # a previous report's, of another finding


def write_report(result: TriageResult) -> Path:
    """Write the report of ``result`` to ``result.report``; the index page's path."""
    result.report.mkdir(parents=True, exist_ok=True)
    for group in result.groups:
        page = result.report / page_path(group)
        _copy_files(group.finding_directory, page.parent)
        page.write_text(_group_page(group, page.parent), encoding="utf-8")
    index = result.report / "index.html"
    index.write_text(_index(result), encoding="utf-8")
    return index
