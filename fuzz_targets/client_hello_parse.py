#!/usr/bin/env python3
"""ClientHello parse differential: the engine's s2n-mode parser against s2n_client_hello_parse_message.

Run it through ``tlsdiff fuzz client_hello_parse`` (progress, findings by signature), or bare with
libFuzzer's flags (``fuzz_targets/client_hello_parse.py CORPUS_DIR -runs=1000``), as OSS-Fuzz does.
"""

import sys

import atheris

from tlsdiff.coverage_scope import INSTRUMENTED, NOT_INSTRUMENTED

with atheris.instrument_imports(include=INSTRUMENTED, exclude=NOT_INSTRUMENTED):
    from tlsdiff.fuzzing import run_target

if __name__ == "__main__":
    run_target("client_hello_parse", sys.argv)
