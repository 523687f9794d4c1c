#!/usr/bin/env bash
# Installs what is missing, builds (release) and runs every test: the Swift test suites (which
# launch real mpirun processes and read real HDF5 files) and the end-to-end test on a private
# single-node Slurm.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
. scripts/env.sh
swift build -c release --build-tests
swift test -c release --skip-build
scripts/slurm-test.sh
