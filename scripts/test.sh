#!/usr/bin/env bash
# Installs, builds, type-checks and runs every test; ends with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

bash scripts/install.sh || { echo "0 passed, 1 failed"; exit 1; }
npm run --silent build || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }

failed_steps=0
if ! npx --no-install tsc --noEmit -p .; then
  echo "type check failed" >&2
  failed_steps=1
fi
# Shell scripts: shellcheck's warnings and errors fail the run.
if ! shellcheck -S warning scripts/*.sh .ci/run; then
  echo "shellcheck failed" >&2
  failed_steps=$((failed_steps + 1))
fi
# Unused files, exports, types and dependencies (knip.json lists the entry points) fail the run.
if ! node_modules/.bin/knip --no-progress; then
  echo "unused code found (knip)" >&2
  failed_steps=$((failed_steps + 1))
fi

log=$(mktemp)
# Unit tests first (fast, no sockets), then integration tests against the compiled binary and real
# engines and stores; each file cleans up the hosts and servers it starts.
node_modules/.bin/bun test test/unit 2>&1 | tee "$log"
unit_rc=${PIPESTATUS[0]}
node_modules/.bin/bun test --timeout 300000 test/integration 2>&1 | tee -a "$log"
integ_rc=${PIPESTATUS[0]}
# The docker CLI suites again on a mixed cluster: host 2 runs dockerd 26 refusing API < 1.44 (as
# Docker Engine 29), the others dockerd 20.10.
SWARM_TEST_CLUSTER=mixed node_modules/.bin/bun test --timeout 300000 test/integration/manager.test.ts test/integration/scheduler.test.ts 2>&1 | tee -a "$log"
mixed_rc=${PIPESTATUS[0]}

passed=$(grep -E '^ *[0-9]+ pass$' "$log" | awk '{s+=$1} END {print s+0}')
failed=$(grep -E '^ *[0-9]+ fail$' "$log" | awk '{s+=$1} END {print s+0}')
rm -f "$log"
if ((unit_rc != 0 || integ_rc != 0 || mixed_rc != 0)) && ((failed == 0)); then failed=1; fi
failed=$((failed + failed_steps))
echo "${passed} passed, ${failed} failed"
((failed == 0))
