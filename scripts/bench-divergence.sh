#!/usr/bin/env bash
# kNN KL (Wang-Kulkarni-Verdu) and Kozachenko-Leonenko entropy: Swift against SciPy's cKDTree,
# on the same data (one temporary file both read), at 1 and 2 threads on each side.
# Prints the median wall and CPU (all threads) times of REPS repetitions on both sides, both
# values (they must agree to 1e-10 relative, or the script fails), and the time ratios. Tree
# construction is timed on both sides. On a shared machine the CPU times are the steadier.
#
#   scripts/bench-divergence.sh              n = 10^4 in d = 10 and d = 2, k = 5
#   SETTINGS="10000x10" K=3 REPS=9 scripts/bench-divergence.sh
set -euo pipefail
cd "$(dirname "$0")/.."
settings=${SETTINGS:-"10000x10 10000x2"}
k=${K:-5}
reps=${REPS:-7}

scripts/bench-venv.sh
. scripts/env.sh  # OpenBLAS on one thread per process; Swift threads are explicit below
. scripts/bench-target.sh
swift build -c release --product DivergenceBenchmark --scratch-path "$bench_build" >/dev/null
bin="$bench_build"/release/DivergenceBenchmark
# SciPy without this machine's OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE overrides (which hold back a
# current OpenBLAS; cKDTree itself does not use BLAS).
python=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE Benchmarks/.venv/bin/python)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "machine: $machine_line; OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS; k = $k; medians of $reps"
for setting in $settings; do
  n=${setting%x*}
  d=${setting#*x}
  exact=$("$bin" generate --n "$n" --d "$d" --seed 1 --out "$tmp/data.f64")
  for threads in 1 2; do
    swift=$("$bin" knn-kl --input "$tmp/data.f64" --n "$n" --d "$d" --k "$k" --reps "$reps" \
      --threads "$threads")
    scipy=$("${python[@]}" Benchmarks/python/divergence_baseline.py --input "$tmp/data.f64" \
      --n "$n" --d "$d" --k "$k" --reps "$reps" --workers "$threads")
    "${python[@]}" - "$n" "$d" "$threads" "$exact" "$swift" "$scipy" <<'PY'
import json, sys
n, d, threads = sys.argv[1:4]
exact, swift, scipy = (json.loads(a) for a in sys.argv[4:7])
print(f"\nn = {n}, d = {d}: Swift threads = {threads} ({swift['method']}), "
      f"SciPy cKDTree workers = {scipy['workers']}")
print(f"  closed form: KL = {exact['closed_form_kl']:.6f}, H = {exact['closed_form_entropy']:.6f}")
ok = True
for name in ("kl", "entropy"):
    s, p = swift[name], scipy[name]
    diff = abs(s - p)
    agree = diff <= 1e-10 * max(1.0, abs(p))
    ok = ok and agree
    ws, wp = swift[name + "_median_s"], scipy[name + "_median_s"]
    cs, cp = swift[name + "_cpu_median_s"], scipy[name + "_cpu_median_s"]
    print(f"  {name:8s} Swift  {s:.15f}  wall {ws * 1e3:8.1f} ms  cpu {cs * 1e3:8.1f} ms")
    print(f"  {'':8s} SciPy  {p:.15f}  wall {wp * 1e3:8.1f} ms  cpu {cp * 1e3:8.1f} ms")
    print(f"  {'':8s} SciPy / Swift: wall {wp / ws:5.2f}, cpu {cp / cs:5.2f};"
          f" |difference| {diff:.1e} ({'agree' if agree else 'DISAGREE'})")
sys.exit(0 if ok else 1)
PY
  done
done
