"""`python -m lab export REF --gguf TYPE [--gguf TYPE …] [--out DIR] [--push REPO]`: prints JSON per file:
{"file", "type", "bytes", "architecture", "check"} (a list when several types are asked for)."""
from __future__ import annotations

import json
import sys

import lab.export
from lab.auth import local_token
from lab.export import core, recipe as export_recipe, worker
from lab.export.worker import result_of
from lab.jobs import manager


def add_parsers(sub) -> None:
    p = sub.add_parser("export", help="Export a model to GGUF (llama.cpp, Ollama), check each file; prints JSON.")
    p.add_argument("source", metavar="REF", help="An artifact folder, a Hub id, the bundled model, an adapter "
                   "folder or BASE+ADAPTER_FOLDER.")
    p.add_argument("--gguf", action="append", required=True, metavar="TYPE",
                   help="f16, bf16, q8_0 or q4_0 (K-quants with llama.cpp's quantizer); repeat for several files.")
    p.add_argument("--out", default="", help="Output folder. Default: LAB_HOME/artifacts/<source name>-gguf.")
    p.add_argument("--overwrite", action="store_true", help="Replace an existing output folder (and Hub repo).")
    p.add_argument("--push", default="", metavar="REPO", help="Publish the folder as a GGUF repo (private).")
    p.add_argument("--public", action="store_true", help="With --push: make the new repo public.")
    p.add_argument("--no-check", action="store_true", help="Skip the transformers reload (the reader check stays).")
    p.add_argument("--job", action="store_true", help="Run as a background job and wait for it (as the UI does).")
    p.set_defaults(func=_export)


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _files(result: dict):
    keys = ("file", "type", "bytes", "architecture", "check")
    files = [{k: f[k] for k in keys} for f in result["files"]]
    return files[0] if len(files) == 1 else files


def _export(args) -> int:
    recipe = export_recipe.build(source=args.source, types=[t for g in args.gguf for t in g.split(",") if t], out=args.out,
                   overwrite=args.overwrite, check=not args.no_check, push=args.push, private=not args.public)
    token = local_token()
    if args.job:
        return _as_job(recipe, token)

    def progress(fraction: float, message: str = "") -> None:
        _err(f"[{fraction * 100:5.1f}%] {message}")

    result = core.export(recipe, token=token, progress=progress, log=_err)
    _print(_files(result))
    return 0


def _as_job(recipe, token) -> int:
    job = worker.submit(recipe, token)
    _err(f"Job {job.id} started; follow it with `python -m lab jobs show {job.id}`.")
    job = manager.wait(job.id, timeout=24 * 3600)
    if job.state != "succeeded":
        _err(f"error: export job {job.id} {job.state}: {job.error}")
        return 2
    _print(_files(result_of(job)))
    return 0


def _print(obj) -> None:
    json.dump(obj, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
