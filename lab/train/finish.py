"""After training: save the adapter (or model), optionally merge from a 16-bit base, draw the loss curve, write
the card with the dataset's lineage, and optionally push the result to the Hub."""
from __future__ import annotations

import gc
import json
import shutil
from pathlib import Path

from lab.artifacts import finalize, parent_entry
from lab.errors import LabError
from lab.hardware import ram_free_bytes, vram_free_bytes
from lab.hub import publish
from lab.jobs.context import read_metrics
from lab.models import resolve
from lab.plots import curve_axes, save_curve
from lab.repo_id import is_repo_id, split_revision
from lab.train import merge_lora, methods
from lab.train.base_model import model_folders
from lab.train.recipe import TrainRecipe


def loss_png(metrics: list[dict], out: Path) -> Path | None:
    """Train (and eval) loss against step, as a PNG (matplotlib, Agg: no display needed)."""
    train = [(m["step"], m["loss"]) for m in metrics if "loss" in m]
    evals = [(m["step"], m["eval_loss"]) for m in metrics if "eval_loss" in m]
    if not train:
        return None
    fig, ax = curve_axes()
    ax.plot(*zip(*train), label="train loss", lw=1.4)
    if evals:
        ax.plot(*zip(*evals), "o-", label="eval loss", lw=1.4)
    return save_curve(fig, ax, out, "step", "loss")


def final_metrics(metrics: list[dict], steps: int) -> dict:
    losses = [m["loss"] for m in metrics if "loss" in m]
    out = {"steps": steps, "first_loss": losses[0] if losses else None, "last_loss": losses[-1] if losses else None}
    rewards = [m["reward"] for m in metrics if "reward" in m]  # GRPO's total reward per step
    if rewards:
        out.update(first_reward=rewards[0], last_reward=rewards[-1])
    for key in ("eval_loss", "reward_margin", "reward_accuracy", "kl"):
        vals = [m[key] for m in metrics if key in m]
        if vals:
            out[key] = vals[-1]
    out["tokens_per_s"] = tokens_per_s(metrics)
    return out


def tokens_per_s(metrics: list[dict]) -> float | None:
    """Real (non-pad) tokens of the logged steps over their wall time. A row covers the steps since the row before
    it (a GPU run logs every few steps): its step_time is their mean."""
    tokens = seconds = 0.0
    last = None
    for m in metrics:
        if "loss" not in m or "step_time" not in m:
            continue
        steps = m["step"] - last if last is not None and m["step"] > last else 1
        last = m["step"]
        if m.get("tokens"):
            tokens += m["tokens"]
            seconds += m["step_time"] * steps
    return round(tokens / seconds, 1) if tokens and seconds else None


def parents(recipe: TrainRecipe) -> list[dict]:
    return [parent_entry(recipe.model, "model"), parent_entry(recipe.dataset, "dataset")]


def _tags(recipe: TrainRecipe) -> list[str]:
    method = methods.of(recipe)
    return ["trl", method.name, recipe.adapter] + {"qlora": ["lora"]}.get(recipe.adapter, []) + list(method.card_tags)


def save_result(trainer, tok, recipe: TrainRecipe, folder: Path, steps: int, log=print, plan=None) -> dict:
    """Adapter (or full model) + tokenizer + loss curve + card into the job's folder. Returns the metrics, with
    the engine and kernels the run used (`plan`: lab.train.build.Plan)."""
    folder, method = Path(folder), methods.of(recipe)
    method.save(trainer, folder)
    _name_base_by_hub_id(folder, recipe.model)
    (folder / "training_args.bin").unlink(missing_ok=True)  # a pickle; recipe.yaml is the record of the run
    tok.save_pretrained(str(folder))
    metrics = read_metrics(folder / "metrics.jsonl")
    loss_png(metrics, folder / "loss.png")
    summary = final_metrics(metrics, steps)
    ran = {"engine": plan.engine, "kernels": list(plan.kernels)} if plan is not None else {}
    kind = "model" if recipe.adapter == "full" or method.saved_whole else "adapter"
    finalize(folder, kind, parents(recipe), recipe=recipe, metrics=summary, step=method.name,
             tags=_tags(recipe), name=recipe.output_name or folder.name,
             extra={"base_model_path": recipe.model, "method": method.name, "adapter": recipe.adapter, **ran,
                    **method.card_extra(recipe, folder, metrics)})
    log(f"Saved the {kind} to {folder}.")
    return {**summary, **ran}


def _name_base_by_hub_id(folder: Path, model: str) -> None:
    """PEFT names the adapter's base by the folder it was loaded from (an HF cache snapshot for a Hub model).
    A Hub id names it anywhere (another machine, the Hub, a Space that reads no cache path for a visitor); a pinned
    base (org/name@REV) is written as PEFT records one: the id, and the revision beside it."""
    config = folder / "adapter_config.json"
    repo_id, revision = split_revision(model)
    if not config.is_file() or not is_repo_id(repo_id) or (revision is None and Path(model).expanduser().exists()):
        return
    cfg = json.loads(config.read_text())
    cfg["base_model_name_or_path"] = repo_id
    if revision is not None:
        cfg["revision"] = revision
    config.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def load_base_16bit(ref: str, token: str | None = None, on_gpu: bool = False):
    """The base model at 16 bits (bf16 unless the checkpoint says fp16): what QLoRA adapters merge into."""
    # heavy: transformers and peft import torch
    from peft import PeftModel  # heavy: peft
    from transformers import AutoModelForCausalLM  # heavy: transformers

    base_cfg, prior = model_folders(ref, token)
    folder = resolve(str(base_cfg) if prior else ref, token=token, log=lambda m: None)
    dtype = merge_lora.target_dtype(json.loads((Path(folder) / "config.json").read_text()))
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype, trust_remote_code=False, use_safetensors=True,
                                                 **({"device_map": {"": 0}} if on_gpu else {}))
    if prior:  # training continued an earlier adapter: fold it in first
        model = PeftModel.from_pretrained(model, str(prior)).merge_and_unload()
    return model


def merge(adapter_folder: Path, recipe: TrainRecipe, token: str | None = None, log=print) -> Path:
    """A full model: the adapter merged into a fresh 16-bit base (never into 4-bit weights), by a path that fits:
    on a GPU, in RAM, or one shard at a time (lab.train.merge_lora). The disk is checked first."""
    # heavy: transformers and peft import torch
    from peft import PeftModel  # heavy: peft
    from transformers import AutoTokenizer  # heavy: transformers

    out = Path(adapter_folder).parent / f"{Path(adapter_folder).name}-merged"  # next to the adapter
    if out.exists():
        raise LabError(f"{out} already exists.", "Move or delete it, then merge again.", "merge")
    base = _base_folder(recipe.model, token)
    need = merge_lora.base_bytes(base)
    merge_lora.check_disk(out.parent, need)
    path = merge_lora.choose(need, *_free_memory())
    out.mkdir(parents=True)
    log(f"Merging the adapter into a 16-bit copy of the base model ({need / 1e9:.1f} GB, on the {path} path)…")
    try:
        if path == "shards" and not _has_prior(recipe.model, token):
            merge_lora.merge_by_shard(base, Path(adapter_folder), out, log)
        else:
            model = PeftModel.from_pretrained(load_base_16bit(recipe.model, token, on_gpu=path == "gpu"),
                                              str(adapter_folder)).merge_and_unload()
            model.save_pretrained(str(out), safe_serialization=True)
            del model
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)  # nothing half-written is left behind
        raise
    AutoTokenizer.from_pretrained(str(adapter_folder)).save_pretrained(str(out))
    manifest = json.loads((Path(adapter_folder) / "lab.json").read_text())
    if (Path(adapter_folder) / "loss.png").is_file():
        shutil.copy(Path(adapter_folder) / "loss.png", out / "loss.png")
    finalize(out, "model", parents(recipe), recipe=recipe, metrics=manifest.get("metrics"),
             step=f"{recipe.method.name}+merge", tags=_tags(recipe) + ["merged"],
             extra={"adapter": str(adapter_folder), "merge_path": path})
    log(f"Merged model saved to {out}.")
    return out


def _base_folder(ref: str, token: str | None) -> Path:
    base_cfg, prior = model_folders(ref, token)
    return Path(resolve(str(base_cfg) if prior else ref, token=token, log=lambda m: None))


def _has_prior(ref: str, token: str | None) -> bool:
    """Training continued an earlier adapter: the shard path cannot fold two adapters in."""
    return model_folders(ref, token)[1] is not None


def _free_memory() -> tuple[int, int | None]:
    """(RAM free, VRAM free or None) now, after training has let go of its memory."""
    gc.collect()
    vram = None
    try:
        import torch  # heavy: torch (loaded by then: training used it)

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
            vram = vram_free_bytes()[0]
    except Exception:  # noqa: BLE001 - no usable GPU: RAM or shards
        vram = None
    return ram_free_bytes(), vram


def push_result(folder: Path, repo: str, token: str | None, log=print) -> dict:
    """Publish a finished artifact through the Hub panel's code. A failed push does not fail the run: the
    artifact stays here and can be published again from the Hub panel."""
    try:
        return {"url": publish(folder, repo, token, private=True, log=log)}
    except LabError as exc:
        log(f"Push to {repo} failed: {exc}")
        return {"error": str(exc)}
