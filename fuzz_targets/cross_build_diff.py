#!/usr/bin/env python3
"""Cross-build differential: s2n on OpenSSL 3.0 and s2n on aws-lc meet one mutating peer each; every step compared.

Run it through ``tlsdiff fuzz cross_build_diff`` (progress, findings by signature), or bare with
libFuzzer's flags (``fuzz_targets/cross_build_diff.py CORPUS_DIR -runs=1000``), as OSS-Fuzz does.
"""

import sys

import atheris

from tlsdiff.coverage_scope import INSTRUMENTED, NOT_INSTRUMENTED

with atheris.instrument_imports(include=INSTRUMENTED, exclude=NOT_INSTRUMENTED):
    from tlsdiff.fuzzing import run_target

if __name__ == "__main__":
    run_target("cross_build_diff", sys.argv)
