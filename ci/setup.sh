#!/usr/bin/env bash
# Set up a fresh machine: Debian packages, a virtualenv with the project, and the s2n-tls build.
# Idempotent: on a machine that already has everything it only checks and returns.
# Profile: TLSDIFF_S2N_PROFILE=openssl (default) or aws-lc.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake libssl-dev openssl valgrind tshark gnutls-bin chromium clang libclang-rt-14-dev)
missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "[setup] apt-get install ${missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python=""
for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
        python=$(command -v "$candidate")
        break
    fi
done
if [ -z "$python" ]; then
    echo "[setup] Python 3.11 is required (python3.11 or python3 must be 3.11)" >&2
    exit 2
fi

if [ ! -x .venv/bin/python ]; then
    echo "[setup] creating .venv with $python"
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c 'import cryptography, cffi, atheris, pytest, xdist, hypothesis, tlslite' \
    || { echo "[setup] dependencies did not install" >&2; exit 2; }

.venv/bin/tlsdiff build ${TLSDIFF_S2N_PROFILE:+--profile "$TLSDIFF_S2N_PROFILE"}
