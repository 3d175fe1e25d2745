#!/usr/bin/env python3
"""Client differential: the engine client and the s2n client meet one mutating server; every answer compared.

Run it through ``tlsdiff fuzz client_diff`` (progress, findings by signature), or bare with
libFuzzer's flags (``fuzz_targets/client_diff.py CORPUS_DIR -runs=1000``), as OSS-Fuzz does.
"""

import sys

import atheris

from tlsdiff.coverage_scope import INSTRUMENTED, NOT_INSTRUMENTED

with atheris.instrument_imports(include=INSTRUMENTED, exclude=NOT_INSTRUMENTED):
    from tlsdiff.fuzzing import run_target

if __name__ == "__main__":
    run_target("client_diff", sys.argv)
