"""Run a merge: check, resolve, run mergekit into a temp folder, write the card, then move it into place.

A failed or cancelled merge removes its temp folder, so no partial model is ever left behind.
The `merge` job's runner is run(ctx); the CLI calls merge() directly (same code path, no subprocess).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Optional, Union

from pydantic import BaseModel, ConfigDict, Field

from lab.access import Caller, job_caller
from lab.errors import LabError
from lab.eval.flow import after_merge, check_tasks
from lab.merge.output import write_outputs
from lab.merge.preflight import preflight
from lab.merge.progress import report_progress
from lab.merge.recipe import AnyRecipe, MoERecipe, check_with_mergekit, dump_yaml, from_dict, load_recipe
from lab.merge.refs import check_chat_template, check_refs, resolve_for_merge
from lab.settings import get_settings

LOG = logging.getLogger("lab.merge")


class MergeOptions(BaseModel):
    """How the lab runs mergekit. Dangerous switches (allow_crimes, trust_remote_code) do not exist here."""

    model_config = ConfigDict(extra="forbid")
    out_shard_size: int = Field(5_000_000_000, ge=1_000_000, description=(
        "Size of each saved .safetensors shard (mergekit's out_shard_size, default 5B). The shard being "
        "written is held in RAM, so smaller shards need less memory."))
    random_seed: Optional[int] = Field(None, description=(
        "Seed for the random pruning of DARE and DELLA: the same seed gives the same merge."))
    cuda: Optional[bool] = Field(None, description="Do the arithmetic on the GPU (default: when there is one).")
    low_cpu_memory: bool = Field(False, description=(
        "Keep intermediate results on the GPU (useful when VRAM exceeds RAM; needs a GPU)."))
    eval_tasks: list[str] = Field(default_factory=list, description=(
        "After merging, evaluate the merge against its source models (the base first) on these tasks: task files, "
        "lm-eval task names or suites. The scores go into the merge's card."))


def mergekit_options(opts: MergeOptions):
    import torch  # heavy: torch
    from mergekit.options import MergeOptions as MKOptions  # heavy: mergekit

    cuda = torch.cuda.is_available() if opts.cuda is None else opts.cuda
    return MKOptions(
        cuda=cuda, low_cpu_memory=opts.low_cpu_memory and cuda, out_shard_size=opts.out_shard_size,
        random_seed=opts.random_seed, copy_tokenizer=True, safe_serialization=True, write_model_card=True,
        lora_merge_cache=str(get_settings().home / "cache" / "lora-merged"),
        # lazy_unpickle only affects pickled .bin files, which the lab never loads; safetensors are lazy anyway.
        lazy_unpickle=False, allow_crimes=False, trust_remote_code=False,
    )


class _ErrorLog(logging.Handler):
    """Collects mergekit's logged errors, which explain a sys.exit(1) in its MoE builder."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def _build_moe(recipe: MoERecipe, tmp: Path, opts) -> None:
    from mergekit.moe.config import MoEMergeConfig  # heavy: mergekit
    from mergekit.scripts.moe import build  # heavy: mergekit

    errors = _ErrorLog()
    logging.getLogger().addHandler(errors)
    try:
        build(MoEMergeConfig.model_validate(recipe.to_dict()), str(tmp), opts, device=opts.device)
    except SystemExit:
        raise LabError("mergekit refused the MoE config: " + (" ".join(errors.lines) or "no reason given") + ".",
                       "Fix the experts (2+ distinct models, prompts for each unless gate_mode is random).",
                       "experts") from None
    finally:
        logging.getLogger().removeHandler(errors)


def fix_moe_tokenizer(out: Path, base_folder: Path) -> None:
    """mergekit's MoE build sets pad = bos; give the output the base's pad token (else eos) back."""
    tc_path = out / "tokenizer_config.json"
    if not tc_path.is_file():
        return
    tc = json.loads(tc_path.read_text())
    base_tc = json.loads((base_folder / "tokenizer_config.json").read_text()) \
        if (base_folder / "tokenizer_config.json").is_file() else {}
    tc["pad_token"] = base_tc.get("pad_token") or tc.get("eos_token")
    tc_path.write_text(json.dumps(tc, indent=2, ensure_ascii=False))
    if not (out / "generation_config.json").is_file() and (base_folder / "generation_config.json").is_file():
        shutil.copy(base_folder / "generation_config.json", out / "generation_config.json")


def _run(resolved: AnyRecipe, tmp: Path, options: MergeOptions, source: str, progress) -> None:
    opts = mergekit_options(options)
    with report_progress(progress):
        if isinstance(resolved, MoERecipe):
            _build_moe(resolved, tmp, opts)
            fix_moe_tokenizer(tmp, Path(resolved.base_model.split("+")[0]))
        else:
            from mergekit.merge import run_merge  # heavy: mergekit

            run_merge(check_with_mergekit(resolved), str(tmp), opts, config_source=source)
    (tmp / "mergekit_config.yml").write_text(source)


def _move_into(tmp: Path, out: Path) -> None:
    """Rename tmp to out; into an existing (job) folder, move file by file with the manifest last."""
    if not out.exists():
        os.replace(tmp, out)
        return
    names = sorted(p.name for p in tmp.iterdir())
    for name in [n for n in names if n != "lab.json"] + ["lab.json"]:
        if (tmp / name).exists():
            os.replace(tmp / name, out / name)
    tmp.rmdir()


def check_out(out: Path, job_folder: bool = False) -> None:
    out = Path(out)
    if out.exists() and not job_folder and (not out.is_dir() or any(out.iterdir())):
        raise LabError(f"{out} already exists.", "Choose a new output folder; the lab never overwrites one.", "out")
    if job_folder and ((out / "config.json").exists() or (out / "lab.json").exists()):
        raise LabError(f"{out} already holds a model.", "Start a new merge job.", "out")


def merge(source: Union[str, dict], out: Path, options: MergeOptions | None = None, token: str | None = None,
          log=print, progress=None, job_folder: bool = False, caller: Caller | None = None) -> dict:
    """Check, resolve and run a merge (or MoE) config; returns {method, out, params, layers, …}. With `caller`
    (a job's owner), every model is checked for them first (lab.merge.refs.check_refs)."""
    started = time.time()
    options = options or MergeOptions()
    out = Path(out).expanduser().resolve()
    text = source if isinstance(source, str) else dump_yaml(source)
    recipe = load_recipe(text) if isinstance(source, str) else from_dict(source)
    check_out(out, job_folder)
    if caller is not None:
        check_refs(caller, recipe)
    check_chat_template(getattr(recipe, "chat_template", None))
    check_with_mergekit(recipe)
    if options.eval_tasks:  # a bad task fails now, not after the merge

        check_tasks(options.eval_tasks, token)
    progress = progress or (lambda frac, msg="": None)
    progress(0.02, "Preflight (config files only)…")
    report = preflight(recipe, token=token, out=out.parent, shard_params=options.out_shard_size)
    for c in report.checks:
        if c.level == "warn":
            log(f"warning: {c.field}: {c.message}")
    report.raise_for_errors()
    progress(0.05, "Fetching models (safetensors only)…")
    resolved = recipe.map_refs(lambda ref: resolve_for_merge(ref, token=token, log=log))
    tmp = out.parent / f".{out.name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        progress(0.1, "Merging…")
        _run(resolved, tmp, options, text, lambda f, m="": progress(0.1 + 0.8 * f, m))
        progress(0.92, "Writing the card…")
        result = write_outputs(tmp, recipe, text, report, name=out.name, token=token)
        _move_into(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    result.update(out=str(out), seconds=round(time.time() - started, 2))
    log(f"Merged {result['method']} into {out}: {result['params']:,} parameters, {result['layers']} layers.")
    if options.eval_tasks:
        progress(0.95, "Evaluating the merge against its sources…")
        result["eval"] = after_merge(options.eval_tasks, recipe.refs(), out, token, log)
    return result


def run(ctx) -> None:
    """The `merge` job: ctx.recipe is {config: <mergekit config>, source: <its YAML>, options: {...}}."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    recipe = ctx.recipe or {}
    source = recipe.get("source") or recipe.get("config")
    if not source:
        raise LabError("The job has no merge config.", "Submit a merge from the Merge tab or the CLI.", "config")
    options = MergeOptions.model_validate(recipe.get("options") or {})
    result = merge(source, ctx.folder, options, token=os.environ.get("HF_TOKEN"), log=ctx.log,
                   progress=lambda f, m="": ctx.progress(f, m), job_folder=True, caller=job_caller())
    (ctx.folder / "merge_result.json").write_text(json.dumps(result, indent=2))
    ctx.progress(1.0, f"Done: {result['params']:,} parameters, {result['layers']} layers", force=True)
