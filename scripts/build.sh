#!/usr/bin/env bash
# Builds mfsweep in release mode for the portable baseline x86-64-v2 (.build/release/mfsweep,
# with the arguments given, e.g. --product mfsweep or --build-tests), then, on x86-64, the same
# program for x86-64-v3 (AVX2, FMA) and x86-64-v4 (AVX-512) beside it as
# .build/release/mfsweep-x86-64-v3 and -v4. At start, mfsweep hands over to the widest variant
# the CPU runs (docs/PORTABILITY.md): copy the three files together to a cluster's shared
# folder and every node runs the fastest code it can. With MFSWEEP_TARGET_CPU set (native, or a
# level), only that one binary is built.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release "$@"
if [ -n "${MFSWEEP_TARGET_CPU:-}" ] || [ "$(uname -m)" != x86_64 ]; then exit 0; fi
for level in 3 4; do
  MFSWEEP_TARGET_CPU="x86-64-v$level" swift build -c release --product mfsweep --scratch-path ".build-x86-64-v$level"
  cp ".build-x86-64-v$level/release/mfsweep" ".build/release/mfsweep-x86-64-v$level.partial"
  mv -f ".build/release/mfsweep-x86-64-v$level.partial" ".build/release/mfsweep-x86-64-v$level"
done
