#!/usr/bin/env bash
# The main job: install what is missing, build dist/swarm, run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
npm run --silent build
bash scripts/demo-discovery.sh
