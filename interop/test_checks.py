"""The checks behind the matrix can fail: wrong expectations, unmet declarations, a missing peer program.

Plus the pieces the cells rest on: the payloads, the report's rendering, the report's file names.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from interop.cells import CELLS, Expect, Refusal, cell_by_id
from interop.peer_protocol import payload
from interop.report import html_report, markdown_report, report_paths, write_reports
from interop.run import CellResult, Outcome, run_cell

_SUITE_CELL = "openssl-server/engine-client/suite=TLS_AES_128_GCM_SHA256"


def test_a_wrong_expectation_fails_the_cell(cert_dir: Path) -> None:
    cell = cell_by_id(_SUITE_CELL)
    wrong = replace(cell, expect=replace(cell.expect, cipher="TLS_AES_256_GCM_SHA384"))
    result = run_cell(wrong, cert_dir)
    assert result.outcome is Outcome.FAILED
    assert "cipher 'TLS_AES_128_GCM_SHA256', expected 'TLS_AES_256_GCM_SHA384'" in result.detail


def test_an_expected_refusal_that_does_not_happen_fails(cert_dir: Path) -> None:
    declared = replace(
        cell_by_id(_SUITE_CELL), unsupported="pretend", expect=Expect(refusal=Refusal("peer", "handshake_failure"))
    )
    result = run_cell(declared, cert_dir)
    assert result.outcome is Outcome.FAILED
    assert result.detail.startswith("declared unsupported (pretend), but: the handshake completed")


def test_a_refusal_with_another_alert_fails(cert_dir: Path) -> None:
    cell = cell_by_id("openssl-server/engine-client/refuse=group")
    other = replace(cell, expect=Expect(refusal=Refusal("peer", "illegal_parameter")))
    result = run_cell(other, cert_dir)
    assert result.outcome is Outcome.FAILED
    assert "expected the peer's illegal_parameter" in result.detail and "handshake_failure" in result.detail


def test_a_declared_unsupported_cell_is_not_run(cert_dir: Path) -> None:
    cell = cell_by_id("gnutls-server/engine-client/close=peer-first")
    result = run_cell(cell, cert_dir)
    assert (result.outcome, result.detail, result.seconds) == (Outcome.UNSUPPORTED, cell.unsupported, 0.0)


def test_a_missing_peer_program_fails_with_one_line(cert_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    result = run_cell(cell_by_id("gnutls-client/engine-server/alpn=h2"), cert_dir)
    assert result.outcome is Outcome.FAILED
    assert result.detail == "gnutls-serv, gnutls-cli not installed (ci/setup.sh installs it)"


def test_cell_ids_are_unique_and_name_peer_roles_and_feature() -> None:
    ids = [cell.id for cell in CELLS]
    assert len(ids) == len(set(ids))
    assert "openssl-server/engine-client/group=secp384r1" in ids
    assert all(cell.id.count("/") == 2 and "=" in cell.id for cell in CELLS)


def test_payloads_are_deterministic_and_text_ones_are_lines() -> None:
    assert payload("engine->peer", 1000) == payload("engine->peer", 1000) != payload("peer->engine", 1000)
    text = payload("engine->peer", 4096, text=True)
    assert len(text) == 4096 and text.count(b"\n") == 64 and text.endswith(b"\n")
    assert set(text) <= set(b"0123456789abcdef\n")


def _results() -> list[CellResult]:
    return [
        CellResult(_SUITE_CELL, Outcome.PASSED, "TLS_AES_128_GCM_SHA256 ok", 0.1),
        CellResult("openssl-client/engine-server/alpn=h2", Outcome.FAILED, "alpn None, expected 'h2' <b>", 0.2),
        CellResult("s2n-server/engine-client/group=secp521r1", Outcome.UNSUPPORTED, "no pair of policies", 0.0),
    ]


def test_the_report_shows_each_outcome_and_the_reasons(tmp_path: Path) -> None:
    markdown = markdown_report(_results())
    assert f"3 cells run: 1 passed, 1 failed, 1 unsupported (of {len(CELLS)} in the matrix)" in markdown
    assert "| openssl-server/engine-client | passed | not run | not run |" in markdown
    assert "- `openssl-client/engine-server/alpn=h2`: alpn None, expected 'h2' <b>" in markdown
    assert "- `s2n-server/engine-client/group=secp521r1`: no pair of policies" in markdown
    page = html_report(_results())
    assert '<td class="failed">FAILED</td>' in page and "&lt;b&gt;" in page and "<b>" not in page
    written = write_reports(_results(), tmp_path / "matrix.html")
    assert written == (tmp_path / "matrix.md", tmp_path / "matrix.html")
    assert all(path.read_text() for path in written)


def test_report_paths() -> None:
    assert report_paths(Path("out/report")) == (Path("out/report.md"), Path("out/report.html"))
    assert report_paths(Path("r.md")) == (Path("r.md"), Path("r.html"))
