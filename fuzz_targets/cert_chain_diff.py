#!/usr/bin/env python3
"""Certificate-chain differential: mutated server chains; the engine client and the s2n client accept or refuse alike.

Run it through ``tlsdiff fuzz cert_chain_diff`` (progress, findings by signature), or bare with
libFuzzer's flags (``fuzz_targets/cert_chain_diff.py CORPUS_DIR -runs=1000``), as OSS-Fuzz does.
"""

import sys

import atheris

from tlsdiff.coverage_scope import INSTRUMENTED, NOT_INSTRUMENTED

with atheris.instrument_imports(include=INSTRUMENTED, exclude=NOT_INSTRUMENTED):
    from tlsdiff.fuzzing import run_target

if __name__ == "__main__":
    run_target("cert_chain_diff", sys.argv)
