"""The RFC requirements report reads the Duvet-shaped citations in engine/ and tests/."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def _report() -> ModuleType:
    spec = importlib.util.spec_from_file_location("requirements_report", ROOT / "ci" / "requirements_report.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_tested_requirement_is_also_cited_where_implemented() -> None:
    citations = _report().collect(ROOT)
    implemented = {c.target for c in citations if c.kind == "implementation"}
    tested = {c.target for c in citations if c.kind == "test"}
    assert len(implemented) >= 14
    assert tested - implemented <= {"https://www.rfc-editor.org/rfc/rfc8446#section-7.1"}
    assert all(c.quote for c in citations), "a citation without its quoted requirement"
