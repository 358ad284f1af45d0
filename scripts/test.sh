#!/usr/bin/env bash
# Every test on a fresh Debian 12 machine: install what is missing, build, run the suites (then
# the fast suites again under ASan + UBSan).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
make test
