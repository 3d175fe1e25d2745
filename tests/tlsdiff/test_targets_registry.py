"""The target registry (``tlsdiff.targets.TARGETS``): built on first use, whichever way it is asked."""

from __future__ import annotations

import subprocess
import sys

# A fresh process: the registry of this one is built by the other tests already.
_FIRST_USE = """
from tlsdiff.targets import TARGETS
print(TARGETS.get("record_diff").name, len(TARGETS), sorted(name for name, _ in TARGETS.items())[0])
"""


def test_get_len_and_items_build_the_registry_on_first_use() -> None:
    done = subprocess.run([sys.executable, "-c", _FIRST_USE], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.split() == ["record_diff", "8", "cert_chain_diff"]
