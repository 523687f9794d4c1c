"""The vectorised NumPy step of mean-field Langevin dynamics for the two-layer tanh network,
written the way researchers write it, timed on the inputs the Swift benchmark wrote.

usage: step_baseline.py DIR N [N ...]
DIR holds params.json, Z.bin (n x p), y.bin (n) and X_<N>.bin (N x d), all float64.
Prints one JSON object per N: the step times (s) and where the noise-free step's result is.
"""
import json
import sys
import time

import numpy as np


def step(X, Z, y, eta, lam, l2, rng, noise=True):
    N, d = X.shape
    p = d - 1
    n = Z.shape[0]
    W, a = X[:, :p], X[:, p]
    U = W @ Z.T                      # N x n pre-activations
    T = np.tanh(U)
    f = a @ T / N                    # network output on every data point
    r = (f - y) / n                  # residuals / n
    ga = T @ r                       # d/da of the first variation
    M = (1.0 - T * T) * r            # sigma'(U) * r
    Gw = (M @ Z) * a[:, None]        # d/dw
    G = np.empty_like(X)
    G[:, :p] = Gw
    G[:, p] = ga
    Xn = X - eta * (G + 2.0 * l2 * X)
    if noise:
        Xn += np.sqrt(2.0 * lam * eta) * rng.standard_normal(X.shape)
    return Xn


def main():
    folder = sys.argv[1]
    params = json.load(open(f"{folder}/params.json"))
    p, n = params["inputs"], params["samples"]
    Z = np.fromfile(f"{folder}/Z.bin").reshape(n, p)
    y = np.fromfile(f"{folder}/y.bin")
    rng = np.random.default_rng(0)
    for N in map(int, sys.argv[2:]):
        X0 = np.fromfile(f"{folder}/X_{N}.bin").reshape(N, p + 1)
        X = X0.copy()
        for _ in range(params["warmup"]):
            X = step(X, Z, y, params["eta"], params["temperature"], params["l2"], rng)
        times = []
        for _ in range(params["repetitions"]):
            t0 = time.perf_counter()
            X = step(X, Z, y, params["eta"], params["temperature"], params["l2"], rng)
            times.append(time.perf_counter() - t0)
        exact = step(X0, Z, y, params["eta"], params["temperature"], params["l2"], rng, noise=False)
        exact.tofile(f"{folder}/next_{N}.bin")
        print(json.dumps({"N": N, "times": times, "next": f"{folder}/next_{N}.bin"}), flush=True)


if __name__ == "__main__":
    main()
