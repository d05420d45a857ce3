"""Model and dataset cards rendered from an artifact's manifest: metadata, recipe, metrics, lineage, usage."""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from lab.repo_id import is_hub_id, is_pinned_id

_KIND_TAGS = {"adapter": ["peft"], "merge": ["merge", "mergekit"], "votes": ["preference", "arena"], "gguf": ["gguf"]}
DATA_KINDS = ("dataset", "votes")
DATA_FILES = ("data.parquet", "data.jsonl")  # a dataset artifact's rows (Data tab), a votes artifact's (arena)


def derived_tags(manifest: dict) -> list[str]:
    """`trl`/`sft`/`dpo`, and `merge`/`mergekit`/`moe`, as this artifact's own step, tags and kind say they apply
    (a parent's steps do not: an adapter trained on a merged model is not a mergekit merge)."""
    own = manifest.get("lineage", [])[-1:]
    words = [str(s.get("step", "")).lower() for s in own] + [str(t).lower() for t in manifest.get("tags", [])]
    out = []
    for method in ("sft", "dpo"):
        if any(method in w for w in words):
            out += ["trl", method]
    if manifest.get("kind") == "merge":
        out += ["merge", "mergekit"] + (["moe"] if any("moe" in w for w in words) else [])
    return out


def _name_local(ref: str, local) -> str:
    """A reference with each part that `local` says is a path on this machine replaced by 'NAME (local)'
    (mergekit's base+adapter references part by part)."""
    return "+".join(f"{Path(p).name} (local)" if local(p) else p for p in str(ref).split("+"))


def shown_ref(ref: str) -> str:
    """A parent as a card names it: a Hub id as it is, a local folder or file by its name only."""
    local = lambda p: not is_hub_id(p) and (p.startswith(("/", "~", ".")) or Path(p).expanduser().exists())  # noqa
    return _name_local(ref, local)


LOCAL_STARTS = ("/", "~/", "./", "../")


def _local_part(part: str) -> bool:
    """An absolute, home or relative path (not a Hub id): a folder or file of this machine, never published."""
    return part.startswith(LOCAL_STARTS) and not is_hub_id(part)


def _local_path(text: str) -> bool:
    return "\n" not in text and any(map(_local_part, text.split("+")))


def public_value(value):
    """A parsed recipe or manifest as published: every local path replaced by 'NAME (local)'."""
    if isinstance(value, dict):
        return {k: public_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [public_value(v) for v in value]
    if isinstance(value, str) and _local_path(value):
        return _name_local(value, _local_part)
    return value


def _strings(value) -> set[str]:
    if isinstance(value, dict):
        return set().union(*map(_strings, value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*map(_strings, value)) if value else set()
    return {value} if isinstance(value, str) else set()


def public_recipe_text(text: str) -> str:
    """recipe.yaml as a card shows it and the Hub receives it: its text (comments kept) with local paths replaced."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    for path in sorted((x for x in _strings(data) if _local_path(x)), key=len, reverse=True):
        text = text.replace(path, public_value(path))
    return text


def _hub_model(ref: str) -> str | None:
    """The repo id a card's base_model takes for a parent: a Hub id as it is, org/name@REV as org/name (the Hub
    accepts no revision there; the lineage text keeps it), nothing for a local one."""
    if is_pinned_id(ref):
        return ref.partition("@")[0]
    return ref if is_hub_id(ref) else None


def card_metadata(manifest: dict) -> dict:
    """The card's YAML: base_model and datasets list Hub ids only (a local parent is named in the lineage text)."""
    parents = manifest.get("parents", [])
    models = list(dict.fromkeys(_hub_model(p["ref"]) for p in parents if p.get("kind") in ("model", "adapter", "merge")
                                and _hub_model(p["ref"])))
    datasets = [p["ref"] for p in parents if p.get("kind") in ("dataset", "votes") and is_hub_id(p["ref"])]
    tags = ["lab", *_KIND_TAGS.get(manifest.get("kind", ""), []), *derived_tags(manifest), *manifest.get("tags", [])]
    meta = {"license": manifest.get("license") or "unknown", "tags": list(dict.fromkeys(tags))}
    if models and manifest.get("kind") != "dataset":
        meta["base_model"] = models
    if datasets:
        meta["datasets"] = datasets
    if manifest.get("kind") in ("adapter",):
        meta["library_name"] = "peft"
    elif manifest.get("kind") in ("model", "merge"):
        meta["library_name"] = "transformers"
        meta["pipeline_tag"] = "text-generation"
    elif manifest.get("kind") == "gguf":
        meta["base_model_relation"] = "quantized"
        meta["pipeline_tag"] = "text-generation"
    return meta


def model_index(manifest: dict, repo: str) -> list[dict]:
    """The Hub's `model-index` for the scores in manifest["evaluations"] (written by lab.eval)."""
    results = [{"task": {"type": "text-generation"}, "dataset": {"name": e["task"], "type": e["task"]},
                "metrics": [{"type": e["metric"], "value": round(float(e["value"]), 4), "name": e["metric"],
                             "verified": False}],
                "source": {"name": "the lab (lm-evaluation-harness)", "url": "https://github.com/EleutherAI/"
                           "lm-evaluation-harness"}} for e in manifest.get("evaluations", [])]
    return [{"name": repo.split("/")[-1], "results": results}] if results else []


def _evaluations(manifest: dict) -> str:
    rows = ["| task | metric | score | base |", "|---|---|---|---|"]
    for e in manifest.get("evaluations", []):
        err = f" ± {e['stderr']:.3f}" if e.get("stderr") is not None else ""
        base = e.get("base") or {}
        vs = f"{base['value']:.3f} (`{base['model']}`)" if base.get("value") is not None else "—"
        rows.append(f"| {e['task']} | {e['metric']} | {e['value']:.3f}{err} | {vs} |")
    return "\n".join(rows)


def _usage(manifest: dict, repo: str) -> str:
    kind = manifest.get("kind")
    if kind in ("dataset", "votes"):
        return f'```python\nfrom datasets import load_dataset\nds = load_dataset("{repo}")\n```'
    if kind == "gguf":
        files = manifest.get("files") or [{"file": "model.gguf", "type": "gguf"}]
        return gguf_usage(files, repo if "/" in repo else "")
    if kind == "adapter":
        return (f'```python\nfrom peft import AutoPeftModelForCausalLM\n'
                f'model = AutoPeftModelForCausalLM.from_pretrained("{repo}")\n```')
    return (f'```python\nfrom transformers import pipeline\nchat = pipeline("text-generation", model="{repo}")\n'
            f'print(chat([{{"role": "user", "content": "Hello!"}}])[0]["generated_text"])\n```')


def gguf_usage(files: list[dict], repo: str = "") -> str:
    """How to run a GGUF export: llama.cpp on the file (or straight from the Hub), Ollama through the Modelfile."""
    first = Path(files[0]["file"]).name
    kind = files[0]["type"]
    lines = ["### llama.cpp", "```bash", f'llama-cli -m {first} -cnv   # chat in the terminal, with the file\'s template',
             f"llama-server -m {first}     # an OpenAI-compatible server on :8080"]
    if repo:
        lines.append(f"llama-cli -hf {repo}:{kind.upper()} -cnv   # straight from the Hub")
    lines += ["```", "### Ollama", "```bash", "ollama create my-model -f Modelfile   # beside the .gguf file",
              "ollama run my-model"]
    if repo:
        lines.append(f"ollama run hf.co/{repo}:{kind.upper()}   # from the Hub")
    lines.append("```")
    if len(files) > 1:
        lines.append("`Modelfile` uses the first file; `Modelfile.<type>` uses each of the others.")
    return "\n".join(lines)


def _lineage(manifest: dict) -> str:
    rows = [f"{i}. **{s.get('step', '?')}** from "
            f"{', '.join(f'`{shown_ref(p)}`' for p in s.get('parents', [])) or '—'}"
            f" ({s.get('date', '')})" for i, s in enumerate(manifest.get("lineage", []), 1)]
    return "\n".join(rows) or "No recorded parents."


def render_card(folder: Path, repo: str = "", manifest: dict | None = None) -> str:
    """The card for an artifact folder; `manifest` overrides lab.json (a folder the lab did not make)."""
    folder = Path(folder)
    manifest = manifest if manifest is not None else json.loads((folder / "lab.json").read_text())
    repo = repo or manifest.get("hub_repo") or manifest.get("name", folder.name)
    meta = card_metadata(manifest)
    data = next((n for n in DATA_FILES if (folder / n).is_file()), "") if manifest.get("kind") in DATA_KINDS else ""
    if data:  # `datasets` then loads this file alone, not lab.json or recipe.yaml beside it (the Hub does the same)
        meta["configs"] = [{"config_name": "default", "data_files": [{"split": "train", "path": data}]}]
    if manifest.get("evaluations"):
        meta["model-index"] = model_index(manifest, repo)
    recipe = public_recipe_text((folder / "recipe.yaml").read_text()) if (folder / "recipe.yaml").is_file() else ""
    metrics = manifest.get("metrics") or {}
    parts = [
        "---\n" + yaml.safe_dump(meta, sort_keys=False) + "---",
        f"# {repo.split('/')[-1]}",
        f"{_noun(manifest.get('kind', 'artifact'))} made with the lab.",
    ]
    if manifest.get("license_warnings"):
        parts.append("> **License:** " + " ".join(manifest["license_warnings"]))
    if manifest.get("summary"):
        parts.append(manifest["summary"])
    if manifest.get("engine"):  # a training run: what trained it and with which fast kernels
        kernels = ", ".join(manifest.get("kernels") or []) or "none"
        parts.append(f"Trained with **{manifest['engine']}** (kernels: {kernels}).")
    parts.append("## Lineage\n" + _lineage(manifest))
    if recipe:
        parts.append("## Recipe\n```yaml\n" + recipe.strip() + "\n```")
    if metrics:
        parts.append("## Metrics\n" + "\n".join(f"- **{k}**: {v}" for k, v in metrics.items()))
    if manifest.get("evaluations"):
        parts.append("## Evaluation\nScored with lm-evaluation-harness by the lab (`python -m lab eval`).\n\n"
                     + _evaluations(manifest))
    if (folder / "loss.png").is_file():
        parts.append("## Loss curve\n![loss curve](loss.png)")
    parts.append("## Usage\n" + _usage(manifest, repo))
    return "\n\n".join(parts) + "\n"


def write_card(folder: Path, repo: str = "") -> Path:
    path = Path(folder) / "README.md"
    path.write_text(render_card(folder, repo))
    return path


def _noun(kind: str) -> str:
    word = {"votes": "vote set", "merge": "merged model", "gguf": "GGUF export"}.get(kind, kind)
    return ("An " if word[:1].lower() in "aeiou" else "A ") + word
