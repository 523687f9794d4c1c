#!/usr/bin/env bash
# Installs the Debian packages mfsweep needs, when missing (idempotent; apt only).
#   scripts/install-deps.sh          build and run: Open MPI, parallel HDF5, OpenBLAS, matplotlib (report figures)
#   scripts/install-deps.sh --test   also what the tests use (h5py, xarray, netCDF4, pandas, chromium, Slurm, munge)
#   scripts/install-deps.sh --bench  also what the benchmarks' Python baselines need (venv)
set -euo pipefail

packages=(libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools libopenblas-dev pkg-config python3-matplotlib)
case "${1:-}" in
  "") ;;
  --test) packages+=(python3-h5py python3-numpy python3-scipy python3-xarray python3-h5netcdf python3-netcdf4 python3-pandas
                     python3-matplotlib python3-pil chromium slurmctld slurmd slurm-client munge) ;;
  --bench) packages+=(python3-venv) ;;
  *) echo "usage: $0 [--test|--bench]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "installing: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "error: need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
