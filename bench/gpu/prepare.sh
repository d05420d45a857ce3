#!/usr/bin/env bash
# Here (a machine with PyPI): fetch the wheels the GPU machine lacks and gather the check's assets into .whl/
# (ignored by git, carried to the GPU machine). The GPU machine has torch, transformers, peft, accelerate,
# pyarrow and pandas, but not trl, bitsandbytes, datasets, pydantic or mergekit, and no network.
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
rm -rf .whl && mkdir -p .whl/assets/tokenizer
PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64
           --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  "${PLATFORMS[@]}" -d .whl $(grep -v '^#' bench/gpu/wheels.txt | awk '{print $1}')
# The bundled SmolLM2 tokenizer (the models are built from config with it) and the shared datasets.
python3 - <<'PY'
import shutil
from pathlib import Path
from lab.models import bundled
src = bundled.ensure_bundled(log=lambda m: None)
for f in src.iterdir():
    if f.suffix != ".safetensors" and f.is_file() and f.name != "config.json":
        shutil.copy(f, ".whl/assets/tokenizer/" + f.name)
for name in ("alpaca_en_demo.json", "dpo_en_demo.json"):
    shutil.copy(Path("..") / "shared" / "data" / name, ".whl/assets/" + name)
PY
du -sh .whl
