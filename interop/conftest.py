"""pytest set-up of the interop suite: the certificates, the peer filter and where results go.

    pytest -n 2 interop                                  # every cell
    pytest interop --interop-peers openssl,gnutls        # only those peers' cells
    pytest interop --interop-results DIR                 # each cell's result as DIR/<n>.json (the report's input)

Both options also read environment variables (TLSDIFF_INTEROP_PEERS, TLSDIFF_INTEROP_RESULTS),
which is how ``tlsdiff interop`` passes them through pytest-xdist.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from interop.cells import PEERS
from interop.files import write_certificates
from interop.run import CellResult
from tlsdiff.atomic import write_atomic

PEERS_VARIABLE = "TLSDIFF_INTEROP_PEERS"
RESULTS_VARIABLE = "TLSDIFF_INTEROP_RESULTS"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("interop")
    group.addoption("--interop-peers", default=os.environ.get(PEERS_VARIABLE, ""), help="comma-separated peers to run")
    group.addoption("--interop-results", default=os.environ.get(RESULTS_VARIABLE, ""), help="directory for results")


def _selected_peers(config: pytest.Config) -> set[str]:
    text: str = config.getoption("--interop-peers")
    peers = {name.strip() for name in text.split(",") if name.strip()}
    unknown = peers - set(PEERS)
    if unknown:
        raise pytest.UsageError(f"unknown interop peers {sorted(unknown)}; known: {', '.join(PEERS)}")
    return peers


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    peers = _selected_peers(config)
    if not peers:
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        cell = getattr(item, "callspec", None)
        peer = cell.params["cell"].peer if cell is not None and "cell" in cell.params else None
        (keep if peer is None or peer in peers else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def cert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_certificates(tmp_path_factory.mktemp("interop"))


@pytest.fixture
def record_result(request: pytest.FixtureRequest) -> Callable[[CellResult], None]:
    directory: str = request.config.getoption("--interop-results")

    def record(result: CellResult) -> None:
        if directory:
            name = hashlib.sha256(result.cell_id.encode()).hexdigest()[:24]
            write_atomic(Path(directory) / f"{name}.json", result.to_json().encode())

    return record
