#!/usr/bin/env bash
# The main job: install what is missing, build dist/swarm, then run the talk's demo (three real Docker
# engines, one manager, the docker CLI) and the token-discovery demo. Pass --keep to leave the demo
# cluster running.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
npm run --silent build
bash scripts/demo.sh "$@"
bash scripts/demo-discovery.sh
