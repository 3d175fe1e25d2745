"""The interop matrix as a report: markdown and HTML, passed / failed / unsupported per cell.

    paths = write_reports(results, Path("interop-report.md"))   # interop-report.md and .html

One table per feature (rows: peer and roles, columns: the feature's values), then every
failed cell with what went wrong, every unsupported cell with its declared reason, and
every cell's one-line detail. A cell that was not run (filtered out) shows as "not run".
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from interop.cells import CELLS, FEATURES_ALL, Cell
from interop.run import CellResult, Outcome
from tlsdiff.atomic import write_atomic

__all__ = ["html_report", "markdown_report", "report_paths", "write_reports"]

_NOT_RUN = "not run"
_MARKS = {Outcome.PASSED: "passed", Outcome.FAILED: "FAILED", Outcome.UNSUPPORTED: "unsupported"}
_STYLE = """
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.5em; font-size: 0.9em; vertical-align: top; }
td.passed { background: #d8f5d8; } td.failed { background: #f8c8c8; font-weight: bold; }
td.unsupported { background: #eeeeee; } td.not-run { color: #999; }
"""


def _rows(cells: Iterable[Cell]) -> list[str]:
    return list(dict.fromkeys(cell.row for cell in cells))


def _tables(results: dict[str, CellResult]) -> list[tuple[str, list[str], list[tuple[str, list[str]]]]]:
    """Per feature: (feature, its values, [(row, outcome per value)])."""
    tables = []
    for feature in FEATURES_ALL:
        cells = [cell for cell in CELLS if cell.feature == feature]
        values = list(dict.fromkeys(cell.value for cell in cells))
        by_key = {(cell.row, cell.value): cell for cell in cells}
        body = []
        for row in _rows(cells):
            outcomes = []
            for value in values:
                cell = by_key.get((row, value))
                result = results.get(cell.id) if cell else None
                outcomes.append("" if cell is None else _MARKS[result.outcome] if result else _NOT_RUN)
            body.append((row, outcomes))
        tables.append((feature, values, body))
    return tables


def _counts(results: Sequence[CellResult]) -> str:
    counts = Counter(result.outcome for result in results)
    parts = ", ".join(f"{counts[outcome]} {outcome.value}" for outcome in Outcome)
    return f"{len(results)} cells run: {parts} (of {len(CELLS)} in the matrix)"


def _by_outcome(results: Sequence[CellResult], outcome: Outcome) -> list[CellResult]:
    return [result for result in results if result.outcome is outcome]


def markdown_report(results: Sequence[CellResult]) -> str:
    """The report as markdown."""
    by_id = {result.cell_id: result for result in results}
    lines = ["# Interop matrix", "", _counts(results), ""]
    for feature, values, body in _tables(by_id):
        lines += [f"## {feature}", "", "| peer / engine | " + " | ".join(values) + " |"]
        lines.append("|---" * (len(values) + 1) + "|")
        lines += [f"| {row} | " + " | ".join(outcomes) + " |" for row, outcomes in body]
        lines.append("")
    for title, outcome in (("Failed cells", Outcome.FAILED), ("Unsupported cells", Outcome.UNSUPPORTED)):
        chosen = _by_outcome(results, outcome)
        lines += [f"## {title} ({len(chosen)})", ""]
        lines += [f"- `{result.cell_id}`: {result.detail}" for result in chosen] or ["none"]
        lines.append("")
    lines += ["## Every cell", "", "| cell | outcome | seconds | detail |", "|---|---|---|---|"]
    lines += [
        f"| `{r.cell_id}` | {r.outcome.value} | {r.seconds:.2f} | {r.detail.replace('|', '/')} |" for r in results
    ]
    return "\n".join(lines) + "\n"


def _html_cell(text: str) -> str:
    css = text.lower().replace(" ", "-") if text else ""
    return f'<td class="{css}">{html.escape(text)}</td>'


def html_report(results: Sequence[CellResult]) -> str:
    """The report as one self-contained HTML page."""
    by_id = {result.cell_id: result for result in results}
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8"><title>Interop matrix</title>',
        f"<style>{_STYLE}</style></head><body>", "<h1>Interop matrix</h1>", f"<p>{html.escape(_counts(results))}</p>",
    ]  # fmt: skip
    for feature, values, body in _tables(by_id):
        header = "".join(f"<th>{html.escape(value)}</th>" for value in values)
        parts += [f"<h2>{html.escape(feature)}</h2>", f"<table><tr><th>peer / engine</th>{header}</tr>"]
        parts += [f"<tr><th>{html.escape(row)}</th>{''.join(map(_html_cell, cells))}</tr>" for row, cells in body]
        parts.append("</table>")
    for title, outcome in (("Failed cells", Outcome.FAILED), ("Unsupported cells", Outcome.UNSUPPORTED)):
        chosen = _by_outcome(results, outcome)
        items = "".join(f"<li><code>{html.escape(r.cell_id)}</code>: {html.escape(r.detail)}</li>" for r in chosen)
        parts.append(f"<h2>{title} ({len(chosen)})</h2><ul>{items or '<li>none</li>'}</ul>")
    rows = "".join(
        f"<tr><td><code>{html.escape(r.cell_id)}</code></td>{_html_cell(_MARKS[r.outcome])}"
        f"<td>{r.seconds:.2f}</td><td>{html.escape(r.detail)}</td></tr>"
        for r in results
    )
    parts.append(f"<h2>Every cell</h2><table><tr><th>cell</th><th>outcome</th><th>s</th><th>detail</th></tr>{rows}")
    parts.append("</table></body></html>")
    return "\n".join(parts) + "\n"


def report_paths(path: Path) -> tuple[Path, Path]:
    """The markdown and HTML files for ``--report path``: ``x.md`` or ``x.html`` names both, else ``path`` + each."""
    base = path.with_suffix("") if path.suffix in (".md", ".html") else path
    return base.with_name(base.name + ".md"), base.with_name(base.name + ".html")


def write_reports(results: Sequence[CellResult], path: Path) -> tuple[Path, Path]:
    """Write both reports (results in matrix order) and return their paths."""
    order = {cell.id: index for index, cell in enumerate(CELLS)}
    ordered = sorted(results, key=lambda result: order.get(result.cell_id, len(order)))
    markdown, page = report_paths(path)
    write_atomic(markdown, markdown_report(ordered).encode())
    write_atomic(page, html_report(ordered).encode())
    return markdown, page
