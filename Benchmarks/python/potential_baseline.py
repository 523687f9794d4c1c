"""NumPy and JAX baselines for particles in a potential, timed on the inputs the Swift benchmark
(Benchmarks/PotentialBenchmark) wrote:

- "double-well": one overdamped Euler-Maruyama step in V(x) = (|x|^2 - 1)^2, d = 2: the drift
  4(|x|^2 - 1) x, one normal per coordinate, and the finiteness check every engine makes.
  NumPy plain (whole-array temporaries) and in-place in row chunks; JAX jit (the normals from
  jax.random, the state kept on the device between steps).
- "pairwise": the drift of the Gaussian interaction W(z) = -c exp(-|z|^2 / (2 s^2)),
  G_i = (c / s^2) / N sum_j exp(-|x_i - x_j|^2 / (2 s^2)) (x_i - x_j), in row chunks of 1024
  (the full N x N matrices do not fit at large N). NumPy by differences (plain, whole arrays, for
  N <= 8192; and in chunks) and by the expanded form (|x_i|^2 + |x_j|^2 - 2 x_i.x_j, one GEMM per
  chunk); JAX jit with lax.map over the chunks.

usage: potential_baseline.py DIR
DIR holds params.json (see below) and X_<kind>_<N>.bin (N x d float64). Pins itself to one
CPU when params["threads"] == 1. Prints one JSON object per line: the BLAS and JAX in use,
then per (kind, N) the step or drift times (s) of each variant, and where the noise-free
result is (for the agreement check).
"""
import json
import os
import sys
import time

folder = sys.argv[1]
params = json.load(open(f"{folder}/params.json"))
if params["threads"] == 1 and hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
                      if params["threads"] == 1 else "")

import numpy as np  # noqa: E402

from bench_common import blas_info  # noqa: E402  (this folder is on sys.path)

try:
    import jax  # noqa: E402
    import jax.numpy as jnp  # noqa: E402
    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
except ImportError:
    jax = None

CHUNK = 1024


def timed(one, state, warmup, repetitions, sync=lambda s: s):
    for _ in range(warmup):
        state = sync(one(state))
    times = []
    for _ in range(repetitions):
        t0 = time.perf_counter()
        state = sync(one(state))
        times.append(time.perf_counter() - t0)
    return times


# Double well.

def dw_plain(X, eta, scale, rng, noise=True):
    s = np.sum(X * X, axis=1)
    Xn = X - eta * (4.0 * (s - 1.0))[:, None] * X
    if noise:
        Xn += scale * rng.standard_normal(X.shape)
    if not np.isfinite(Xn).all():
        raise FloatingPointError("diverged")
    return Xn


def dw_inplace(X, eta, scale, rng, work):
    """The same step in place, in row chunks that stay in cache."""
    s, z = work["s"], work["z"]
    for a in range(0, X.shape[0], 8192):
        b = min(X.shape[0], a + 8192)
        x, ss, zz = X[a:b], s[: b - a], z[: b - a]
        np.einsum("ij,ij->i", x, x, out=ss)
        ss -= 1.0
        ss *= -4.0 * eta
        ss += 1.0
        x *= ss[:, None]
        rng.standard_normal(out=zz)
        zz *= scale
        x += zz
    if not np.isfinite(X).all():
        raise FloatingPointError("diverged")
    return X


def dw_jax(eta, scale):
    @jax.jit
    def step(state):
        X, key = state
        key, sub = jax.random.split(key)
        s = jnp.sum(X * X, axis=1)
        Xn = X - eta * (4.0 * (s - 1.0))[:, None] * X + scale * jax.random.normal(sub, X.shape, X.dtype)
        # The finiteness check, as a value the caller reads (a jit step cannot raise).
        return Xn, key, jnp.all(jnp.isfinite(Xn))
    return step


# Pairwise Gaussian drift.

def pair_plain(X, c, s):
    """The whole N x N x d array of differences at once (what one writes first)."""
    N, d = X.shape
    inv, scale = 1.0 / (2 * s * s), c / (s * s) / N
    D = X[:, None, :] - X[None, :, :]
    W = np.exp(-np.sum(D * D, axis=-1) * inv)
    return scale * np.einsum("ij,ijk->ik", W, D)


def pair_differences(X, c, s):
    N, d = X.shape
    G = np.empty_like(X)
    inv, scale = 1.0 / (2 * s * s), c / (s * s) / N
    for a in range(0, N, CHUNK):
        D = X[a:a + CHUNK, None, :] - X[None, :, :]
        W = np.exp(-np.sum(D * D, axis=-1) * inv)
        G[a:a + CHUNK] = scale * np.einsum("ij,ijk->ik", W, D)
    return G


def pair_expanded(X, c, s):
    N, d = X.shape
    G = np.empty_like(X)
    inv, scale = 1.0 / (2 * s * s), c / (s * s) / N
    sq = np.sum(X * X, axis=1)
    for a in range(0, N, CHUNK):
        Xc = X[a:a + CHUNK]
        R = Xc @ X.T
        R *= -2.0
        R += sq[a:a + CHUNK, None]
        R += sq[None, :]
        np.maximum(R, 0.0, out=R)
        R *= -inv
        np.exp(R, out=R)
        G[a:a + CHUNK] = scale * (R.sum(axis=1)[:, None] * Xc - R @ X)
    return G


def pair_jax(N, c, s):
    inv, scale = 1.0 / (2 * s * s), c / (s * s) / N
    chunk = CHUNK if N % CHUNK == 0 else N  # lax.map needs equal chunks

    @jax.jit
    def drift(X):
        sq = jnp.sum(X * X, axis=1)

        def rows(block):
            Xc, sc = block
            R = jnp.maximum(sc[:, None] + sq[None, :] - 2.0 * Xc @ X.T, 0.0)
            E = jnp.exp(-inv * R)
            return scale * (E.sum(axis=1)[:, None] * Xc - E @ X)
        blocks = (X.reshape(N // chunk, chunk, -1), sq.reshape(N // chunk, chunk))
        return jax.lax.map(rows, blocks).reshape(N, -1)
    return drift


def main():
    rng = np.random.default_rng(0)
    print(json.dumps({"blas": blas_info(), "jax": jax.__version__ if jax else None,
                      "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None}),
          flush=True)
    eta, lam = params["eta"], params["temperature"]
    scale = np.sqrt(2.0 * lam * eta)
    c, s = params["strength"], params["width"]
    warm, reps = params["warmup"], params["repetitions"]
    for N in params["double_well"]:
        X0 = np.fromfile(f"{folder}/X_dw_{N}.bin").reshape(N, 2)
        work = {"s": np.empty(8192), "z": np.empty((8192, 2))}
        plain = timed(lambda X: dw_plain(X, eta, scale, rng), X0.copy(), warm, reps)
        inplace = timed(lambda X: dw_inplace(X, eta, scale, rng, work), X0.copy(), warm, reps)
        result = {"kind": "double-well", "N": N, "plain": plain, "inplace": inplace}
        if jax:
            step = dw_jax(eta, scale)
            state = (jnp.asarray(X0), jax.random.PRNGKey(0))

            def one(st):
                X, key, ok = step(st)
                return (X, key)
            result["jax"] = timed(one, state, warm + 1, reps, sync=lambda st: (st[0].block_until_ready(), st[1]))
        dw_plain(X0, eta, scale, rng, noise=False).tofile(f"{folder}/next_dw_{N}.bin")
        result["next"] = f"{folder}/next_dw_{N}.bin"
        print(json.dumps(result), flush=True)
    for N in params["pairwise"]:
        X0 = np.fromfile(f"{folder}/X_pair_{N}.bin").reshape(N, 2)
        r = max(1, reps // 2) if N > 8192 else reps
        w = 0 if N > 8192 else 1
        differences = timed(lambda X: (pair_differences(X, c, s), X)[1], X0, w, r)
        expanded = timed(lambda X: (pair_expanded(X, c, s), X)[1], X0, w, r)
        result = {"kind": "pairwise", "N": N, "differences": differences, "expanded": expanded}
        if N <= 8192:  # beyond, the N x N x d temporaries exceed the machine's memory
            result["plain"] = timed(lambda X: (pair_plain(X, c, s), X)[1], X0, w, r)
        if jax:
            drift = pair_jax(N, c, s)
            Xj = jnp.asarray(X0)
            result["jax"] = timed(lambda X: (drift(X).block_until_ready(), X)[1], Xj, w + 1, r)
        pair_differences(X0, c, s).tofile(f"{folder}/drift_pair_{N}.bin")
        result["drift"] = f"{folder}/drift_pair_{N}.bin"
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
