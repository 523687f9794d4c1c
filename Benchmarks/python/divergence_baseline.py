"""SciPy baseline for the kNN divergence benchmark.

Reads the raw float64 file written by `DivergenceBenchmark generate` (P then Q, each n x d,
row-major) and times the usual cKDTree implementations of

  * the Wang-Kulkarni-Verdu (2009) KL estimator
        D = (d/n) sum_i log(nu_k(i) / rho_k(i)) + log(m / (n - 1)),
    rho from P without x_i (query k + 1 neighbours, drop the point itself),
    nu from Q;
  * the Kozachenko-Leonenko entropy
        H = psi(n) - psi(k) + log V_d + (d/n) sum_i log rho_k(i).

Tree construction is included in the times, as on the Swift side. Reports the median wall
time and the median process CPU time (all threads) of the repetitions as one JSON line.
"""

import argparse
import json
import time

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma, gammaln


def wkv_kl(x, y, k, workers):
    n, d = x.shape
    m = y.shape[0]
    rho = cKDTree(x).query(x, k=k + 1, workers=workers)[0][:, k]
    nu = cKDTree(y).query(x, k=k, workers=workers)[0][:, k - 1]
    return d * np.mean(np.log(nu / rho)) + np.log(m / (n - 1))


def kl_entropy(x, k, workers):
    n, d = x.shape
    rho = cKDTree(x).query(x, k=k + 1, workers=workers)[0][:, k]
    log_ball = 0.5 * d * np.log(np.pi) - gammaln(0.5 * d + 1)
    return digamma(n) - digamma(k) + log_ball + d * np.mean(np.log(rho))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--d", type=int, required=True)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    data = np.fromfile(args.input, dtype="<f8").reshape(2, args.n, args.d)
    x, y = np.ascontiguousarray(data[0]), np.ascontiguousarray(data[1])
    kl_times, entropy_times, kl_cpu, entropy_cpu = [], [], [], []
    for _ in range(args.reps):
        t, c = time.perf_counter(), time.process_time()
        kl = wkv_kl(x, y, args.k, args.workers)
        kl_times.append(time.perf_counter() - t)
        kl_cpu.append(time.process_time() - c)
        t, c = time.perf_counter(), time.process_time()
        entropy = kl_entropy(x, args.k, args.workers)
        entropy_times.append(time.perf_counter() - t)
        entropy_cpu.append(time.process_time() - c)
    print(json.dumps({
        "kl": float(kl),
        "entropy": float(entropy),
        "kl_median_s": float(np.median(kl_times)),
        "entropy_median_s": float(np.median(entropy_times)),
        "kl_cpu_median_s": float(np.median(kl_cpu)),
        "entropy_cpu_median_s": float(np.median(entropy_cpu)),
        "reps": args.reps,
        "workers": args.workers,
    }))


if __name__ == "__main__":
    main()
