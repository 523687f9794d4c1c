#!/usr/bin/env bash
# Creates Benchmarks/.venv with the Python baselines (NumPy, SciPy, POT) from PyPI, once.
# Used only by the benchmarks; nothing else needs Python packages from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=Benchmarks/.venv
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import numpy, scipy, ot" 2>/dev/null; then
  exit 0
fi
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c "import ensurepip" 2>/dev/null; then
  scripts/install-deps.sh >/dev/null
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends python3-venv
fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q numpy scipy pot
