#!/usr/bin/env bash
# Installs what is missing, builds mfsweep (release: the portable binary and its instruction-set
# variants, scripts/build.sh) and runs the quickstart sweep on 2 ranks.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh --product mfsweep
. scripts/env.sh
mpirun -np 2 .build/release/mfsweep run Jobs/quickstart.yaml
