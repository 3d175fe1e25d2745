"""``tlsdiff.report_html``: pages that stand alone, escape what findings hold, and show the right parts."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.tlsdiff.triage_fixtures import HRR, build_findings, historical_finding, pinned
from tlsdiff.findings import FindingStore
from tlsdiff.report_html import page_path
from tlsdiff.rfc_sections import RFC_URL
from tlsdiff.triage import TriageOptions, TriageResult, triage

# The findings come from lockstep runs, which model the OpenSSL build's draws: one CI pass.
pytestmark = pytest.mark.openssl_engine

_HOSTILE_SIGNATURE = 'bytes/server/flight0/<script>alert(1)</script>/x"><img src=x onerror=alert(2)>'
_HOSTILE_DIFF = (
    "<img src=x onerror=alert(3)>",
    "first difference: record 0 written by the targets; message <b>handshake</b>; field <i>x</i>",
    ">> " + "<i>x</i> = <script>alert(4)</script>".ljust(78) + " | <iframe src=x>",
)


class _Tags(HTMLParser):
    """Every start tag of a page with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(page: Path) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(page.read_text())
    return parser.tags


def _triage(root: Path) -> TriageResult:
    return triage(root, root.parent / "report", TriageOptions(minimizer=lambda _t, data, _s: data, progress=print))


def test_pages_load_nothing_and_link_only_to_what_is_there(tmp_path: Path) -> None:
    result = _triage(build_findings(tmp_path / "findings").root)
    pages = [result.report / "index.html", *(result.report / page_path(group) for group in result.groups)]
    for page in pages:
        tags = _tags(page)
        assert {tag for tag, _ in tags}.isdisjoint({"script", "link", "img", "iframe", "object", "embed"})
        assert all("src" not in attrs for _, attrs in tags)
        for _, attrs in tags:
            href = attrs.get("href")
            if href is not None and not href.startswith(RFC_URL):
                assert (page.parent / unquote(href)).is_file(), f"{page}: {href} is missing"


def test_everything_from_a_finding_is_escaped(tmp_path: Path) -> None:
    root = tmp_path / "findings"
    hostile = historical_finding(HRR[0], _HOSTILE_SIGNATURE, _HOSTILE_DIFF)
    FindingStore(root).save(hostile, pinned(*HRR).data)
    result = _triage(root)
    page = result.report / page_path(result.groups[0])
    for html in (page.read_text(), (result.report / "index.html").read_text()):
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        for raw in ("<script", "<img", "<iframe", "<b>", "<i>"):
            assert raw not in html
    assert {tag for tag, _ in _tags(page)}.isdisjoint({"script", "img", "iframe", "b", "i"})


def test_a_group_page_shows_its_parts(tmp_path: Path) -> None:
    built = build_findings(tmp_path / "findings")
    result = _triage(built.root)
    ccs = next(group for group in result.groups if group.signature == built.ccs.signature)
    html = (result.report / page_path(ccs)).read_text()
    assert '<mark class="field">ChangeCipherSpec.type</mark> = 1' in html  # the engine's side of the marked row
    assert '<mark class="field">ChangeCipherSpec.type</mark> = 0 (INVALID)' in html
    assert "RFC 8446, 5.  Record Protocol" in html
    assert "MUST\nsimply drop it without further processing" in html  # the section's text, quoted
    # The compat modes, as finding.json has them, and a switch they set.
    assert "<th>target: <code>s2n</code></th><th>peer: <code>s2n</code></th>" in html
    assert "<tr><th><code>generic_close_notify</code></th><td>True</td><td>True</td></tr>" in html
    assert f"tlsdiff fuzz client_diff --replay {ccs.finding_directory / 'input.bin'}" in html
    assert "From the minimised input, run by today&#x27;s code." in html


def test_a_fixed_group_page_says_it_is_as_recorded(tmp_path: Path) -> None:
    built = build_findings(tmp_path / "findings")
    result = _triage(built.root)
    fixed = next(group for group in result.groups if group.signature == built.fixed_signature)
    html = (result.report / page_path(fixed)).read_text()
    assert "no input gives this signature today" in html
    assert "recorded long ago" in html  # its diff.txt, as saved
    assert "No conversation was recorded" in html
    assert not (result.report / page_path(fixed)).with_name("conversations.pcapng").exists()
