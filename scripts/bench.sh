#!/usr/bin/env bash
# Runs the benchmarks (release build) against their baselines, each in one invocation.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/bench-venv.sh
. scripts/env.sh
swift build -c release --product StepBenchmark
.build/release/StepBenchmark "$@"
