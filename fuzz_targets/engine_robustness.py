#!/usr/bin/env python3
"""Engine robustness: the engine alone in both compat modes; any exception but TLSError is a crash.

Run it through ``tlsdiff fuzz engine_robustness`` (progress, findings by signature), or bare with
libFuzzer's flags (``fuzz_targets/engine_robustness.py CORPUS_DIR -runs=1000``), as OSS-Fuzz does.
"""

import sys

import atheris

from tlsdiff.coverage_scope import INSTRUMENTED, NOT_INSTRUMENTED

with atheris.instrument_imports(include=INSTRUMENTED, exclude=NOT_INSTRUMENTED):
    from tlsdiff.fuzzing import run_target

if __name__ == "__main__":
    run_target("engine_robustness", sys.argv)
