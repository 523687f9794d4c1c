#!/usr/bin/env bash
# Installs what is missing, builds (release) and runs every test: the Swift test suites (which
# launch real mpirun processes and read real HDF5 files) and the end-to-end test on a private
# single-node Slurm.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
. scripts/env.sh
# The tree is formatted by its .swift-format (swift-format ships with the toolchain).
swift format lint --strict -r Sources Tests Benchmarks Package.swift \
  || { echo "the tree is not formatted: run swift format -i -r Sources Tests Benchmarks Package.swift" >&2; exit 1; }
scripts/build.sh --build-tests
swift test -c release --skip-build
scripts/slurm-test.sh
