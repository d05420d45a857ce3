#!/usr/bin/env bash
# Baseline: what a user runs without the lab: `mergekit-yaml CONFIG OUT` (same config, default options).
# BENCH_RESULT: merge_s (the CLI's wall time). The output is deleted afterwards, as the lab side does.
# Usage: mergekit_cli.sh CONFIG
set -euo pipefail
out="${BENCH_TMP:-/tmp}/mk-out-$$-$RANDOM"
start=$(date +%s.%N)
mergekit-yaml "$1" "$out" >/dev/null 2>&1
end=$(date +%s.%N)
rm -rf "$out"
echo "BENCH_RESULT {\"merge_s\": $(python3 -c "print(round($end - $start, 3))")}"
