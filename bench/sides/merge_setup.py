"""Untimed setup of the merge bench: the bundled SmolLM2, a "fine-tune" of it, and the slerp and ties configs.

The fine-tune is the base with small seeded noise on every weight (the bench measures merging, not training),
saved as safetensors like a real fine-tune. Both sides of each pair read the same YAML in DIR.
Usage: merge_setup.py DIR
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

SLERP = """slices:
  - sources:
      - model: {base}
        layer_range: [0, 30]
      - model: {ft}
        layer_range: [0, 30]
merge_method: slerp
base_model: {base}
parameters:
  t:
    - filter: self_attn
      value: [0, 0.5, 0.3, 0.7, 1]
    - filter: mlp
      value: [1, 0.5, 0.7, 0.3, 0]
    - value: 0.5
dtype: bfloat16
"""
TIES = """models:
  - model: {base}
  - model: {ft}
    parameters:
      density: 0.5
      weight: 1.0
merge_method: ties
base_model: {base}
parameters:
  normalize: true
  int8_mask: true
dtype: bfloat16
"""


def main(folder: Path) -> int:
    import torch
    from safetensors.torch import load_file, save_file

    from lab.models.bundled import ensure_bundled

    base = ensure_bundled(log=lambda m: None)
    ft = folder / "ft"
    if not (ft / "model.safetensors").is_file():
        ft.mkdir(parents=True, exist_ok=True)
        for p in base.iterdir():
            if p.is_file() and p.suffix != ".safetensors" and not p.name.startswith("."):
                shutil.copy(p, ft / p.name)
        gen = torch.Generator().manual_seed(0)
        tensors = {k: (v.float() + 0.002 * torch.randn(v.shape, generator=gen)).to(v.dtype)
                   for k, v in load_file(base / "model.safetensors").items()}
        save_file(tensors, ft / "model.safetensors", metadata={"format": "pt"})
    for name, text in (("slerp", SLERP), ("ties", TIES)):
        (folder / f"{name}.yml").write_text(text.format(base=base, ft=ft))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
