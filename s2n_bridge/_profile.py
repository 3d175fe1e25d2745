"""The pin of the s2n-tls source, the two build profiles, and their coverage variant.

The profile is chosen with ``TLSDIFF_S2N_PROFILE`` (``openssl``, the default, or
``aws-lc``); ``TLSDIFF_S2N_COVERAGE=1`` selects the profile's coverage build (clang,
``-fsanitize=fuzzer-no-link,address``: ``tlsdiff build --coverage``, run by ``tlsdiff fuzz
--coverage``). Builds live under ``TLSDIFF_CACHE`` (default ``~/.cache/tlsdiff``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

__all__ = [
    "COVERAGE_ENV",
    "COVERAGE_PROFILES",
    "PROFILES",
    "SDIST_SHA256",
    "SDIST_VERSION",
    "Profile",
    "cache_root",
    "profile_dir",
    "selected_profile",
]

SDIST_VERSION = "0.38.0"
SDIST_SHA256 = "4a8423c4a76390c6e5c4f386e3e367dccdcf67d6d1a0bc1c59776bb14cdc2ad9"
COVERAGE_ENV = "TLSDIFF_S2N_COVERAGE"
# aws-lc is linked into libs2n statically and would need its own sanitized build; the
# coverage build is for s2n's own edges, which the OpenSSL profile shows as well.
COVERAGE_PROFILES = ("openssl",)


@dataclass(frozen=True)
class Profile:
    """A way to build s2n-tls: which libcrypto, the extension module name, and whether it is the coverage build.

    ``name`` names the libcrypto only (the engine's draws and policies key on it), so a
    coverage build behaves as its plain profile; ``directory`` keeps the two builds apart.
    """

    name: str
    module: str
    libcrypto: str
    coverage: bool = False

    @property
    def directory(self) -> str:
        """The cache folder of this build (``openssl``, ``openssl-coverage``, ...)."""
        return f"{self.name}-coverage" if self.coverage else self.name

    @property
    def build_command(self) -> str:
        """The command that builds it."""
        return f"tlsdiff build --profile {self.name}" + (" --coverage" if self.coverage else "")

    def with_coverage(self, coverage: bool) -> Profile:
        """This profile's plain or coverage build; ValueError for a profile without a coverage build."""
        if coverage and self.name not in COVERAGE_PROFILES:
            raise ValueError(f"profile {self.name!r} has no coverage build (only: {', '.join(COVERAGE_PROFILES)})")
        return replace(self, coverage=coverage)


PROFILES = {
    "openssl": Profile("openssl", "_s2n_openssl", "OpenSSL 3.0 (Debian libssl-dev)"),
    "aws-lc": Profile("aws-lc", "_s2n_awslc", "aws-lc (from the pinned sdist)"),
}


def _coverage_selected() -> bool:
    value = os.environ.get(COVERAGE_ENV, "")
    if value not in ("", "0", "1"):
        raise ValueError(f"{COVERAGE_ENV}={value!r}: use 1 (the coverage build) or 0")
    return value == "1"


def selected_profile() -> Profile:
    """The profile named by ``TLSDIFF_S2N_PROFILE`` and ``TLSDIFF_S2N_COVERAGE``; a clear error for a bad name."""
    name = os.environ.get("TLSDIFF_S2N_PROFILE", "openssl")
    if name not in PROFILES:
        known = ", ".join(sorted(PROFILES))
        raise ValueError(f"TLSDIFF_S2N_PROFILE={name!r} is not a profile (known: {known})")
    return PROFILES[name].with_coverage(_coverage_selected())


def cache_root() -> Path:
    """Where sdists, builds and extensions are kept, outside git."""
    configured = os.environ.get("TLSDIFF_CACHE")
    base = Path(configured) if configured else Path.home() / ".cache" / "tlsdiff"
    return base / f"awscrt-{SDIST_VERSION}"


def profile_dir(profile: Profile) -> Path:
    """The cache folder of one build: its libs2n, extension and (coverage build) atheris."""
    return cache_root() / profile.directory
