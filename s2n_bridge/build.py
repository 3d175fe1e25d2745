"""Build C s2n-tls from its pinned source and compile the cffi extension over it.

Steps, each skipped when its result is already in the cache and its inputs are unchanged:

1. download the PyPI sdist ``awscrt==0.38.0`` with pip and check its sha256;
2. build ``crt/s2n`` with cmake, against Debian's OpenSSL 3.0 libcrypto (profile
   ``openssl``, the default) or against aws-lc from the same sdist (profile ``aws-lc``);
3. compile the cffi API-mode extension (s2n declarations + ``_csrc/tlsdiff_bridge.c``).

The coverage build (``--coverage``, profile ``openssl`` only) compiles steps 2 and 3 with
clang and ``-fsanitize=fuzzer-no-link,address``, in its own folder (``openssl-coverage``),
and adds a step:

4. build atheris from source (the venv's version) with the same clang, into that folder,
   so that its ``asan_with_fuzzer.so`` matches the instrumented code (``s2n_bridge.coverage``);
5. compile ``_csrc/custom_mutator_shim.c``, which keeps atheris's custom mutator live under
   that preload.

Everything lands under the cache directory (``$TLSDIFF_CACHE``, default
``~/.cache/tlsdiff``); nothing from the sdist enters the source tree. Run it with
``tlsdiff build [--profile aws-lc] [--coverage]`` or ``python -m s2n_bridge.build``.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from s2n_bridge._cdefs import CDEFS
from s2n_bridge._profile import (
    PROFILES,
    SDIST_SHA256,
    SDIST_VERSION,
    Profile,
    cache_root,
    profile_dir,
    selected_profile,
)
from s2n_bridge.coverage import atheris_dir, preload_path, shim_path

__all__ = ["BuildError", "BuildResult", "build", "main"]

_SDIST_NAME = f"awscrt-{SDIST_VERSION}.tar.gz"
_CSRC = Path(__file__).with_name("_csrc") / "tlsdiff_bridge.c"
_SHIM_SOURCE = _CSRC.with_name("custom_mutator_shim.c")
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
_SANITIZE = "-fsanitize=fuzzer-no-link,address"
# s2n's own ASAN switch adds -fsanitize=address with frame pointers for readable reports; the
# runtime is not linked into the shared objects: the preload provides it.
_S2N_COVERAGE_FLAGS = ("-DASAN=ON", "-DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link")


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


def _run(command: list[str], log_path: Path, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> None:
    """Run a build command, its output to ``log_path``; raise BuildError naming the log on failure."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        log_file.write(("\n$ " + " ".join(command) + "\n").encode())
        log_file.flush()
        completed = subprocess.run(command, cwd=cwd, stdout=log_file, stderr=subprocess.STDOUT, check=False,
                                   env=None if env is None else dict(env))  # fmt: skip
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


def _build_awslc(crt: Path, folder: Path) -> Path:
    prefix = folder / "aws-lc"
    stamp = prefix / ".stamp.json"
    inputs = {"sdist": SDIST_SHA256, "flags": " ".join(_AWSLC_FLAGS)}
    if not _stamp_matches(stamp, inputs):
        _log("building aws-lc (about 5 minutes on 2 cores)")
        _cmake_build(
            crt / "aws-lc",
            folder / "aws-lc-build",
            prefix,
            list(_AWSLC_FLAGS),
            folder / "aws-lc.log",
        )
        stamp.write_text(json.dumps(inputs))
    return prefix


def _clang() -> tuple[str, str]:
    """The coverage build's C and C++ compilers: Debian's clang (ci/setup.sh installs it)."""
    compilers = (shutil.which("clang"), shutil.which("clang++"))
    if compilers[0] is None or compilers[1] is None:
        raise BuildError("the coverage build needs clang and clang++ (apt-get install clang libclang-rt-14-dev)")
    return compilers[0], compilers[1]


def _clang_env() -> dict[str, str]:
    """The variables setuptools (cffi's and atheris's builds) takes its compilers from."""
    clang, clangxx = _clang()
    return {"CC": clang, "CXX": clangxx, "LDSHARED": f"{clang} -shared"}


def _build_s2n(crt: Path, profile: Profile, folder: Path) -> Path:
    flags = list(_S2N_FLAGS)
    if profile.name == "aws-lc":
        flags.append(f"-DCMAKE_PREFIX_PATH={_build_awslc(crt, folder)}")
    if profile.coverage:
        flags += [f"-DCMAKE_C_COMPILER={_clang()[0]}", *_S2N_COVERAGE_FLAGS]
    prefix = folder / "s2n"
    stamp = prefix / ".stamp.json"
    inputs = {"sdist": SDIST_SHA256, "flags": " ".join(flags)}
    if not _stamp_matches(stamp, inputs):
        _log(f"building s2n-tls ({profile.directory} build)")
        _cmake_build(crt / "s2n", folder / "s2n-build", prefix, flags, folder / "s2n.log")
        stamp.write_text(json.dumps(inputs))
    return prefix


def _extension_inputs(profile: Profile, s2n_prefix: Path) -> dict[str, str]:
    source_digest = hashlib.sha256(CDEFS.encode() + _CSRC.read_bytes()).hexdigest()
    inputs = {"sdist": SDIST_SHA256, "profile": profile.name, "source": source_digest, "s2n": str(s2n_prefix)}
    return inputs | ({"sanitize": _SANITIZE, "cc": _clang()[0]} if profile.coverage else {})


@contextmanager
def _compiler_env(profile: Profile) -> Iterator[None]:
    """For a coverage build, point setuptools (which cffi compiles with) at clang for the duration."""
    if not profile.coverage:
        yield
        return
    compilers = _clang_env()
    saved = {name: os.environ.get(name) for name in compilers}
    os.environ.update(compilers)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _compile_extension(profile: Profile, s2n_prefix: Path, folder: Path) -> Path:
    import cffi  # noqa: PLC0415  (only the build needs the compiler side of cffi)

    out_dir = folder / "ext"
    stamp = out_dir / ".stamp.json"
    inputs = _extension_inputs(profile, s2n_prefix)
    if _stamp_matches(stamp, inputs):
        return out_dir
    _log(f"compiling the cffi extension {profile.module} ({profile.directory} build)")
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
        extra_compile_args=["-O2", "-Wall", "-Wno-unused-function", "-Werror=implicit-function-declaration"]
        + ([_SANITIZE] if profile.coverage else []),
        extra_link_args=["-fsanitize=address"] if profile.coverage else [],
    )
    with tempfile.TemporaryDirectory(dir=folder) as tmp, _compiler_env(profile):
        built = Path(ffi.compile(tmpdir=tmp, verbose=False))
        shutil.copy2(built, out_dir / built.name)
    stamp.write_text(json.dumps(inputs))
    return out_dir


def _libdir(prefix: Path) -> Path:
    for name in ("lib", "lib64"):
        if (prefix / name / "libs2n.so").exists():
            return prefix / name
    raise BuildError(f"no libs2n.so under {prefix}")


def _build_atheris(profile: Profile) -> Path:
    """pip-build the venv's atheris from source with clang into the coverage build's folder; its preload's path."""
    target = atheris_dir(profile)
    version = importlib.metadata.version("atheris")
    clang = _clang()[0]
    stamp = target / ".stamp.json"
    inputs = {"atheris": version, "cc": clang}
    if _stamp_matches(stamp, inputs):
        return preload_path(profile)
    _log(f"building atheris {version} from source with {clang}")
    log_path = profile_dir(profile) / "atheris.log"
    staging = target.with_name("atheris-staging")
    shutil.rmtree(staging, ignore_errors=True)
    command = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-deps", "--no-cache-dir"]
    command += ["--no-binary", "atheris", "--target", str(staging), f"atheris=={version}"]
    # atheris's setup.py finds libFuzzer (and ASan, to merge them) through CLANG_BIN.
    _run(command, log_path, env=dict(os.environ, CLANG_BIN=clang, **_clang_env()))
    if not (staging / preload_path(profile).name).is_file():
        raise BuildError(f"atheris built without {preload_path(profile).name}; see {log_path}")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    stamp.write_text(json.dumps(inputs))
    return preload_path(profile)


def _build_shim(profile: Profile) -> Path:
    """Compile the custom mutator shim (no sanitizer flags: its edges are no part of what is fuzzed)."""
    out = shim_path(profile)
    stamp = out.with_name(out.name + ".stamp.json")
    inputs = {"source": _sha256_of(_SHIM_SOURCE), "cc": _clang()[0]}
    if not (out.is_file() and _stamp_matches(stamp, inputs)):
        _log(f"compiling {_SHIM_SOURCE.name}")
        command = [_clang()[0], "-O2", "-Wall", "-Werror", "-fPIC", "-shared", "-o", str(out), str(_SHIM_SOURCE)]
        _run([*command, "-ldl"], profile_dir(profile) / "shim.log")
        stamp.write_text(json.dumps(inputs))
    return out


def _timed(seconds: dict[str, float], step: str, started: float) -> float:
    now = time.monotonic()
    seconds[step] = now - started
    return now


def build(profile_name: str | None = None, *, coverage: bool | None = None) -> BuildResult:
    """Build (or find cached) s2n-tls and the extension for a profile; return where they are.

    ``coverage`` None keeps the environment's choice (``TLSDIFF_S2N_COVERAGE``).
    """
    profile = PROFILES[profile_name] if profile_name else selected_profile()
    profile = profile if coverage is None else profile.with_coverage(coverage)
    root = cache_root()
    seconds: dict[str, float] = {}
    with _locked(root):
        started = time.monotonic()
        crt = _unpack(_fetch_sdist(root), root)
        started = _timed(seconds, "sdist", started)
        s2n_prefix = _build_s2n(crt, profile, profile_dir(profile))
        started = _timed(seconds, "s2n", started)
        extension_dir = _compile_extension(profile, s2n_prefix, profile_dir(profile))
        started = _timed(seconds, "extension", started)
        if profile.coverage:
            _build_atheris(profile)
            _build_shim(profile)
            _timed(seconds, "atheris", started)
    return BuildResult(profile.directory, s2n_prefix, extension_dir, seconds)


def main(argv: list[str] | None = None) -> int:
    """Command line: build one profile and print where it went."""
    parser = argparse.ArgumentParser(prog="python -m s2n_bridge.build", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default=None)
    parser.add_argument("--coverage", action="store_true", help="the clang/ASan/libFuzzer build (openssl only)")
    args = parser.parse_args(argv)
    try:
        result = build(args.profile, coverage=True if args.coverage else None)
    except (BuildError, ValueError) as error:
        print(f"tlsdiff build: {error}", file=sys.stderr)
        return 1
    timings = ", ".join(f"{step} {value:.1f}s" for step, value in result.seconds.items())
    print(f"s2n-tls ({result.profile}) ready in {result.s2n_prefix} [{timings}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
