"""Extract the example TLS 1.3 handshake traces of RFC 8448 into JSON test data.

Reads the plain-text RFC (page-formatted, as published) and writes one JSON file per
extracted section to ``tests/data/rfc8448/section<N>.json``.  Each file is the ordered list
of the section's steps::

    {"side": "client" | "server", "action": "<action line>", "values": {"<label>": "<hex>"}}

``action`` is the text after ``{client}``/``{server}`` with continuation lines joined and the
trailing colon removed; labels are the RFC's own, without the ``(NN octets)`` suffix; hex is
lowercase without spaces.  Every ``(NN octets)`` annotation is checked against the bytes
found and a mismatch aborts the extraction.  Two non-hex notations are decoded: ``(empty)``
is the empty string, and ``salt:  0 (all zero octets)`` is Hash.length zero octets (the "0"
of RFC 8446, Section 7.1; the length is that of the step's ``secret``).

Run from the repository root; ``--check`` compares with the committed files instead of
writing them::

    python ci/extract_rfc8448.py [--source rfc8448.txt] [--out tests/data/rfc8448] [--check]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SOURCE = Path(__file__).resolve().parent.parent.parent / "shared" / "rfc" / "rfc8448.txt"
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "rfc8448"
SECTIONS: dict[int, str] = {3: "Simple 1-RTT Handshake", 5: "HelloRetryRequest", 7: "Compatibility Mode"}

# Page furniture: "Thomson   Informational   [Page 3]" footers, then a form feed, then a
# "RFC 8448   TLS 1.3 Traces   January 2019" running header (drafts: "Internet-Draft ...").
_FOOTER = re.compile(r"^\S.*\s\[Page \d+\]$")
_HEADER = re.compile(r"^(?:RFC 8448|Internet-Draft)\s{2,}\S.*\s{2,}[A-Z][a-z]+ \d{4}$")
_SECTION_HEADING = re.compile(r"^(\d+)\.\s+(\S.*)$")
_STEP = re.compile(r"^ {3}\{(client|server)\}\s+(\S.*)$")
_LABEL = re.compile(r"^ {6}([A-Za-z][A-Za-z0-9 ]*?)(?: \((\d+) octets?\))?:\s+(\S.*)$")
_HEX_RUN = re.compile(r"^[0-9a-fA-F]{2}(?: +[0-9a-fA-F]{2})*$")
_HEX_CONTINUATION = re.compile(r"^ {7,}([0-9a-fA-F]{2}(?: +[0-9a-fA-F]{2})*)$")
_EMPTY = "(empty)"
_ALL_ZERO = "0 (all zero octets)"


class ExtractionError(Exception):
    """The RFC text is not shaped as expected; the message names the offending line."""


@dataclass
class _Value:
    label: str
    expected: int | None  # the "(NN octets)" annotation, when present
    line: int
    data: bytearray = field(default_factory=bytearray)
    all_zero: bool = False  # "0 (all zero octets)": Hash.length zero octets, sized later


@dataclass
class _Step:
    side: str
    action: str
    line: int
    values: list[_Value] = field(default_factory=list)


def strip_page_furniture(lines: Iterable[str]) -> list[tuple[int, str]]:
    """Numbered lines (1-based) without page footers, form feeds, running headers, and the
    blank lines padding them, so a hex block that spans a page break becomes contiguous."""
    out: list[tuple[int, str]] = []
    skip_blank = False
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if "\f" in line:
            line = line.replace("\f", "")
            if not line.strip():
                continue
        line = line.rstrip()
        if _FOOTER.match(line) or _HEADER.match(line):
            while out and not out[-1][1]:
                out.pop()
            skip_blank = True
            continue
        if skip_blank and not line:
            continue
        skip_blank = False
        out.append((number, line))
    return out


def section_lines(lines: Sequence[tuple[int, str]], number: int, title: str) -> list[tuple[int, str]]:
    """The body of section ``number`` (the heading must carry ``title``)."""
    start: int | None = None
    for index, (line_no, line) in enumerate(lines):
        match = _SECTION_HEADING.match(line)
        if not match:
            continue
        if start is not None:
            return list(lines[start:index])
        if int(match.group(1)) == number:
            if match.group(2).strip() != title:
                raise ExtractionError(f"line {line_no}: section {number} is {match.group(2)!r}, expected {title!r}")
            start = index + 1
    if start is None:
        raise ExtractionError(f"section {number} ({title}) not found")
    return list(lines[start:])


def _decode_hex(text: str, line_no: int) -> bytes:
    if not _HEX_RUN.match(text):
        raise ExtractionError(f"line {line_no}: not a run of hex octets: {text!r}")
    return bytes.fromhex(text)


def _balanced(text: str) -> bool:
    return text.count("(") == text.count(")")


class _SectionParser:
    def __init__(self, number: int) -> None:
        self.number = number
        self.steps: list[_Step] = []
        self.value: _Value | None = None
        self.action_open = False  # the step line's parenthesis continues on the next line

    def feed(self, line_no: int, line: str) -> None:
        if self.action_open:
            self._continue_action(line_no, line)
            return
        if not line:
            return
        step = _STEP.match(line)
        if step:
            self._close_value()
            action = step.group(2).strip()
            self.steps.append(_Step(side=step.group(1), action=action, line=line_no))
            self.action_open = not _balanced(action)
            return
        if not self.steps:
            return  # prose introducing the section
        label = _LABEL.match(line)
        if label:
            self._start_value(line_no, label.group(1), label.group(2), label.group(3))
            return
        continuation = _HEX_CONTINUATION.match(line)
        if continuation:
            if self.value is None or self.value.all_zero:
                raise ExtractionError(f"line {line_no}: hex continuation outside a value: {line.strip()!r}")
            self.value.data += _decode_hex(continuation.group(1), line_no)
            return
        raise ExtractionError(f"line {line_no}: unexpected line in section {self.number}: {line!r}")

    def _continue_action(self, line_no: int, line: str) -> None:
        if not line.startswith("    ") or not line.strip():
            raise ExtractionError(f"line {line_no}: expected the continuation of the action line, got {line!r}")
        step = self.steps[-1]
        step.action = f"{step.action} {line.strip()}"
        self.action_open = not _balanced(step.action)

    def _start_value(self, line_no: int, label: str, octets: str | None, rest: str) -> None:
        self._close_value()
        step = self.steps[-1]
        if any(value.label == label for value in step.values):
            raise ExtractionError(f"line {line_no}: label {label!r} repeated in the step of line {step.line}")
        value = _Value(label=label, expected=None if octets is None else int(octets), line=line_no)
        rest = rest.strip()
        if rest == _ALL_ZERO and octets is None:
            value.all_zero = True
        elif rest == _EMPTY:
            pass
        elif octets is None:
            raise ExtractionError(f"line {line_no}: value {label!r} has no octet count: {rest!r}")
        else:
            value.data += _decode_hex(rest, line_no)
        step.values.append(value)
        self.value = value

    def _close_value(self) -> None:
        value, self.value = self.value, None
        if value is None or value.expected is None:
            return
        if len(value.data) != value.expected:
            raise ExtractionError(
                f"line {value.line}: {value.label!r} is annotated ({value.expected} octets) "
                f"but {len(value.data)} octets of hex follow"
            )

    def finish(self) -> list[dict[str, object]]:
        if self.action_open:
            raise ExtractionError(f"section {self.number}: the last action line is unterminated")
        self._close_value()
        if not self.steps:
            raise ExtractionError(f"section {self.number}: no steps found")
        return [self._render(step) for step in self.steps]

    @staticmethod
    def _render(step: _Step) -> dict[str, object]:
        values: dict[str, str] = {}
        for value in step.values:
            data = bytes(value.data)
            if value.all_zero:
                secret = next((v for v in step.values if v.label == "secret"), None)
                if secret is None or not secret.data:
                    raise ExtractionError(f"line {value.line}: all-zero {value.label!r} in a step with no secret")
                data = bytes(len(secret.data))
            values[value.label] = data.hex()
        return {"side": step.side, "action": step.action.removesuffix(":").rstrip(), "values": values}


def extract_section(lines: Sequence[tuple[int, str]], number: int, title: str) -> list[dict[str, object]]:
    parser = _SectionParser(number)
    for line_no, line in section_lines(lines, number, title):
        parser.feed(line_no, line)
    return parser.finish()


def render_json(steps: list[dict[str, object]]) -> str:
    return json.dumps(steps, indent=2, ensure_ascii=True) + "\n"


def describe_source(text: str) -> str | None:
    """A warning when the text is not the published RFC (for example an Internet-Draft)."""
    head = text[:4000]
    if re.search(r"Request for Comments:\s+8448\b", head):
        return None
    draft = re.search(r"draft-[a-z0-9-]+", head)
    return f"warning: the source is not the published RFC 8448 ({draft.group(0) if draft else 'unknown document'})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="the RFC 8448 plain text")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="directory for section<N>.json")
    parser.add_argument("--check", action="store_true", help="compare with the files in --out, write nothing")
    args = parser.parse_args(argv)

    text = args.source.read_text(encoding="ascii")
    warning = describe_source(text)
    if warning:
        print(warning, file=sys.stderr)
    lines = strip_page_furniture(text.split("\n"))  # not splitlines(): it breaks at form feeds
    outputs: dict[Path, str] = {}
    for number, title in SECTIONS.items():
        steps = extract_section(lines, number, title)
        outputs[args.out / f"section{number}.json"] = render_json(steps)
        with_values = sum(1 for step in steps if step["values"])
        print(f"section {number} ({title}): {len(steps)} steps, {with_values} with values")

    if args.check:
        stale = [path for path, body in outputs.items() if not path.is_file() or path.read_text() != body]
        for path in stale:
            print(f"out of date: {path}", file=sys.stderr)
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for path, body in outputs.items():
        path.write_text(body, encoding="ascii")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ExtractionError as error:
        print(f"extraction failed: {error}", file=sys.stderr)
        sys.exit(2)
