#!/usr/bin/env bash
# The test command: set up, lint, type-check, run the tests in parallel on every s2n build
# profile (TLSDIFF_TEST_PROFILES, default "openssl aws-lc"), the interop suite against real peers,
# then the fuzz targets briefly and reproducibly
# (ci/fuzz_ci.py: regression corpus replay, fixed runs per target), then the bridge under valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
profiles=${TLSDIFF_TEST_PROFILES:-openssl aws-lc}
bash ci/setup.sh

echo "[test] ruff check"
.venv/bin/ruff check .
echo "[test] ruff format --check"
.venv/bin/ruff format --check .
echo "[test] mypy --strict"
.venv/bin/mypy

# Every build first (all cached): the cross-build tests run s2n on both builds at once, and the
# coverage build (5.5 to 7 minutes cold on 2 cores, two thirds of it atheris from source) serves
# tests/tlsdiff/test_native_coverage.py.
for profile in $profiles; do
    echo "[test] s2n-tls build, profile $profile"
    .venv/bin/tlsdiff build --profile "$profile"
done
echo "[test] s2n-tls coverage build (clang, -fsanitize=fuzzer-no-link,address, atheris from source)"
.venv/bin/tlsdiff build --profile openssl --coverage

for profile in $profiles; do
    echo "[test] pytest, profile $profile"
    marks=()
    # The engine reproduces the OpenSSL 3.0 build's draws; on aws-lc only the bridge tests run.
    [ "$profile" = openssl ] || marks=(-m "not openssl_engine")
    TLSDIFF_S2N_PROFILE=$profile .venv/bin/python -m pytest -n auto -q -p no:cacheprovider "${marks[@]}" tests
done

# Against real peers over loopback (s2n in its own process, openssl, gnutls, Python's ssl, tlslite-ng),
# and tshark dissecting a capture of the engine's traffic (docs/interop.md); about 45 s on 2 cores.
echo "[test] interop suite (openssl profile)"
TLSDIFF_S2N_PROFILE=openssl .venv/bin/python -m pytest -n auto -q -p no:cacheprovider interop

echo "[test] fuzzing: replay the regression corpus, then each target for a fixed number of executions"
TLSDIFF_S2N_PROFILE=openssl .venv/bin/python ci/fuzz_ci.py --runs "${TLSDIFF_CI_FUZZ_RUNS:-500}" --seed 1

echo "[test] valgrind memcheck of the bridge (openssl profile)"
TLSDIFF_S2N_PROFILE=openssl .venv/bin/python ci/memcheck.py
