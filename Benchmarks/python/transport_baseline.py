"""POT baseline for the transport benchmark (scripts/bench-transport.sh).

    python transport_baseline.py CASE DIR [--reps R] [--warmup W]

Reads the clouds written by `TransportBenchmark generate DIR` (raw little-endian float64,
row-major n x 10) and times POT on them; prints one JSON object.

- exact:    M = ot.dist(x, y) (squared Euclidean); ot.emd2(a, b, M) with uniform a, b.
- sinkhorn: reg = 0.05 * M.max(); ot.sinkhorn2(a, b, M, reg) with POT's defaults
            (method "sinkhorn", numItermax 1000, stopThr 1e-9: stop when the column
            marginal error ||P^T 1 - b||_2 of the plan after the row update is below 1e-9,
            checked every 10th iteration). The value is <P, M>.
- weighted-5000, uniform-2000x7000, weighted-2000x7000: exact transport between general
            measures, ot.emd2(a, b, M) with the weights in NAME_a.f64 / NAME_b.f64 when present
            (normalised), uniform otherwise.
- sliced:   ot.sliced_wasserstein_distance(x, y, n_projections=200, seed=0) for the timing;
            the value check passes the benchmark's own directions (`projections=`) so that
            both sides compute the same estimate.

W untimed runs come first (default 1), so that both sides are measured warm. Wall-clock and
process-CPU seconds are reported per timed run; the cost matrix (ot.dist) is timed separately
since the Swift side works from the clouds.
"""

import json
import os
import resource
import sys
import time

import numpy as np
import ot

D = 10


def load(directory, name):
    x = np.fromfile(os.path.join(directory, f"{name}_x.f64"), dtype="<f8").reshape(-1, D)
    y = np.fromfile(os.path.join(directory, f"{name}_y.f64"), dtype="<f8").reshape(-1, D)
    return x, y


CPU_TIMES = []


def timed(f):
    c = time.process_time()
    t = time.perf_counter()
    r = f()
    elapsed = time.perf_counter() - t
    CPU_TIMES.append(time.process_time() - c)
    return r, elapsed


def main():
    case, directory = sys.argv[1], sys.argv[2]
    reps = int(sys.argv[sys.argv.index("--reps") + 1]) if "--reps" in sys.argv else 3
    warmup = int(sys.argv[sys.argv.index("--warmup") + 1]) if "--warmup" in sys.argv else 1
    reps += warmup
    x, y = load(directory, case)
    n, m = x.shape[0], y.shape[0]
    a = np.full(n, 1.0 / n)
    b = np.full(m, 1.0 / m)
    if os.path.exists(os.path.join(directory, f"{case}_a.f64")):
        a = np.fromfile(os.path.join(directory, f"{case}_a.f64"), dtype="<f8")
        b = np.fromfile(os.path.join(directory, f"{case}_b.f64"), dtype="<f8")
        a, b = a / a.sum(), b / b.sum()
    out = {"case": case, "side": "pot", "n": n, "pot_version": ot.__version__,
           "threads": os.environ.get("OPENBLAS_NUM_THREADS", "default")}
    times, dist_times = [], []
    if case == "exact" or case.startswith("weighted-") or case.startswith("uniform-"):
        for _ in range(reps):
            M, td = timed(lambda: ot.dist(x, y))
            value, t = timed(lambda: ot.emd2(a, b, M, numItermax=10_000_000))
            dist_times.append(td)
            times.append(t)
            del M
        out["value"] = float(value)
    elif case == "sinkhorn":
        for _ in range(reps):
            M, td = timed(lambda: ot.dist(x, y))
            reg = 0.05 * float(M.max())
            (value, log), t = timed(lambda: ot.sinkhorn2(a, b, M, reg, log=True))
            dist_times.append(td)
            times.append(t)
            del M
        out.update(value=float(value), regularization=reg, iterations=int(log["niter"]),
                   marginal_error=float(log["err"][-1]))
    elif case == "sliced":
        for _ in range(reps):
            value, t = timed(lambda: ot.sliced_wasserstein_distance(x, y, n_projections=200, seed=0))
            times.append(t)
        out["value_pot_directions"] = float(value)
        theta = np.fromfile(os.path.join(directory, "sliced_directions.f64"), dtype="<f8").reshape(D, -1)
        out["value"] = float(ot.sliced_wasserstein_distance(x, y, projections=theta))
    else:
        raise SystemExit(f"unknown case {case}")
    # Timed calls alternate with ot.dist for exact and sinkhorn: keep the solver's CPU times.
    solver_cpu = CPU_TIMES[1::2] if dist_times else CPU_TIMES
    out["times"] = times[warmup:]
    out["median"] = float(np.median(out["times"]))
    out["cpu_times"] = solver_cpu[warmup:]
    if dist_times:
        out["dist_times"] = dist_times[warmup:]
        out["dist_median"] = float(np.median(out["dist_times"]))
    out["peak_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(out))


if __name__ == "__main__":
    main()
