"""Report which RFC requirements the code cites as implemented, and which tests cite them.

Citations follow the Duvet shape (CONVENTIONS.md section 8). In Python, ``ruff format``
writes the marker ``#=`` as ``# =``; both are read::

    # = https://www.rfc-editor.org/rfc/rfc8446#section-4.1.2
    # = type=implementation          (or type=test, or type=exception)
    ## quoted requirement text ...

Usage: python ci/requirements_report.py [ROOT]   (prints a table; exit 0)
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

_TARGET = re.compile(r"^\s*#\s?= (https://\S+)\s*$")
_TYPE = re.compile(r"^\s*#\s?= type=(\w+)")
_QUOTE = re.compile(r"^\s*## ?(.*)$")


@dataclass(frozen=True)
class Citation:
    """One cited requirement at one place in the code."""

    target: str
    kind: str
    quote: str
    where: str


def _citations(path: Path, root: Path) -> list[Citation]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Citation] = []
    for number, line in enumerate(lines):
        target = _TARGET.match(line)
        if target is None:
            continue
        kind_match = _TYPE.match(lines[number + 1]) if number + 1 < len(lines) else None
        kind = kind_match.group(1) if kind_match else "implementation"
        quote_lines = []
        for following in lines[number + 1 + (kind_match is not None) :]:
            quote = _QUOTE.match(following)
            if quote is None:
                break
            quote_lines.append(quote.group(1).strip())
        where = f"{path.relative_to(root)}:{number + 1}"
        found.append(Citation(target.group(1), kind, " ".join(quote_lines), where))
    return found


def collect(root: Path) -> list[Citation]:
    """Every citation under engine/ and tests/."""
    files = sorted([*root.glob("engine/**/*.py"), *root.glob("tests/**/*.py")])
    return [citation for path in files for citation in _citations(path, root)]


def main() -> int:
    """Print one line per cited requirement: implemented where, tested or not."""
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    by_target: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for citation in collect(root):
        by_target[citation.target][citation.kind].append(citation.where)
    tested = 0
    for target in sorted(by_target):
        kinds = by_target[target]
        tested += bool(kinds.get("test"))
        marks = ", ".join(f"{kind}: {len(places)}" for kind, places in sorted(kinds.items()))
        print(f"{target.split('#')[-1]:<16} {marks}")
    print(f"{len(by_target)} sections cited, {tested} with a test citation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
