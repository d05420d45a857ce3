"""Export a model the lab holds to GGUF: check, resolve, write each type, verify it, then place the artifact.

Order: the recipe and the output name; the architecture and tokenizer (config files only); the weights; the
disk space for every file; then the work, in a hidden `.NAME.partial` folder that is removed on any failure or
cancel, and renamed into place at the end. The job runner and the CLI both call export().
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from lab import hub
from lab.artifacts import inherit_license
from lab.errors import LabError
from lab.export import check, llamacpp, output, source as sources
from lab.export.arch import check_architecture, text_config
from lab.export.recipe import ExportRecipe, default_out
from lab.export.vocab import read_vocab
from lab.export.write import BASE_TYPES, plan_tensors, source_config, summary, write_gguf

_METADATA_SLACK = 8 << 20  # tokenizer and header bytes on top of the tensors (a 150k vocabulary is ~4 MB)


def free_bytes(path: Path) -> int:
    """Free space where `path` will be written (its nearest existing folder)."""
    path = Path(path)
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free


def _gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


def check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not overwrite:
        raise LabError(f"{out.name} already exists ({out}).",
                       "Choose another name, or ask for overwrite to replace it.", "out")
    if out.exists() and not out.is_dir():
        raise LabError(f"{out} is a file.", "Choose a folder name for the export.", "out")


def estimate_bytes(weights: Path, cfg: dict, arch, types: list[str]) -> dict[str, int]:
    """Each file's size from the plan (exact for the tensors; K-quants are estimated at their q8_0/q4_0 kin)."""
    out = {}
    for kind in types:
        base = kind if kind in BASE_TYPES else ("q8_0" if kind.startswith(("q5", "q6")) else "q4_0")
        out[kind] = sum(p.nbytes for p in plan_tensors(weights, cfg, arch, base)) + _METADATA_SLACK
    return out


def check_disk(out: Path, sizes: dict[str, int], extra: int = 0) -> int:
    need = sum(sizes.values()) + extra
    free = free_bytes(out.parent)
    if need > free:
        raise LabError(f"Not enough disk: the export needs {_gb(need)} ({', '.join(f'{k} {_gb(v)}' for k, v in sizes.items())}"
                       f"{f', merged model {_gb(extra)}' if extra else ''}) and {out.parent} has {_gb(free)} free.",
                       "Free some space (delete artifacts you no longer need), pick fewer types, or a smaller one.",
                       "disk")
    return need


def file_name(stem: str, kind: str) -> str:
    return f"{stem}-{kind}.gguf"


def _write(kind: str, folder: Path, path: Path, cfg: dict, arch, vocab, name: str, license_: str, step) -> str:
    """One file, with llama.cpp's tools when they are set up for this type, else the lab's writer."""
    total = len(plan_tensors(folder, cfg, arch, "f16"))
    if kind in llamacpp.CONVERTER_TYPES and llamacpp.converter():
        llamacpp.convert(folder, path, kind, total, step, step.cancelled)
        return "llama.cpp convert_hf_to_gguf.py"
    if kind not in BASE_TYPES or (kind == "q4_0" and llamacpp.quantizer()):
        staging = path.with_suffix(".f16.tmp")
        try:
            write_gguf(folder, staging, cfg, arch, "f16", vocab, name, license_, step, step.cancelled)
            llamacpp.quantize(staging, path, kind, total, step, step.cancelled)
        finally:
            staging.unlink(missing_ok=True)
        return "gguf package (f16) + llama-quantize"
    write_gguf(folder, path, cfg, arch, kind, vocab, name, license_, step, step.cancelled)
    return "gguf package (lab writer)"


class _Step:
    """Maps one file's tensor progress onto its share of the job's bar."""

    def __init__(self, progress, start: float, span: float, label: str, cancelled):
        self.progress, self.start, self.span, self.label = progress, start, span, label
        self.cancelled = cancelled or (lambda: None)

    def __call__(self, done: int, total: int, tensor: str) -> None:
        self.progress(self.start + self.span * done / max(total, 1), f"{self.label}: tensor {done}/{total} {tensor}")


class _Share:
    """Maps a stage's own fraction (0..1) onto its share of the job's bar, its message after the stage's label."""

    def __init__(self, progress, start: float, span: float, label: str):
        self.progress, self.start, self.span, self.label = progress, start, span, label

    def __call__(self, fraction: float, message: str = "") -> None:
        self.progress(self.start + self.span * min(1.0, fraction), f"{self.label}: {message}…")


def _verify(kind, path, arch, cfg, vocab, plans_count, ref, folder, first, log, progress) -> dict:
    """Read the file back, then reload it through transformers; `progress(fraction of the check, message)`."""
    progress(0.0, "reading the file back")
    found = check.read_back(path, arch.gguf_name, plans_count, vocab, cfg)
    result = {"reader": found}
    if ref is None:
        result["skipped"] = "the transformers reload was off (check=False) or the model is too big to load twice"
        return result
    figures = check.compare(path, ref, folder, cfg, arch.gguf_name, tokenizer=first, progress=progress)
    result.update(figures)
    problems = check.judge(kind, figures)
    if problems:
        raise LabError(f"The {kind} file does not match the source: {'; '.join(problems)}.",
                       "This is a bug in the export; please report it with the source model's config.json.", "gguf")
    log(f"{kind}: top-1 agreement {figures['top1_agreement']:.2%}, mean KL {figures['kl_mean']}")
    return result


@dataclass
class Prepared:
    """What the checks before any work found: the source, the output, its config, writer plan and tokenizer."""
    src: sources.Source
    out: Path
    cfg: dict
    arch: object
    vocab: object
    weights: Path


def prepare(recipe: ExportRecipe, token, progress, log) -> Prepared:
    """Output name, architecture and tokenizer (config files only), then the weights, then the disk space."""
    src = sources.parse(recipe.source)
    out = Path(recipe.out).expanduser().resolve() if recipe.out else default_out(src.name)
    check_out(out, recipe.overwrite)
    cfg_folder = sources.config_folder(src, token)
    cfg = source_config(cfg_folder)
    arch = check_architecture(cfg)  # before any download
    vocab = read_vocab(cfg_folder, int(text_config(cfg)["vocab_size"]))
    progress(0.02, "Fetching the weights (safetensors only)…")
    weights = sources.weights_folder(src, token, log)
    merged_bytes = sum(p.stat().st_size for p in weights.glob("*.safetensors")) if src.adapter else 0
    check_disk(out, estimate_bytes(weights, cfg, arch, recipe.types), merged_bytes)
    return Prepared(src, out, cfg, arch, vocab, weights)


def _reference(recipe: ExportRecipe, folder: Path, params: int, progress, log):
    if recipe.check and check.fits_in_memory(params):
        progress(0.12, "Running the source on the check prompts…")
        return check.reference(folder)
    if recipe.check:
        log("The model is too big to load twice in this machine's RAM: the transformers reload is skipped.")
    return None


def _write_files(p: Prepared, recipe: ExportRecipe, folder: Path, tmp: Path, progress, cancelled, log) -> list[dict]:
    """Each type: write (progress by tensor), then verify; returns one entry per file."""
    params = summary(plan_tensors(folder, p.cfg, p.arch, "f16"))["params"]
    ref = _reference(recipe, folder, params, progress, log)
    files, share = [], 0.8 / len(recipe.types)
    for i, kind in enumerate(recipe.types):
        start = 0.15 + i * share
        path = tmp / file_name(p.src.name, kind)
        step = _Step(progress, start, share * 0.5, f"Writing {kind}", cancelled)
        t0 = time.perf_counter()
        writer = _write(kind, folder, path, p.cfg, p.arch, p.vocab, p.src.name, _license(p.src), step)
        t1 = time.perf_counter()
        planned = len(plan_tensors(folder, p.cfg, p.arch, kind if kind in BASE_TYPES else "f16"))
        checking = _Share(progress, start + share * 0.5, share * 0.5, f"Checking {kind}")
        result = _verify(kind, path, p.arch, p.cfg, p.vocab, planned, ref, folder, i == 0, log, checking)
        files.append({"file": path.name, "type": kind, "bytes": path.stat().st_size,
                      "architecture": p.arch.gguf_name, "writer": writer, "check": result, "params": params,
                      "write_s": round(t1 - t0, 3), "check_s": round(time.perf_counter() - t1, 3)})
    return files


def export(recipe: ExportRecipe, token=None, progress=None, log=print, cancelled=None) -> dict:
    """Write, verify and place the GGUF artifact (and publish it when recipe.push is set)."""
    started = time.time()
    progress = progress or (lambda fraction, message="": None)
    p = prepare(recipe, token, progress, log)
    tmp = p.out.parent / f".{p.out.name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        folder = p.weights
        if p.src.adapter is not None:
            progress(0.05, "Merging the adapter into its base…")
            folder = sources.merge_adapter(p.weights, p.src.adapter, tmp / "merged", log)
        files = _write_files(p, recipe, folder, tmp, progress, cancelled, log)
        progress(0.96, "Writing the Modelfile and the card…")
        result = output.finish(tmp, p.src, recipe, p.cfg, folder, files, p.out.name, time.time() - started)
        shutil.rmtree(tmp / "merged", ignore_errors=True)
        _place(tmp, p.out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for f in files:
        f["file"] = str(p.out / f["file"])
    result.update(out=str(p.out), files=files)
    if recipe.push:
        result["url"] = hub.publish(p.out, recipe.push, token, private=recipe.private, overwrite=recipe.overwrite,
                                progress=lambda f, m="": progress(0.97 + 0.03 * f, m), log=log)
    log(f"Exported {p.src.ref} to {p.out} ({', '.join(f['type'] for f in files)}).")
    return result


def _license(src: sources.Source) -> str:
    return inherit_license(src.parents())[0]


def _place(tmp: Path, out: Path) -> None:
    """Rename the finished folder into place; an overwritten one is swapped out first, then deleted."""
    old = out.parent / f".{out.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)
