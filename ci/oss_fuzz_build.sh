#!/bin/bash -eu
# The OSS-Fuzz and ClusterFuzzLite build of the fuzz targets: oss-fuzz/build.sh and
# .clusterfuzzlite/build.sh both run this, in the base-builder-python image, which sets
# $SRC, $OUT, $WORK, $SANITIZER, $CC and $CFLAGS and provides compile_python_fuzzer.
# tests/test_packaging.py runs it outside the image, with a stand-in compile_python_fuzzer.
# The per-target steps are ci/package_fuzzers.py's; docs/fuzzing.md says what comes out.
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
log() { echo "[oss_fuzz_build] $*" >&2; }

# 1. The project and its dependencies, editable as ci/setup.sh installs it: the commands
#    find corpus/ and fuzz_targets/ beside the package. TLSDIFF_PIP_INSTALL=0 (the test)
#    packages the tlsdiff already installed in the environment instead.
if [ "${TLSDIFF_PIP_INSTALL:-1}" = 1 ]; then
    log "pip3 install -e $root"
    pip3 install -e "$root"
else
    log "pip install skipped (TLSDIFF_PIP_INSTALL=0): packaging the tlsdiff installed for $(command -v python3)"
fi

# 2. s2n-tls and the cffi extension. The packaged targets load the default build
#    (ci/pyi_rth_tlsdiff.py), so the profile variables are cleared.
unset TLSDIFF_S2N_PROFILE TLSDIFF_S2N_COVERAGE
case "${SANITIZER:-address}" in
    address | undefined)
        # Built with the sanitizer's $CC and $CFLAGS (-fsanitize=...,fuzzer-no-link): a memory
        # error in s2n is a crash, and libFuzzer counts s2n's C edges beside the engine's
        # Python ones (the wrapper preloads sanitizer_with_fuzzer.so, which has the runtimes).
        log "tlsdiff build with CC=${CC:-cc} CFLAGS=${CFLAGS:-}"
        ;;
    *)
        # coverage and introspector builds report Python only; their flags would need their
        # own runtimes linked into libs2n.
        log "tlsdiff build without the $SANITIZER flags"
        unset CFLAGS CXXFLAGS
        ;;
esac
tlsdiff build

# 3. One PyInstaller package and wrapper per target, the way every Python project does it.
#    From $WORK: PyInstaller writes its .spec files into the working directory.
pyinstaller_args=$(python3 ci/package_fuzzers.py pyinstaller-args)
mapfile -t pyinstaller_args <<<"$pyinstaller_args"
targets=$(python3 ci/package_fuzzers.py targets)
for target in $targets; do
    log "compile_python_fuzzer $target"
    (cd "$WORK" && compile_python_fuzzer "$root/fuzz_targets/$target.py" "${pyinstaller_args[@]}")
done

# 4. Dictionaries, options files and seed corpora (an introspector build packages no targets).
if [ "${SANITIZER:-address}" = introspector ]; then
    log "introspector build: no seed corpora"
    exit 0
fi
python3 ci/package_fuzzers.py extras --out "$OUT" --work "$WORK/package_fuzzers"
log "done: $(echo $targets | wc -w) targets in $OUT"
