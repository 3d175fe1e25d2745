"""PyInstaller runtime hook of the packaged fuzz targets (OSS-Fuzz, ClusterFuzzLite): use the s2n build inside.

``ci/package_fuzzers.py`` bundles the cffi extension under ``BUNDLED_CACHE`` laid out as
``TLSDIFF_CACHE`` is (``awscrt-VERSION/PROFILE/ext/``; PyInstaller puts ``libs2n.so.1`` and
``libcrypto.so.3`` beside it at the top of the bundle). Before the target script runs, this
hook points ``TLSDIFF_CACHE`` there, whatever the machine has: a fleet's runner has no build
of its own, and one found elsewhere might be another build than the one packaged.

It imports nothing of the project: the script must import the engine itself, under
atheris's instrumentation (``tlsdiff/coverage_scope.py``).
"""

import os
import sys
import tempfile

__all__ = ["BUNDLED_CACHE"]

BUNDLED_CACHE = "tlsdiff-cache"


def _use_bundle() -> None:
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle is None:  # imported by ci/package_fuzzers.py for the name above, not frozen
        return
    os.environ["TLSDIFF_CACHE"] = os.path.join(bundle, BUNDLED_CACHE)
    # Bare, a target saves each finding before raising it; a fleet's working directory may be
    # read-only, and there the crash input libFuzzer writes is what counts.
    os.environ.setdefault("TLSDIFF_FINDINGS", os.path.join(tempfile.gettempdir(), "tlsdiff-findings"))


_use_bundle()
