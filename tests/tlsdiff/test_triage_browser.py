"""The triage report in a real browser: headless Chromium (Debian's ``chromium``, installed by ci/setup.sh).

Chromium loads each page from disk and dumps the DOM it built; the test reads what the
page shows from that DOM: the group's signature, the marked field path, the RFC section
heading and its text, the reproduce line, and links that lead to files beside the page.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.tlsdiff.triage_fixtures import build_findings
from tlsdiff.report_html import page_path
from tlsdiff.triage import TriageOptions, triage

# The findings come from lockstep runs, which model the OpenSSL build's draws: one CI pass.
pytestmark = pytest.mark.openssl_engine

_VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "col", "wbr"})


@dataclass
class _Element:
    tag: str
    attrs: dict[str, str]
    parent: _Element | None
    text: list[str] = field(default_factory=list)

    @property
    def content(self) -> str:
        return "".join(self.text)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def inside(self, tag: str, css_class: str) -> bool:
        """Whether an element around this one is a ``tag`` of class ``css_class``."""
        around = self.parent
        while around is not None and not (around.tag == tag and css_class in around.classes):
            around = around.parent
        return around is not None


class _Dom(HTMLParser):
    """Every element of a serialised DOM with the text inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[_Element] = []
        self._open: list[_Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = _Element(tag, {name: value or "" for name, value in attrs}, self._open[-1] if self._open else None)
        self.elements.append(element)
        if tag not in _VOID:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self._open and self._open.pop().tag != tag:
            pass

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text.append(data)

    def all(self, tag: str, css_class: str = "") -> list[_Element]:
        return [e for e in self.elements if e.tag == tag and (not css_class or css_class in e.classes)]


def _rendered(page: Path, profile: Path) -> _Dom:
    chromium = shutil.which("chromium")
    assert chromium is not None, "chromium is not installed (ci/setup.sh installs it)"
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
               "--dump-dom", page.as_uri()]  # fmt: skip
    dumped = subprocess.run(command, capture_output=True, text=True, timeout=180, check=True).stdout
    dom = _Dom()
    dom.feed(dumped)
    assert dom.all("body"), f"chromium rendered no page for {page}: {dumped[:200]!r}"
    return dom


def _assert_links_lead_to_files(dom: _Dom, page: Path, names: set[str]) -> None:
    links = {a.content: a.attrs["href"] for a in dom.all("a")}
    assert names <= set(links)
    for name in names:
        assert (page.parent / unquote(links[name])).is_file()


def test_a_group_page_in_chromium(tmp_path: Path) -> None:
    built = build_findings(tmp_path / "findings")
    result = triage(built.root, tmp_path / "report", TriageOptions(minimizer=lambda _t, data, _s: data, progress=print))
    group = next(g for g in result.groups if g.signature == built.ccs.signature)
    page = result.report / page_path(group)
    dom = _rendered(page, tmp_path / "profile")

    assert [h1.content for h1 in dom.all("h1")] == [built.ccs.signature]
    marks = dom.all("mark", "field")
    assert {mark.content for mark in marks} == {"ChangeCipherSpec.type"}
    marked_rows = dom.all("tr", "field")
    assert len(marked_rows) == 1
    # The path is highlighted in the marked row, on both sides (and once more in the line above the table).
    assert [mark.content for mark in marks if mark.inside("tr", "field")] == ["ChangeCipherSpec.type"] * 2
    assert "ChangeCipherSpec.type = 1" in marked_rows[0].content
    assert "ChangeCipherSpec.type = 0 (INVALID)" in marked_rows[0].content
    headings = [h3.content for h3 in dom.all("h3")]
    assert headings == ["RFC 8446, 5.  Record Protocol"]
    assert any("MUST\nsimply drop it without further processing" in pre.content for pre in dom.all("pre"))
    reproduce = [pre.content for pre in dom.all("pre", "reproduce")]
    assert reproduce == [f"tlsdiff fuzz client_diff --replay {group.finding_directory / 'input.bin'}"]
    _assert_links_lead_to_files(dom, page, {"conversations.pcapng", "keylog.txt", "input.bin", "finding.json"})


def test_the_index_in_chromium(tmp_path: Path) -> None:
    built = build_findings(tmp_path / "findings")
    result = triage(built.root, tmp_path / "report", TriageOptions(minimize=False, progress=print))
    index = result.report / "index.html"
    dom = _rendered(index, tmp_path / "profile")
    signatures = {group.signature for group in result.groups}
    _assert_links_lead_to_files(dom, index, signatures)
    statuses = [td.content for td in dom.all("td") if td.classes & {"reproduces", "changed", "fixed"}]
    assert sorted(statuses) == ["changed", "fixed", "reproduces", "reproduces"]
