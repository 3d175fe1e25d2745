"""Build C s2n-tls from its pinned source and compile the cffi extension over it.

Steps, each skipped when its result is already in the cache and its inputs are unchanged:

1. download the PyPI sdist ``awscrt==0.38.0`` with pip and check its sha256;
2. build ``crt/s2n`` with cmake, against Debian's OpenSSL 3.0 libcrypto (profile
   ``openssl``, the default) or against aws-lc from the same sdist (profile ``aws-lc``);
3. compile the cffi API-mode extension (s2n declarations + ``_csrc/tlsdiff_bridge.c``).

Everything lands under the cache directory (``$TLSDIFF_CACHE``, default
``~/.cache/tlsdiff``); nothing from the sdist enters the source tree. Run it with
``tlsdiff build [--profile aws-lc]`` or ``python -m s2n_bridge.build``.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from s2n_bridge._cdefs import CDEFS
from s2n_bridge._profile import PROFILES, SDIST_SHA256, SDIST_VERSION, Profile, cache_root, selected_profile

__all__ = ["BuildError", "BuildResult", "build", "main"]

_SDIST_NAME = f"awscrt-{SDIST_VERSION}.tar.gz"
_CSRC = Path(__file__).with_name("_csrc") / "tlsdiff_bridge.c"
_S2N_FLAGS = ("-DBUILD_SHARED_LIBS=ON", "-DBUILD_TESTING=OFF", "-DCMAKE_BUILD_TYPE=RelWithDebInfo")
_AWSLC_FLAGS = (
    "-DBUILD_TESTING=OFF",
    "-DBUILD_TOOL=OFF",
    "-DBUILD_LIBSSL=OFF",
    "-DDISABLE_GO=ON",
    "-DDISABLE_PERL=ON",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DCMAKE_POSITION_INDEPENDENT_CODE=ON",
    "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
)


class BuildError(RuntimeError):
    """A build step failed; the message names the step and the log to read."""


@dataclass(frozen=True)
class BuildResult:
    """Where a profile's build put things, and how long each step took (0 when cached)."""

    profile: str
    s2n_prefix: Path
    extension_dir: Path
    seconds: dict[str, float]


def _log(message: str) -> None:
    print(f"[s2n build] {message}", file=sys.stderr, flush=True)


def _run(command: list[str], log_path: Path, cwd: Path | None = None) -> None:
    """Run a build command, its output to ``log_path``; raise BuildError naming the log on failure."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        log_file.write(("\n$ " + " ".join(command) + "\n").encode())
        log_file.flush()
        completed = subprocess.run(command, cwd=cwd, stdout=log_file, stderr=subprocess.STDOUT, check=False)
    if completed.returncode != 0:
        raise BuildError(f"{command[0]} failed (exit {completed.returncode}); see {log_path}")


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Serialise builds of one cache directory across processes (pytest-xdist workers, CI steps)."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch_sdist(root: Path) -> Path:
    """Download the pinned sdist with pip (once) and verify its sha256 every time."""
    sdist = root / "sdist" / _SDIST_NAME
    if not sdist.exists():
        _log(f"downloading {_SDIST_NAME} with pip")
        sdist.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=sdist.parent) as download_dir:
            command = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps"]
            command += ["-q", "-d", download_dir, f"awscrt=={SDIST_VERSION}"]
            _run(command, root / "sdist" / "download.log")
            shutil.move(str(Path(download_dir) / _SDIST_NAME), sdist)
    actual = _sha256_of(sdist)
    if actual != SDIST_SHA256:
        sdist.unlink()
        raise BuildError(f"{_SDIST_NAME} has sha256 {actual}, expected {SDIST_SHA256}; removed it")
    return sdist


def _unpack(sdist: Path, root: Path) -> Path:
    """Unpack the sdist next to it (once) and return its ``crt`` folder."""
    source = root / "src"
    crt = source / f"awscrt-{SDIST_VERSION}" / "crt"
    marker = source / ".unpacked"
    if not marker.exists():
        _log("unpacking the sdist")
        shutil.rmtree(source, ignore_errors=True)
        source.mkdir(parents=True)
        with tarfile.open(sdist) as archive:
            archive.extractall(source, filter="data")
        marker.write_text(SDIST_SHA256)
    return crt


def _stamp_matches(stamp: Path, inputs: dict[str, str]) -> bool:
    return stamp.exists() and json.loads(stamp.read_text()) == inputs


def _cmake_build(source: Path, build_dir: Path, prefix: Path, flags: list[str], log_path: Path) -> None:
    shutil.rmtree(build_dir, ignore_errors=True)
    shutil.rmtree(prefix, ignore_errors=True)
    configure = ["cmake", "-S", str(source), "-B", str(build_dir), f"-DCMAKE_INSTALL_PREFIX={prefix}", *flags]
    _run(configure, log_path)
    _run(["cmake", "--build", str(build_dir), "-j", str(os.cpu_count() or 2)], log_path)
    _run(["cmake", "--install", str(build_dir)], log_path)


def _build_awslc(crt: Path, profile_dir: Path) -> Path:
    prefix = profile_dir / "aws-lc"
    stamp = prefix / ".stamp.json"
    inputs = {"sdist": SDIST_SHA256, "flags": " ".join(_AWSLC_FLAGS)}
    if not _stamp_matches(stamp, inputs):
        _log("building aws-lc (about 5 minutes on 2 cores)")
        _cmake_build(
            crt / "aws-lc",
            profile_dir / "aws-lc-build",
            prefix,
            list(_AWSLC_FLAGS),
            profile_dir / "aws-lc.log",
        )
        stamp.write_text(json.dumps(inputs))
    return prefix


def _build_s2n(crt: Path, profile: Profile, profile_dir: Path) -> Path:
    flags = list(_S2N_FLAGS)
    if profile.name == "aws-lc":
        flags.append(f"-DCMAKE_PREFIX_PATH={_build_awslc(crt, profile_dir)}")
    prefix = profile_dir / "s2n"
    stamp = prefix / ".stamp.json"
    inputs = {"sdist": SDIST_SHA256, "flags": " ".join(flags)}
    if not _stamp_matches(stamp, inputs):
        _log(f"building s2n-tls ({profile.name} profile)")
        _cmake_build(crt / "s2n", profile_dir / "s2n-build", prefix, flags, profile_dir / "s2n.log")
        stamp.write_text(json.dumps(inputs))
    return prefix


def _extension_inputs(profile: Profile, s2n_prefix: Path) -> dict[str, str]:
    source_digest = hashlib.sha256(CDEFS.encode() + _CSRC.read_bytes()).hexdigest()
    return {"sdist": SDIST_SHA256, "profile": profile.name, "source": source_digest, "s2n": str(s2n_prefix)}


def _compile_extension(profile: Profile, s2n_prefix: Path, profile_dir: Path) -> Path:
    import cffi  # noqa: PLC0415  (only the build needs the compiler side of cffi)

    out_dir = profile_dir / "ext"
    stamp = out_dir / ".stamp.json"
    inputs = _extension_inputs(profile, s2n_prefix)
    if _stamp_matches(stamp, inputs):
        return out_dir
    _log(f"compiling the cffi extension {profile.module}")
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    libdir = _libdir(s2n_prefix)
    ffi = cffi.FFI()
    ffi.cdef(CDEFS)
    defines = [("TLSDIFF_PROFILE_AWSLC", "1")] if profile.name == "aws-lc" else []
    libraries = ["s2n"] if profile.name == "aws-lc" else ["s2n", "crypto"]
    ffi.set_source(
        f"s2n_bridge.{profile.module}",
        '#include <s2n.h>\n#include "tlsdiff_bridge.c"\n',
        include_dirs=[str(s2n_prefix / "include"), str(_CSRC.parent)],
        library_dirs=[str(libdir)],
        runtime_library_dirs=[str(libdir)],
        libraries=libraries,
        define_macros=defines,
        extra_compile_args=["-O2", "-Wall", "-Wno-unused-function", "-Werror=implicit-function-declaration"],
    )
    with tempfile.TemporaryDirectory(dir=profile_dir) as tmp:
        built = Path(ffi.compile(tmpdir=tmp, verbose=False))
        shutil.copy2(built, out_dir / built.name)
    stamp.write_text(json.dumps(inputs))
    return out_dir


def _libdir(prefix: Path) -> Path:
    for name in ("lib", "lib64"):
        if (prefix / name / "libs2n.so").exists():
            return prefix / name
    raise BuildError(f"no libs2n.so under {prefix}")


def build(profile_name: str | None = None) -> BuildResult:
    """Build (or find cached) s2n-tls and the extension for a profile; return where they are."""
    profile = PROFILES[profile_name] if profile_name else selected_profile()
    root = cache_root()
    profile_dir = root / profile.name
    seconds: dict[str, float] = {}
    with _locked(root):
        started = time.monotonic()
        crt = _unpack(_fetch_sdist(root), root)
        seconds["sdist"] = time.monotonic() - started
        started = time.monotonic()
        s2n_prefix = _build_s2n(crt, profile, profile_dir)
        seconds["s2n"] = time.monotonic() - started
        started = time.monotonic()
        extension_dir = _compile_extension(profile, s2n_prefix, profile_dir)
        seconds["extension"] = time.monotonic() - started
    return BuildResult(profile.name, s2n_prefix, extension_dir, seconds)


def main(argv: list[str] | None = None) -> int:
    """Command line: build one profile and print where it went."""
    parser = argparse.ArgumentParser(prog="python -m s2n_bridge.build", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default=None)
    args = parser.parse_args(argv)
    try:
        result = build(args.profile)
    except BuildError as error:
        print(f"tlsdiff build: {error}", file=sys.stderr)
        return 1
    timings = ", ".join(f"{step} {value:.1f}s" for step, value in result.seconds.items())
    print(f"s2n-tls ({result.profile}) ready in {result.s2n_prefix} [{timings}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
