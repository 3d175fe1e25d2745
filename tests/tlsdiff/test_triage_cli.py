"""``tlsdiff triage`` on the command line: the table, ``--json``, bad directories; and the real minimiser end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.tlsdiff.triage_fixtures import CHANGED_SIGNATURE, HRR, build_findings, pinned
from tlsdiff.cli import main
from tlsdiff.findings import FindingStore, load_finding
from tlsdiff.targets import TARGETS

# The findings come from lockstep runs, which model the OpenSSL build's draws: one CI pass.
pytestmark = pytest.mark.openssl_engine


def _padded_finding(root: Path) -> bytes:
    """A findings directory whose one input is a reproducing input with bytes that do nothing after it."""
    padded = pinned(*HRR).data + b"\xff\xff\xff"
    finding = TARGETS[HRR[0]].check(padded)
    assert finding is not None and finding.signature == pinned(*HRR).signature
    FindingStore(root).save(finding, padded)
    return padded


def test_the_real_minimiser_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    padded = _padded_finding(tmp_path / "findings")
    code = main(["triage", str(tmp_path / "findings"), "--out", str(tmp_path / "report"), "--json",
                 "--max-checks", "400"])  # fmt: skip
    assert code == 0
    (group,) = json.loads(capsys.readouterr().out)["findings"]
    assert group["status"] == "reproduces"
    assert group["original_size"] == len(padded)
    assert group["minimized_size"] < len(padded)
    minimized = Path(group["minimized"])
    data = (minimized / "input.bin").read_bytes()
    assert len(data) == group["minimized_size"]
    replayed = TARGETS[HRR[0]].check(data)
    assert replayed is not None and replayed.signature == group["signature"] == load_finding(minimized)["signature"]
    assert (minimized / "conversations.pcapng").is_file()
    assert (tmp_path / "report" / "index.html").is_file()


def test_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    built = build_findings(tmp_path / "findings")
    assert main(["triage", str(built.root), "--no-minimize"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["status", "known", "inputs", "first", "seen", "minimised", "target", "signature"]
    column = lines[0].index("signature")
    rows = {
        line[column:]: line.split()[:3] for line in lines[1:] if line.split()[0] in ("reproduces", "changed", "fixed")
    }
    assert rows[built.hrr.signature] == ["reproduces", "pinned", "3"]
    assert rows[built.ccs.signature] == ["reproduces", "pinned", "1"]
    assert rows[built.fixed_signature] == ["fixed", "-", "1"]
    assert rows[CHANGED_SIGNATURE] == ["changed", "new", "1"]
    assert any(line.strip() == f"now gives {built.hrr.signature} (1 of 1 inputs)" for line in lines)
    assert lines[-1].startswith("4 groups from 6 inputs (2 reproduces, 1 changed, 1 fixed)")
    assert lines[-1].endswith(f"report: {(built.root / 'report' / 'index.html').resolve()}")


def _bad_directory(root: Path, kind: str) -> None:
    if kind == "empty":
        root.mkdir()
    if kind == "broken finding.json":
        (root / "Divergence_x").mkdir(parents=True)
        (root / "Divergence_x" / "finding.json").write_text("{")


@pytest.mark.parametrize(
    ("kind", "message"),
    [("missing", "is not a directory"), ("empty", "is not a findings directory"),
     ("broken finding.json", "Expecting property name")],
)  # fmt: skip
def test_a_bad_directory_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, message: str
) -> None:
    root = tmp_path / "findings"
    _bad_directory(root, kind)
    assert main(["triage", str(root)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("tlsdiff triage: ") and message in line


def test_max_checks_must_be_positive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["triage", str(tmp_path), "--max-checks", "0"]) == 2
    assert capsys.readouterr().err == "tlsdiff triage: --max-checks must be at least 1\n"
