"""The pin of the s2n-tls source and the two build profiles.

The profile is chosen with ``TLSDIFF_S2N_PROFILE`` (``openssl``, the default, or
``aws-lc``); builds live under ``TLSDIFF_CACHE`` (default ``~/.cache/tlsdiff``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PROFILES", "SDIST_SHA256", "SDIST_VERSION", "Profile", "cache_root", "selected_profile"]

SDIST_VERSION = "0.38.0"
SDIST_SHA256 = "4a8423c4a76390c6e5c4f386e3e367dccdcf67d6d1a0bc1c59776bb14cdc2ad9"


@dataclass(frozen=True)
class Profile:
    """A way to build s2n-tls: which libcrypto, and the extension module name it gets."""

    name: str
    module: str
    libcrypto: str


PROFILES = {
    "openssl": Profile("openssl", "_s2n_openssl", "OpenSSL 3.0 (Debian libssl-dev)"),
    "aws-lc": Profile("aws-lc", "_s2n_awslc", "aws-lc (from the pinned sdist)"),
}


def selected_profile() -> Profile:
    """The profile named by ``TLSDIFF_S2N_PROFILE``; a clear error for an unknown name."""
    name = os.environ.get("TLSDIFF_S2N_PROFILE", "openssl")
    if name not in PROFILES:
        known = ", ".join(sorted(PROFILES))
        raise ValueError(f"TLSDIFF_S2N_PROFILE={name!r} is not a profile (known: {known})")
    return PROFILES[name]


def cache_root() -> Path:
    """Where sdists, builds and extensions are kept, outside git."""
    configured = os.environ.get("TLSDIFF_CACHE")
    base = Path(configured) if configured else Path.home() / ".cache" / "tlsdiff"
    return base / f"awscrt-{SDIST_VERSION}"
