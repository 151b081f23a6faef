#!/usr/bin/env bash
# NAME
#   bench/gate/install.sh - install the peer bench/gate compares BlockSmith's gate with
#
# DESCRIPTION
#   Haraka and haraka-plugin-fcrdns from npm, into a directory OUTSIDE the repository
#   (default /tmp/haraka-bench, or $HARAKA_BENCH_DIR), never into the project's package.json.
#   Idempotent: does nothing when both packages are already there. No service is started
#   (bench/gate runs its own Haraka on a free loopback port).
set -euo pipefail
DIR="${HARAKA_BENCH_DIR:-/tmp/haraka-bench}"
mkdir -p "$DIR"
cd "$DIR"
if [ ! -f package.json ]; then npm init -y >/dev/null; fi
if [ ! -f node_modules/Haraka/package.json ] || [ ! -f node_modules/haraka-plugin-fcrdns/package.json ]; then
  npm install --no-audit --no-fund Haraka haraka-plugin-fcrdns >/dev/null
fi
echo "bench/gate: Haraka $(node -p "require('./node_modules/Haraka/package.json').version") with haraka-plugin-fcrdns $(node -p "require('./node_modules/haraka-plugin-fcrdns/package.json').version") in $DIR"
