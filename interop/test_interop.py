"""The interop matrix: one test per cell (``interop.cells.CELLS``), its id the cell's.

A declared unsupported cell must come out unsupported with its declared reason (the
ones that declare a refusal are run, and the refusal must be seen); every other cell
must pass. A missing peer program fails its cells, never skips them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from interop.cells import CELLS, Cell
from interop.run import CellResult, Outcome, run_cell


@pytest.mark.parametrize("cell", CELLS, ids=[cell.id for cell in CELLS])
def test_cell(cell: Cell, cert_dir: Path, record_result: Callable[[CellResult], None]) -> None:
    result = run_cell(cell, cert_dir)
    record_result(result)
    if cell.unsupported is not None:
        assert result.outcome is Outcome.UNSUPPORTED, result.detail
        assert result.detail.startswith(cell.unsupported)
    else:
        assert result.outcome is Outcome.PASSED, result.detail
