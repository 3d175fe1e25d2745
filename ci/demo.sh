#!/usr/bin/env bash
# The main job: set up, then a live, readable run of the harness (tlsdiff demo).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
exec .venv/bin/tlsdiff demo "$@"
