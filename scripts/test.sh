#!/usr/bin/env bash
# Installs what is missing, builds (release) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
. scripts/env.sh
swift build -c release --build-tests
swift test -c release --skip-build
