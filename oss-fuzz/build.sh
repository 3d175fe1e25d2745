#!/bin/bash -eu
# OSS-Fuzz build (projects/tlsdiff/build.sh): the steps live in the project, shared with
# .clusterfuzzlite/build.sh.
exec "$SRC/tlsdiff/ci/oss_fuzz_build.sh"
