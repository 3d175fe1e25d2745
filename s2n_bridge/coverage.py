"""The environment a process needs to run on the coverage build (``tlsdiff fuzz --coverage``).

The coverage build (``tlsdiff build --coverage``) compiles libs2n and the cffi extension
with clang and ``-fsanitize=fuzzer-no-link,address``, and builds atheris from source with
the same clang, next to them. Its instrumented code calls into the ASan runtime and
libFuzzer's coverage hooks, which must be in the process before Python loads anything:
atheris's ``asan_with_fuzzer.so`` (ASan with libFuzzer linked in) is ``LD_PRELOAD``-ed,
and the atheris built beside it, not the venv's wheel, comes first on ``PYTHONPATH``.

Under that preload libFuzzer never sees atheris's ``LLVMFuzzerCustomMutator`` (its weak
reference is bound before Python runs), so the structure-aware mutators would be ignored;
a small shim preloaded after it (``_csrc/custom_mutator_shim.c``) defines the symbol and
forwards to atheris's at call time. docs/fuzzing.md, "s2n's own coverage", says more.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from s2n_bridge._native import BridgeNotBuiltError
from s2n_bridge._profile import COVERAGE_ENV, Profile, profile_dir

__all__ = [
    "ASAN_OPTIONS",
    "LIBFUZZER_FLAGS",
    "PRELOAD_NAME",
    "SHIM_NAME",
    "atheris_dir",
    "coverage_env",
    "preload_path",
    "shim_path",
]

PRELOAD_NAME = "asan_with_fuzzer.so"
SHIM_NAME = "custom_mutator_shim.so"
# libFuzzer re-runs every input that mallocs more than it frees to look for leaks, which in
# CPython is nearly every input; with LSan off (ASAN_OPTIONS) that re-run only costs time.
LIBFUZZER_FLAGS = ("-detect_leaks=0",)
# CPython never frees some of what it allocates (detect_leaks=0); a huge allocation a fuzzed
# length asks for must be Python's MemoryError, not an ASan abort (allocator_may_return_null=1).
# ASan's own signal handlers stay: libFuzzer keeps the input through ASan's death callback.
ASAN_OPTIONS = "detect_leaks=0:allocator_may_return_null=1"


def atheris_dir(profile: Profile) -> Path:
    """Where ``pip install --target`` put the atheris built with the coverage build's clang."""
    return profile_dir(profile) / "atheris"


def preload_path(profile: Profile) -> Path:
    """``atheris.path()/asan_with_fuzzer.so`` of that atheris."""
    return atheris_dir(profile) / PRELOAD_NAME


def shim_path(profile: Profile) -> Path:
    """The compiled ``_csrc/custom_mutator_shim.c`` of the coverage build."""
    return profile_dir(profile) / SHIM_NAME


def coverage_env(base: Mapping[str, str], profile: Profile) -> dict[str, str]:
    """``base`` plus what a child process needs to run on ``profile``'s coverage build.

    Raises BridgeNotBuiltError, naming the build command, when the build is missing.
    """
    covered = profile.with_coverage(True)
    preloads = (preload_path(covered), shim_path(covered))
    for path in preloads:
        if not path.is_file():
            raise BridgeNotBuiltError(f"the coverage build is missing {path}; run: {covered.build_command}")
    env = dict(base, TLSDIFF_S2N_PROFILE=covered.name, ASAN_OPTIONS=ASAN_OPTIONS)
    env[COVERAGE_ENV] = "1"
    # Python objects through malloc: pymalloc packs small objects into its own arenas, where ASan
    # would miss s2n reading past the bytes the bridge hands it (ffi.from_buffer).
    env["PYTHONMALLOC"] = "malloc"
    # ASan first, as its runtime expects; the shim after it still binds libFuzzer's weak reference.
    env["LD_PRELOAD"] = os.pathsep.join(filter(None, (*map(str, preloads), base.get("LD_PRELOAD", ""))))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(atheris_dir(covered)), base.get("PYTHONPATH", ""))))
    return env
