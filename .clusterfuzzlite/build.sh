#!/bin/bash -eu
# ClusterFuzzLite build: the steps live in the project, shared with oss-fuzz/build.sh.
exec "$SRC/tlsdiff/ci/oss_fuzz_build.sh"
