#!/usr/bin/env python3
"""Derives the minimax polynomials of FastMath.log and FastMath.sinCosTwoPi (docs/MATH.md, "Noise").

A developer's tool, not part of the build or the tests: it needs mpmath (`pip install mpmath`).
It runs a Remez exchange at 60 digits for each polynomial, on the reduced range the Swift code
uses, with the weight that turns the polynomial's error into the error of the final result:

  log m = 2s + 2s·w·P(w),  s = (m − 1)/(m + 1), w = s², |s| ≤ (√2 − 1)/(√2 + 1)
      relative error of log m ≈ w·|P − P*|              -> weight w
  sin φ = φ + φ·f·S(f),   f = φ², |φ| ≤ π/4
      relative error of sin φ ≈ f·|S − S*|              -> weight f
  cos φ = 1 + f·C(f)
      absolute error of cos φ = f·|C − C*|              -> weight f

It prints the coefficients rounded to double (lowest degree first) as Swift literals, and the
weighted error of the rounded polynomial on a fine grid: each must be far below one ulp (1.1e-16),
so that the rounding of the evaluation, not the approximation, sets the accuracy. The Swift tests
check the functions against libm (PhiloxTests.accuracyAgainstLibm).
"""
import mpmath as mp

mp.mp.dps = 60


def remez(f, weight, a, b, degree, iterations=30, grid=6000):
    """Coefficients c[0..degree] minimising max |weight(x) (Σ c_k x^k − f(x))| on [a, b]."""
    n = degree + 2
    # Chebyshev extrema as the first reference.
    ref = [(a + b) / 2 - (b - a) / 2 * mp.cos(mp.pi * i / (n - 1)) for i in range(n)]
    ref[0] = a + (b - a) * mp.mpf("1e-6")  # the weight may vanish at a
    xs = [a + (b - a) * (mp.mpf(i) / grid) for i in range(1, grid + 1)]
    coeffs, level = None, None
    for _ in range(iterations):
        rows = [[x**k for k in range(degree + 1)] + [(-1) ** i / weight(x)] for i, x in enumerate(ref)]
        sol = mp.lu_solve(mp.matrix(rows), mp.matrix([f(x) for x in ref]))
        coeffs, level = [sol[k] for k in range(degree + 1)], abs(sol[degree + 1])

        def err(x):
            return weight(x) * (mp.polyval(coeffs[::-1], x) - f(x))

        values = [err(x) for x in xs]
        # New reference: the extremum of each run of equal sign.
        runs, current = [], [0]
        for i in range(1, len(xs)):
            if mp.sign(values[i]) == mp.sign(values[current[0]]):
                current.append(i)
            else:
                runs.append(current)
                current = [i]
        runs.append(current)
        peaks = [max(run, key=lambda i: abs(values[i])) for run in runs]
        while len(peaks) > n:  # drop the smallest end peak
            peaks.pop(0 if abs(values[peaks[0]]) < abs(values[peaks[-1]]) else -1)
        if len(peaks) < n:
            break
        ref = [xs[i] for i in peaks]
    return coeffs, level


def rounded_error(f, weight, coeffs, a, b, grid=20000):
    c = [mp.mpf(float(v)) for v in coeffs]
    worst = 0
    for i in range(1, grid + 1):
        x = a + (b - a) * mp.mpf(i) / grid
        worst = max(worst, abs(weight(x) * (mp.polyval(c[::-1], x) - f(x))))
    return worst


def log_p(w):
    s = mp.sqrt(w)
    return (mp.atanh(s) / s - 1) / w


def sin_s(f):
    p = mp.sqrt(f)
    return (mp.sin(p) / p - 1) / f


def cos_c(f):
    return (mp.cos(mp.sqrt(f)) - 1) / f


smax = (mp.sqrt(2) - 1) / (mp.sqrt(2) + 1)
fmax = (mp.pi / 4) ** 2
for name, f, a, b, degree in [
    ("log P(w)", log_p, mp.mpf(0), smax**2, 6),
    ("sin S(f)", sin_s, mp.mpf(0), fmax, 5),
    ("cos C(f)", cos_c, mp.mpf(0), fmax, 6),
]:
    coeffs, level = remez(f, lambda x: x, a, b, degree)
    print(f"{name}: degree {degree}, minimax weighted error {mp.nstr(level, 3)}, "
          f"with rounded coefficients {mp.nstr(rounded_error(f, lambda x: x, coeffs, a, b), 3)}")
    for k, c in enumerate(coeffs):
        print(f"  c{k} = {float(c)!r}")
