#!/usr/bin/env bash
# There (the GPU machine, from the repository root, with .whl/ carried): install the wheels beside the machine's
# own packages, then run the check; the report lands in $OUT (or the current folder).
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
if [ "${1:-}" = fast ]; then  # the fast path's columns (issue 23): bash bench/gpu/run.sh fast [--configs ...]
  shift
  exec python3 bench/gpu/fast.py --assets .whl/assets --out "${OUT:-.}/gpu_fast.json" --budget-s "${BUDGET_S:-430}" "$@"
fi
python3 bench/gpu/check.py --assets .whl/assets --out "${OUT:-.}/gpu_report.json" --budget-s "${BUDGET_S:-430}" "$@"
