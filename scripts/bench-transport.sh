#!/usr/bin/env bash
# Transport benchmark: our optimal-transport diagnostics against POT, same data, same run.
#
#   scripts/bench-transport.sh [--threads T] [--quick]
#
# Generates the clouds once (raw float64 files in a temporary directory), then for each case
# runs POT (Benchmarks/python/transport_baseline.py) and ours (TransportBenchmark) on those
# files in alternating rounds (each process does one untimed warm-up run first, so both
# sides are measured warm and under the same machine load), and prints median wall times
# over all timed runs, the ratio, median process-CPU times and both values:
#   exact     W2² by assignment, n = 5000, d = 10      (POT: ot.emd2 on ot.dist)
#   sinkhorn  n = 10⁴, d = 10, ε = 5% of the max cost, stop at ‖Pᵀ1 − b‖₂ < 1e-9
#             (POT: ot.sinkhorn2, default method; ours includes finding the max cost)
#   sliced    200 directions, n = 10⁴, d = 10           (POT: ot.sliced_wasserstein_distance)
#   weighted-5000, uniform-2000x7000, weighted-2000x7000
#             exact W2² between general measures, d = 10 (weights 0.1 + U(0,1)): the network
#             simplex with its dual certificate (POT: ot.emd2 on ot.dist; values must agree
#             to 1e-10 relative)
#   memory    ours only: Sinkhorn at n = 10⁵, peak resident set size (VmHWM)
# T threads on both sides (default 2): ours via its `threads` option, POT's BLAS via
# OPENBLAS_NUM_THREADS / OMP_NUM_THREADS (ot.emd2 itself is single-threaded: for that case the
# CPU-time ratio is the like-for-like one). Python runs without this machine's
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE overrides, which hold back a current OpenBLAS; the
# kernel it then uses is printed. Fails if a value differs from POT's by more than 1e-6
# relative (Sinkhorn: both stop at a marginal error below 1e-9; the general exact cases 1e-10).
# --quick: one round and the memory case at n = 3·10⁴ (a smoke run).
set -euo pipefail
cd "$(dirname "$0")/.."

threads=2
quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --quick) quick=1; shift ;;
    *) echo "usage: $0 [--threads T] [--quick]" >&2; exit 2 ;;
  esac
done

scripts/bench-venv.sh
python=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE Benchmarks/.venv/bin/python)
. scripts/bench-target.sh
swift build -c release --product TransportBenchmark --scratch-path "$bench_build" >/dev/null
echo "machine: $machine_line"
bench="$bench_build"/release/TransportBenchmark

data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
"$bench" generate "$data"
results="$data/results.jsonl"

export OPENBLAS_NUM_THREADS="$threads" OMP_NUM_THREADS="$threads"
if [ "$quick" -eq 1 ]; then rounds=1; memory_n=30000; else rounds=3; memory_n=100000; fi
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >"$data/load.txt"

for case in exact sinkhorn sliced weighted-5000 uniform-2000x7000 weighted-2000x7000; do
  reps=1
  [ "$case" = sliced ] && reps=3
  for round in $(seq "$rounds"); do
    echo "running $case, round $round of $rounds ..." >&2
    "${python[@]}" Benchmarks/python/transport_baseline.py "$case" "$data" --reps "$reps" --warmup 1 >>"$results"
    "$bench" run "$case" "$data" --reps "$reps" --warmup 1 --threads "$threads" >>"$results"
  done
done
echo "running the memory case (n = $memory_n) ..." >&2
"$bench" sinkhorn-memory --n "$memory_n" --threads "$threads" >>"$results"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$data/load.txt"
cat "$data/load.txt"

"${python[@]}" -c "import threadpoolctl; print('POT side BLAS:', [(i['internal_api'], i['version'], i['architecture']) for i in threadpoolctl.threadpool_info()])"
"${python[@]}" - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
def runs(case, side):
    return [r for r in rows if r["case"] == case and r["side"] == side]
def pooled(case, side, key):
    return [t for r in runs(case, side) for t in r.get(key, [])]
med = statistics.median
disagree = []
print()
print(f"{'case':<10}{'POT median s':>14}{'ours median s':>15}{'ratio':>8}{'CPU s POT/ours':>18}   values (POT | ours)")
general = ["weighted-5000", "uniform-2000x7000", "weighted-2000x7000"]
for case, label in [("exact", "ot.emd2"), ("sinkhorn", "ot.sinkhorn2"), ("sliced", "ot.sliced_wasserstein_distance")] + [(g, "ot.emd2") for g in general]:
    p, o = runs(case, "pot")[-1], runs(case, "ours")[-1]
    pw, ow = med(pooled(case, "pot", "times")), med(pooled(case, "ours", "times"))
    pc, oc = med(pooled(case, "pot", "cpu_times")), med(pooled(case, "ours", "cpu_times"))
    rel = abs(p["value"] - o["value"]) / abs(p["value"])
    if not rel <= (1e-10 if case in general else 1e-6):
        disagree.append(case)
    print(f"{case:<10}{pw:>14.4f}{ow:>15.4f}{ow / pw:>8.3f}{pc:>10.3f}/{oc:<7.3f}   "
          f"{p['value']:.15g} | {o['value']:.15g}  (rel. diff {rel:.1e})")
    extra = f"  {len(pooled(case, 'pot', 'times'))} timed runs each; POT {label}, OPENBLAS_NUM_THREADS={p['threads']}; ours threads {o['threads']}"
    if "dist_median" in p:
        dist = med(pooled(case, "pot", "dist_times"))
        extra += f"; ot.dist adds {dist:.3f} s (ratio incl. dist {ow / (pw + dist):.3f})"
    print(extra + f"; peak RSS POT {p['peak_rss_kib'] / 1024:.0f} MiB, ours {o['peak_rss_kib'] / 1024:.0f} MiB")
    if case == "exact":
        print(f"  ours: certified optimal {o['optimal']} (gap {o['gap']:.1e}); auction bids {o['bids']}, rows left for paths {o['free_after_reduction']}, path scans {o['path_scans']}")
    if case in general:
        print(f"  {case} ({p['n']} × {o['m']}): ours certified optimal {o['optimal']} (gap {o['gap']:.1e}, marginal error {o['marginal_error']:.1e}); "
              f"pivots {o['pivots']} ({o['degenerate_pivots']} degenerate), pricing rounds {o['pricing_rounds']}, arcs {o['arcs']}, plan entries {o['plan_entries']}")
    if case == "sinkhorn":
        print(f"  ε = {o['regularization']:.6g} (POT {p['regularization']:.6g}); iterations POT {p['iterations']} (tested every 10th), ours {o['iterations']} ({o['single_precision_iterations']} in single precision); "
              f"marginal error POT {p['marginal_error']:.1e}, ours {o['marginal_error']:.1e}")
    if case == "sliced":
        print(f"  values with the same 200 directions on both sides; POT with its own random directions: {p['value_pot_directions']:.6g} "
              f"(our Monte Carlo s.e. of SW2² {o['standard_error_squared']:.1e})")
m = runs("sinkhorn-memory", "ours")[-1]
print(f"memory    Sinkhorn n = {m['n']}, d = 10: {m['seconds']:.1f} s, {m['iterations']} iterations, converged {m['converged']}, "
      f"peak RSS {m['peak_rss_kib'] / 1024:.0f} MiB (of which data before solving {m['peak_rss_kib_after_data'] / 1024:.0f} MiB), threads {m['threads']}")
if disagree:
    print(f"values disagree with POT beyond 1e-6 relative: {disagree}", file=sys.stderr)
    sys.exit(1)
PY
