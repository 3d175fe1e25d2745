#!/usr/bin/env python3
"""Conversation differential: after the handshake, application data, KeyUpdate, alerts, close and fragmentation.

Run it through ``tlsdiff fuzz conversation_diff`` (progress, findings by signature), or bare with
libFuzzer's flags (``fuzz_targets/conversation_diff.py CORPUS_DIR -runs=1000``), as OSS-Fuzz does.
"""

import sys

import atheris

from tlsdiff.coverage_scope import INSTRUMENTED, NOT_INSTRUMENTED

with atheris.instrument_imports(include=INSTRUMENTED, exclude=NOT_INSTRUMENTED):
    from tlsdiff.fuzzing import run_target

if __name__ == "__main__":
    run_target("conversation_diff", sys.argv)
