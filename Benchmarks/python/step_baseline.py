"""The vectorised NumPy step of mean-field Langevin dynamics for the two-layer tanh network,
timed on the inputs the Swift benchmark wrote, in two variants:

- "plain": written the way researchers write it (whole N x n temporaries);
- "inplace": what a careful NumPy user writes: preallocated buffers, in-place ufuncs and row
  chunks of CHUNK particles, so the N x n intermediates stay in cache-sized pieces.

Both compute the same step (the forward sum is accumulated by chunks in the second, so the
two agree to rounding; the difference is printed); the Swift side is compared with the faster.

usage: step_baseline.py DIR N [N ...]
DIR holds params.json, Z.bin (n x p), y.bin (n) and X_<N>.bin (N x d), all float64.
Prints a JSON object describing the BLAS in use, then one per N: the step times (s) of each
variant and where the noise-free step's result is.
"""
import json
import sys
import time

import numpy as np

from bench_common import blas_info  # noqa: E402  (this folder is on sys.path)

CHUNK = 512


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


def step_inplace(X, Z, y, eta, lam, l2, rng, work, noise=True):
    """The same step with preallocated buffers and row chunks; `work` holds them."""
    N, d = X.shape
    p = d - 1
    n = Z.shape[0]
    W, a = X[:, :p], X[:, p]
    T, f, G = work["T"], work["f"], work["G"]
    f[:] = 0.0
    # Forward pass: f = a @ tanh(W Z^T) / N, chunk by chunk (T is CHUNK x n).
    for s in range(0, N, CHUNK):
        e = min(N, s + CHUNK)
        t = T[: e - s]
        np.matmul(W[s:e], Z.T, out=t)
        np.tanh(t, out=t)
        f += a[s:e] @ t
    f /= N
    r = (f - y) / n
    # Backward pass, recomputing tanh per chunk (cheaper than keeping N x n).
    for s in range(0, N, CHUNK):
        e = min(N, s + CHUNK)
        t = T[: e - s]
        np.matmul(W[s:e], Z.T, out=t)
        np.tanh(t, out=t)
        G[s:e, p] = t @ r
        np.multiply(t, t, out=t)
        np.subtract(1.0, t, out=t)
        t *= r
        np.matmul(t, Z, out=G[s:e, :p])
        G[s:e, :p] *= a[s:e, None]
    Xn = X - eta * (G + 2.0 * l2 * X)
    if noise:
        Xn += np.sqrt(2.0 * lam * eta) * rng.standard_normal(X.shape)
    return Xn


def timed_steps(one_step, X0, params):
    """Times `params["repetitions"]` steps `X = one_step(X)` after the warm-up ones."""
    X = X0.copy()
    for _ in range(params["warmup"]):
        X = one_step(X)
    times = []
    for _ in range(params["repetitions"]):
        t0 = time.perf_counter()
        X = one_step(X)
        times.append(time.perf_counter() - t0)
    return times


def main():
    folder = sys.argv[1]
    params = json.load(open(f"{folder}/params.json"))
    p, n = params["inputs"], params["samples"]
    Z = np.fromfile(f"{folder}/Z.bin").reshape(n, p)
    y = np.fromfile(f"{folder}/y.bin")
    rng = np.random.default_rng(0)
    print(json.dumps({"blas": blas_info()}), flush=True)
    for N in map(int, sys.argv[2:]):
        X0 = np.fromfile(f"{folder}/X_{N}.bin").reshape(N, p + 1)
        work = {"T": np.empty((min(N, CHUNK), n)), "f": np.empty(n), "G": np.empty((N, p + 1))}
        eta, lam, l2 = params["eta"], params["temperature"], params["l2"]
        plain = timed_steps(lambda X: step(X, Z, y, eta, lam, l2, rng), X0, params)
        inplace = timed_steps(lambda X: step_inplace(X, Z, y, eta, lam, l2, rng, work), X0, params)
        exact = step(X0, Z, y, eta, lam, l2, rng, noise=False)
        careful = step_inplace(X0, Z, y, eta, lam, l2, rng, work, noise=False)
        exact.tofile(f"{folder}/next_{N}.bin")
        print(json.dumps({"N": N, "times": plain, "inplace_times": inplace,
                          "variants_differ_by": float(np.max(np.abs(careful - exact))),
                          "next": f"{folder}/next_{N}.bin"}), flush=True)


if __name__ == "__main__":
    main()
