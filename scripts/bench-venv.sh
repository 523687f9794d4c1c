#!/usr/bin/env bash
# Creates Benchmarks/.venv with the Python baselines (NumPy, SciPy, POT, JAX on the CPU, and
# threadpoolctl to report which BLAS kernel they use) from PyPI, at the versions the recorded figures were
# measured with. Used only by the benchmarks; nothing else needs Python packages from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=Benchmarks/.venv
pins=(numpy==2.4.6 scipy==1.17.1 pot==0.9.7.post1 threadpoolctl==3.8.0 "jax[cpu]==0.10.2")
if [ -x "$venv/bin/python" ] && "$venv/bin/pip" freeze 2>/dev/null | grep -qiF "pot==0.9.7.post1" \
  && "$venv/bin/python" -c "import numpy, scipy, ot, threadpoolctl, jax" 2>/dev/null; then
  exit 0
fi
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c "import ensurepip" 2>/dev/null; then
  scripts/install-deps.sh --bench
fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q "${pins[@]}"
