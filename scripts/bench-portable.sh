#!/usr/bin/env bash
# The portable build (scripts/build.sh: x86-64-v2 with its v3 and v4 variants beside it) against
# a native build (-target-cpu native, in .build-native), the same job alternately
# (Benchmarks/PortableBenchmark).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
(unset MFSWEEP_TARGET_CPU; scripts/build.sh --product mfsweep >/dev/null)
MFSWEEP_TARGET_CPU=native swift build -c release --product mfsweep --scratch-path .build-native >/dev/null
swift build -c release --product PortableBenchmark >/dev/null
.build/release/PortableBenchmark --portable .build/release/mfsweep --native .build-native/release/mfsweep "$@"
