#!/usr/bin/env bash
# Runs every benchmark (release build), each against its baseline in the same invocation:
#   1. the MFLD step of the network model against vectorised NumPy and the roofline,
#      with the allocations made inside a step        (Benchmarks/StepBenchmark)
#   1b. particles in a double well and the pairwise Gaussian interaction against NumPy, JAX
#      and the bound (normals and exponentials per second)   (Benchmarks/PotentialBenchmark)
#   2. one ensemble on 1 and 2 ranks, and the snapshot write (each rank its own journal)
#      against a plain sequential write                (Benchmarks/ScalingBenchmark, mpirun -np 2)
#   5. the output's cost per run at 10³, 10⁴, 10⁵ runs (Benchmarks/StoreBenchmark)
#   3. W2 / Sinkhorn / sliced W2 against POT            (scripts/bench-transport.sh)
#   4. kNN KL and entropy against SciPy's cKDTree       (scripts/bench-divergence.sh)
#   6. the portable build (x86-64-v2 handing over to its v3/v4 variants) against a native one
#      on the same job                                  (scripts/bench-portable.sh)
# Benchmarks are built for the widest level this CPU runs (scripts/bench-target.sh), into
# .build-<level>; MFSWEEP_TARGET_CPU=x86-64-v3 measures the AVX2+FMA kernels on any newer CPU.
# The Python baselines live in Benchmarks/.venv (created from PyPI by scripts/bench-venv.sh).
#   scripts/bench.sh [step|potential|scaling|transport|divergence|store|portable ...]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/bench-venv.sh
. scripts/env.sh
. scripts/bench-target.sh
# Figures from different machines and instruction sets are told apart by this line.
echo "machine: $machine_line"
parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(step potential scaling transport divergence store portable)
for part in "${parts[@]}"; do
  echo "== $part"
  case "$part" in
    step)
      swift build -c release --product StepBenchmark --scratch-path "$bench_build" >/dev/null
      "$bench_build"/release/StepBenchmark --python Benchmarks/.venv/bin/python ;;
    potential)
      swift build -c release --product PotentialBenchmark --scratch-path "$bench_build" >/dev/null
      "$bench_build"/release/PotentialBenchmark --python Benchmarks/.venv/bin/python ;;
    scaling)
      swift build -c release --product ScalingBenchmark --scratch-path "$bench_build" >/dev/null
      mpirun -np 2 "$bench_build"/release/ScalingBenchmark ;;
    transport) scripts/bench-transport.sh ;;
    divergence) scripts/bench-divergence.sh ;;
    store)
      swift build -c release --product mfsweep --scratch-path "$bench_build" >/dev/null
      swift build -c release --product StoreBenchmark --scratch-path "$bench_build" >/dev/null
      "$bench_build"/release/StoreBenchmark ;;
    portable) scripts/bench-portable.sh ;;
    *) echo "unknown part $part" >&2; exit 2 ;;
  esac
done
