#!/usr/bin/env bash
# The main job: install what is missing, build dist/swarm, then run the talk's demo (three real Docker
# engines, one of them dockerd 26 refusing API < 1.44 as Docker Engine 29, one manager, the docker CLI)
# and the token-discovery demo. Pass --keep to leave the demo
# cluster running.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
npm run --silent build
bash scripts/demo.sh --mixed "$@"
bash scripts/demo-discovery.sh
