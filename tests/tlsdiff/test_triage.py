"""``tlsdiff.triage``: replay, grouping, statuses, minimised findings, the report's files; with a stand-in minimiser.

The real minimiser (``tlsdiff.minimize``) is exercised end to end in ``test_triage_cli.py``;
here a stand-in records its calls, so what triage does with its answer is checked exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tlsdiff.triage as triage_module
from tests.tlsdiff.triage_fixtures import CCS, CHANGED_SIGNATURE, HRR, Built, build_findings, pinned
from tlsdiff.findings import load_finding
from tlsdiff.report_html import page_path
from tlsdiff.targets import TARGETS
from tlsdiff.triage import Group, TriageOptions, TriageResult, find_finding_directories, triage

# The findings come from lockstep runs, which model the OpenSSL build's draws: one CI pass.
pytestmark = pytest.mark.openssl_engine


class _StandIn:
    """A minimiser that answers with ``answer(data)`` and keeps every call."""

    def __init__(self, answer: bytes | None = None, error: str = "") -> None:
        self.calls: list[tuple[str, bytes, str]] = []
        self._answer, self._error = answer, error

    def __call__(self, target: str, data: bytes, signature: str) -> bytes:
        self.calls.append((target, data, signature))
        if self._error:
            raise ValueError(self._error)
        return data if self._answer is None else self._answer


def _run(built: Built, minimizer: _StandIn, out: Path | None = None) -> TriageResult:
    lines: list[str] = []
    return triage(built.root, out, TriageOptions(minimizer=minimizer, progress=lines.append))


def _by_signature(result: TriageResult) -> dict[str, Group]:
    return {group.signature: group for group in result.groups}


def test_every_finding_is_kept_with_its_status(tmp_path: Path) -> None:
    built = build_findings(tmp_path / "findings")
    groups = _by_signature(_run(built, _StandIn()))
    assert set(groups) == {built.ccs.signature, built.hrr.signature, built.fixed_signature, CHANGED_SIGNATURE}
    hrr = groups[built.hrr.signature]
    assert (hrr.status, hrr.count, hrr.reproducing, hrr.moved) == ("reproduces", 3, 2, {})
    assert groups[built.ccs.signature].status == "reproduces"
    fixed = groups[built.fixed_signature]
    assert (fixed.status, fixed.reproducing, fixed.minimized, fixed.representative) == ("fixed", 0, None, None)
    changed = groups[CHANGED_SIGNATURE]
    assert changed.status == "changed"
    assert changed.moved == {built.hrr.signature: 1}
    assert changed.minimized is None


def test_one_representative_per_reproducing_group_is_minimised(tmp_path: Path) -> None:
    built = build_findings(tmp_path / "findings")
    minimizer = _StandIn()
    _run(built, minimizer)
    # The hrr group's first input (input.bin), not its padded one; never the fixed or the changed group.
    assert sorted(minimizer.calls) == [
        ("client_diff", pinned(*CCS).data, built.ccs.signature),
        ("server_diff", pinned(*HRR).data, built.hrr.signature),
    ]


def test_the_minimised_input_is_a_finding_of_its_own(tmp_path: Path) -> None:
    built = build_findings(tmp_path / "findings")
    out = tmp_path / "report"
    padded = pinned(*HRR).data + b"\xff\xff\xff"
    # The stand-in answers with the padded input: bigger than the original, but it gives the signature.
    group = _by_signature(_run(built, _StandIn(answer=padded), out))[built.hrr.signature]
    assert group.minimized is not None and group.minimized.directory is not None
    assert (group.minimized.original_size, group.minimized.size) == (len(pinned(*HRR).data), len(padded))
    directory = group.minimized.directory
    assert directory == out / "minimized" / "server_diff" / built.hrr.identifier
    assert (directory / "input.bin").read_bytes() == padded
    assert load_finding(directory)["signature"] == built.hrr.signature
    assert (directory / "conversations.pcapng").stat().st_size > 0
    reproduce = (directory / "reproduce.sh").read_text()
    assert f"tlsdiff fuzz server_diff --replay {directory / 'input.bin'}" in reproduce


def test_a_minimised_input_that_loses_the_signature_is_said_and_not_saved(tmp_path: Path) -> None:
    built = build_findings(tmp_path / "findings")
    result = _run(built, _StandIn(answer=b""))  # the empty input gives no finding
    group = _by_signature(result)[built.hrr.signature]
    assert group.minimized is not None and group.minimized.directory is None
    assert "no finding" in group.minimized.error
    assert not (result.report / "minimized" / "server_diff" / built.hrr.identifier).exists()


def test_a_minimiser_refusal_is_kept_and_triage_goes_on(tmp_path: Path) -> None:
    built = build_findings(tmp_path / "findings")
    result = _run(built, _StandIn(error="the input gives no finding"))
    minimized = [group.minimized for group in result.groups if group.minimized is not None]
    assert len(minimized) == 2
    assert all(m.error == "the input gives no finding" and m.directory is None for m in minimized)
    assert (result.report / "index.html").is_file()


def test_no_minimise_replays_and_groups_only(tmp_path: Path) -> None:
    built = build_findings(tmp_path / "findings")
    minimizer = _StandIn()
    result = triage(built.root, None, TriageOptions(minimize=False, minimizer=minimizer, progress=lambda _: None))
    assert minimizer.calls == []
    assert all(group.minimized is None for group in result.groups)


def test_each_input_runs_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = build_findings(tmp_path / "findings")
    target = TARGETS["server_diff"]
    seen: list[bytes] = []

    class _Counting:
        name, description, mutator = target.name, target.description, target.mutator

        def check(self, data: bytes) -> object:
            seen.append(data)
            return target.check(data)

    monkeypatch.setitem(TARGETS, "server_diff", _Counting())
    triage(built.root, None, TriageOptions(minimize=False, progress=lambda _: None))
    # The hrr input is in two directories (its own group's and the changed one's): replayed once.
    assert sorted(seen) == sorted({pinned(*HRR).data, pinned(*HRR).data + b"\xff\xff\xff", b"",
                                   pinned("server_diff", "sslv2-framing-wait").data})  # fmt: skip


def test_progress_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = build_findings(tmp_path / "findings")
    monkeypatch.setattr(triage_module, "_PROGRESS_SECONDS", 0.0)
    lines: list[str] = []
    triage(built.root, None, TriageOptions(minimizer=_StandIn(), progress=lines.append))
    assert "replayed 6/6 inputs" in " ".join(lines)
    assert [line for line in lines if line.startswith("minimising")][-1].startswith("minimising 2/2: ")


def test_a_second_triage_does_not_read_its_own_report(tmp_path: Path) -> None:
    built = build_findings(tmp_path / "findings")
    first = _run(built, _StandIn())  # default out: findings/report, inside the findings directory
    assert first.report == (built.root / "report").resolve()
    second = _run(built, _StandIn())
    assert [g.signature for g in second.groups] == [g.signature for g in first.groups]
    assert second.inputs == first.inputs == 6


def test_the_report_has_a_page_per_group_with_its_files(tmp_path: Path) -> None:
    built = build_findings(tmp_path / "findings")
    result = _run(built, _StandIn(), tmp_path / "report")
    index = (result.report / "index.html").read_text()
    for group in result.groups:
        page = result.report / page_path(group)
        assert page_path(group).as_posix() in index
        assert (page.parent / "input.bin").is_file()
        assert (page.parent / "finding.json").is_file()
    ccs_page = result.report / page_path(_by_signature(result)[built.ccs.signature])
    assert (ccs_page.parent / "conversations.pcapng").read_bytes() == (
        _by_signature(result)[built.ccs.signature].finding_directory / "conversations.pcapng"
    ).read_bytes()


def test_json_document(tmp_path: Path) -> None:
    built = build_findings(tmp_path / "findings")
    document = json.loads(json.dumps(_run(built, _StandIn()).as_json()))
    assert document["groups"] == 4
    assert document["inputs"] == 6
    assert document["statuses"] == {"reproduces": 2, "fixed": 1, "changed": 1}
    changed = next(f for f in document["findings"] if f["signature"] == CHANGED_SIGNATURE)
    assert changed["now_gives"] == {built.hrr.signature: 1}


def test_not_a_findings_directory(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="is not a directory"):
        find_finding_directories(tmp_path / "missing")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(ValueError, match="is not a findings directory"):
        find_finding_directories(tmp_path / "empty")


def test_a_finding_json_without_a_signature_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "findings" / "Divergence_x"
    broken.mkdir(parents=True)
    (broken / "finding.json").write_text(json.dumps({"target": "server_diff"}))
    (broken / "input.bin").write_bytes(b"")
    with pytest.raises(ValueError, match="is not a finding"):
        triage(tmp_path / "findings", None, TriageOptions(minimize=False, progress=lambda _: None))


def test_a_group_pinned_in_the_regression_corpus_says_so(tmp_path: Path) -> None:
    built = build_findings(tmp_path / "findings")
    groups = _by_signature(_run(built, _StandIn()))
    hrr = groups[built.hrr.signature]  # an S2N-1 reproducer from corpus/regression: a known s2n bug
    assert hrr.known == "pinned"
    assert hrr.pinned.startswith("s2n-bug: corpus/regression/server_diff/") and hrr.pinned.endswith(".bin")
    assert groups[built.fixed_signature].known == "-"
    assert groups[CHANGED_SIGNATURE].pinned == ""


def test_regression_pins_name_only_what_keeps_a_signature(tmp_path: Path) -> None:
    folder = tmp_path / "corpus" / "regression" / "server_diff"
    folder.mkdir(parents=True)
    (folder / "bug.json").write_text(json.dumps({"signature": "verdict/x", "kind": "s2n-bug"}))
    (folder / "fixed.json").write_text(json.dumps({"signature": None, "kind": "fixed"}))
    assert triage_module.regression_pins(tmp_path) == {
        ("server_diff", "verdict/x"): "s2n-bug: corpus/regression/server_diff/bug.bin"
    }
