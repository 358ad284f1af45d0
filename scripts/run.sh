#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install what is missing, build, train the
# Fashion-MNIST model from the soma tool.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
make run
