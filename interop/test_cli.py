"""``tlsdiff interop``: it runs the selected cells through pytest, reports them, and says when a peer is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tlsdiff.cli import main


def test_a_selection_runs_and_writes_both_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "matrix"
    code = main(
        ["interop", "--peers", "openssl", "--jobs", "1", "-k", "openssl-server and alpn", "--report", str(report)]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "tlsdiff interop: 1 passed, 0 failed, 0 unsupported" in out
    markdown = (tmp_path / "matrix.md").read_text()
    assert "1 cells run: 1 passed, 0 failed, 0 unsupported" in markdown
    assert "`openssl-server/engine-client/alpn=h2`" in markdown
    assert "<h1>Interop matrix</h1>" in (tmp_path / "matrix.html").read_text()


def test_a_missing_peer_program_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", "")
    assert main(["interop", "--peers", "gnutls"]) == 2
    assert capsys.readouterr().err == "tlsdiff interop: not installed: gnutls-serv, gnutls-cli (run ci/setup.sh)\n"


def test_an_unknown_peer_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["interop", "--peers", "openssl,nss"]) == 2
    assert "unknown peer nss" in capsys.readouterr().err
