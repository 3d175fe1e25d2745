#!/usr/bin/env python3
"""Server differential: the engine server and the s2n server meet one mutating client; every answer compared.

Run it through ``tlsdiff fuzz server_diff`` (progress, findings by signature), or bare with
libFuzzer's flags (``fuzz_targets/server_diff.py CORPUS_DIR -runs=1000``), as OSS-Fuzz does.
"""

import sys

import atheris

from tlsdiff.coverage_scope import INSTRUMENTED, NOT_INSTRUMENTED

with atheris.instrument_imports(include=INSTRUMENTED, exclude=NOT_INSTRUMENTED):
    from tlsdiff.fuzzing import run_target

if __name__ == "__main__":
    run_target("server_diff", sys.argv)
