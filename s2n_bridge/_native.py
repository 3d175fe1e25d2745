"""Load the compiled extension for the selected profile and initialise s2n-tls once.

``native()`` returns the cffi ``(ffi, lib)`` pair. On first use it loads the
extension built by ``s2n_bridge.build`` (a clear error says how to build it when
it is missing), sets ``S2N_DONT_MLOCK=1``, calls ``s2n_init`` once per process
and installs the seeded RAND hook (``docs/determinism.md``).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from functools import cache
from typing import Any

from s2n_bridge._profile import Profile, profile_dir, selected_profile

__all__ = ["BridgeNotBuiltError", "native", "profile"]

_init_lock = threading.Lock()


class BridgeNotBuiltError(ImportError):
    """The extension for the selected profile has not been built yet."""


def profile() -> Profile:
    """The profile this process uses (``TLSDIFF_S2N_PROFILE``, ``TLSDIFF_S2N_COVERAGE``)."""
    return selected_profile()


def _load_module(selected: Profile) -> Any:
    ext_dir = profile_dir(selected) / "ext"
    candidates = sorted(ext_dir.glob(f"{selected.module}.*.so")) if ext_dir.is_dir() else []
    if not candidates:
        raise BridgeNotBuiltError(
            f"s2n-tls bridge ({selected.directory} build) is not built; run: {selected.build_command}"
        )
    spec = importlib.util.spec_from_file_location(f"s2n_bridge.{selected.module}", candidates[0])
    if spec is None or spec.loader is None:
        raise BridgeNotBuiltError(f"cannot load {candidates[0]}")
    try:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except ImportError as error:
        if not selected.coverage:
            raise
        # The instrumented extension resolves ASan and libFuzzer symbols from the preload.
        raise BridgeNotBuiltError(
            f"the coverage build loads only under its preload (tlsdiff fuzz --coverage): {error}"
        ) from error
    return module


@cache
def native() -> tuple[Any, Any]:
    """The ``(ffi, lib)`` of the extension, with s2n-tls initialised and the RAND hook installed."""
    with _init_lock:
        module = _load_module(selected_profile())
        ffi, lib = module.ffi, module.lib
        os.environ["S2N_DONT_MLOCK"] = "1"
        if lib.s2n_init() != 0:
            raise RuntimeError(
                "s2n_init failed: " + ffi.string(lib.s2n_strerror_name(lib.s2n_errno_location()[0])).decode()
            )
        if lib.tlsdiff_install_rand() != 1:
            raise RuntimeError("could not install the seeded RAND method into libcrypto")
        from s2n_bridge import _callbacks  # noqa: PLC0415  (registers the extern "Python" callbacks)

        _callbacks.register(ffi)
        return ffi, lib
