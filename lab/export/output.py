"""What a finished export leaves: the GGUF file(s), a Modelfile per file, check.json, the recipe, and the card
(base model, lineage, a quant table with size and KL divergence, how to run it in llama.cpp and Ollama)."""
from __future__ import annotations

import json
from pathlib import Path

from lab.artifacts import finalize
from lab.export import modelfile
from lab.export.arch import text_config


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def quant_table(files: list[dict]) -> str:
    rows = ["| file | type | size | top-1 agreement | mean KL divergence |", "|---|---|---|---|---|"]
    for f in files:
        c = f["check"]
        agree = f"{c['top1_agreement']:.1%}" if "top1_agreement" in c else "not checked"
        kl = f"{c['kl_mean']:.4g}" if "kl_mean" in c else "not checked"
        rows.append(f"| `{Path(f['file']).name}` | {f['type']} | {_mb(f['bytes'])} | {agree} | {kl} |")
    return "\n".join(rows)


def summary_text(files: list[dict], warnings: list[str]) -> str:
    parts = ["GGUF export for llama.cpp, Ollama and LM Studio. Each file was read back with `gguf` and loaded "
             "through transformers, then compared with the source model on fixed prompts: top-1 next-token "
             "agreement and mean KL divergence of the next-token distributions (lower is closer; 0 is identical).",
             quant_table(files)]
    if warnings:
        parts.append("> " + " ".join(warnings))
    return "\n\n".join(parts)


def write_modelfiles(folder: Path, files: list[dict], tok_folder: Path, cfg: dict) -> tuple[str, list[str]]:
    """Modelfile (for the first file) and Modelfile.<type> for the others; returns (Modelfile text, warnings)."""
    from transformers import AutoTokenizer  # heavy: transformers

    derived = modelfile.derive(AutoTokenizer.from_pretrained(tok_folder))
    gen_path = tok_folder / "generation_config.json"
    gen = json.loads(gen_path.read_text()) if gen_path.is_file() else {}
    params = modelfile.parameters(gen, int(text_config(cfg).get("max_position_embeddings", 2048)))
    first = ""
    for i, f in enumerate(files):
        text = modelfile.render(Path(f["file"]).name, derived, params)
        (folder / ("Modelfile" if i == 0 else f"Modelfile.{f['type']}")).write_text(text)
        first = first or text
    return first, derived.warnings


def finish(folder: Path, src, recipe, cfg: dict, model_folder: Path, files: list[dict], name: str,
           seconds: float) -> dict:
    """Write the Modelfiles, check.json and the artifact's recipe, manifest and card into `folder`."""
    text, warnings = write_modelfiles(folder, files, model_folder, cfg)
    (folder / "check.json").write_text(json.dumps(files, indent=2))
    metrics = {f"{f['type']}_bytes": f["bytes"] for f in files}
    for f in files:
        if "kl_mean" in f["check"]:
            metrics[f"{f['type']}_kl"] = f["check"]["kl_mean"]
            metrics[f"{f['type']}_top1"] = f["check"]["top1_agreement"]
    types = ", ".join(f["type"] for f in files)
    finalize(folder, "gguf", src.parents(), recipe=recipe, metrics=metrics, step=f"gguf export ({types})",
             tags=["gguf", "llama.cpp", "ollama"], name=name,
             extra={"files": [{k: f[k] for k in ("file", "type", "bytes", "writer")} for f in files],
                    "quant_table": [{"type": f["type"], "bytes": f["bytes"], "kl_mean": f["check"].get("kl_mean"),
                                     "top1_agreement": f["check"].get("top1_agreement")} for f in files],
                    "warnings": warnings, "summary": summary_text(files, warnings),
                    "seconds": round(seconds, 1)})
    return {"modelfile": text, "warnings": warnings, "seconds": round(seconds, 1)}
