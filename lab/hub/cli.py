"""`python -m lab hub …` (search, info, preview, download) and `python -m lab push ARTIFACT_DIR --repo NAME`.

The token comes from HF_TOKEN or the stored huggingface_hub login (lab.auth.local_token()); it is never printed.
"""
from __future__ import annotations

import sys

from lab import hub
from lab.auth import local_token
from lab.hub import dataset_preview, download_dataset, download_model, model_meta, search_datasets, search_models
from lab.ui_text import print_json

SORTS = ("downloads", "likes", "trending")  # lab.hub.search.SORTS (not imported: `push` should start fast)


def add_parsers(sub) -> None:
    h = sub.add_parser("hub", help="Search the Hub, read model facts, preview datasets, download models.")
    hsub = h.add_subparsers(dest="hub_cmd", required=True)
    s = hsub.add_parser("search", help="Search models (or --datasets); offline it lists local models.")
    s.add_argument("query", nargs="?", default="")
    s.add_argument("--datasets", action="store_true", help="Search datasets instead of models.")
    s.add_argument("--sort", choices=sorted(SORTS), default="downloads")
    s.add_argument("--limit", type=int, default=20)
    s.add_argument("--author", default="")
    s.add_argument("--library", default="", help="Models only, e.g. transformers or peft.")
    s.add_argument("--architecture", default="", help="Models only: a model type such as llama or qwen2.")
    s.add_argument("--json", action="store_true", help="Print JSON.")
    s.set_defaults(func=_search)
    i = hsub.add_parser("info", help="Facts of a Hub model from config.json and its card (no weights).")
    i.add_argument("repo")
    i.set_defaults(func=_info)
    p = hsub.add_parser("preview", help="The first rows of a Hub dataset.")
    p.add_argument("repo")
    p.add_argument("--rows", type=int, default=10)
    p.set_defaults(func=_preview)
    d = hsub.add_parser("download", help="Download a model (safetensors, config, tokenizer only) or a dataset.")
    d.add_argument("repo")
    d.add_argument("--dataset", action="store_true")
    d.set_defaults(func=_download)

    push = sub.add_parser("push", help="Publish an artifact folder to the Hub (private unless --public).")
    push.add_argument("folder", metavar="ARTIFACT_DIR")
    push.add_argument("--repo", required=True, help="NAME (under your user) or OWNER/NAME.")
    push.add_argument("--public", action="store_true", help="Make the new repo public (default: private).")
    push.add_argument("--overwrite", action="store_true", help="Replace the files of an existing repo.")
    push.add_argument("--gate", default="", metavar="TASK",
                      help="Push only if the artifact's score on TASK is at least its base's (see `lab eval`).")
    push.set_defaults(func=_push)



def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _search(args) -> int:
    if args.datasets:
        result = search_datasets(args.query, author=args.author, sort=args.sort, limit=args.limit,
                                 token=local_token())
    else:
        result = search_models(args.query, library=args.library, architecture=args.architecture, author=args.author,
                               sort=args.sort, limit=args.limit, token=local_token())
    if args.json:
        print_json(result.to_dict())
        return 0
    if result.notice:
        _err(result.notice)
    for row in result.table():
        print("  ".join(str(v) for v in row))
    return 0


def _info(args) -> int:
    print_json(model_meta(args.repo, token=local_token()))
    return 0


def _preview(args) -> int:
    print_json(dataset_preview(args.repo, args.rows, token=local_token()))
    return 0


def _download(args) -> int:
    fetch = download_dataset if args.dataset else download_model
    print_json({"repo": args.repo, "folder": str(fetch(args.repo, token=local_token(), log=_err))})
    return 0


def _push(args) -> int:
    def progress(fraction: float, message: str) -> None:
        _err(f"[{fraction * 100:5.1f}%] {message}")

    url = hub.publish(args.folder, args.repo, local_token(), private=not args.public, overwrite=args.overwrite,
                  progress=progress, log=_err, gate_task=args.gate)
    print_json({"url": url, "repo": url.rsplit("/", 2)[-2] + "/" + url.rsplit("/", 1)[-1], "private": not args.public})
    return 0
