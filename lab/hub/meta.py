"""What a Hub repo is, without its weights: model facts from config.json plus card data; dataset previews."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from lab.errors import LabError
from lab.hub.client import api, hub_errors
from lab.models.info import info_from_folder
from lab.repo_id import check_repo_id
from lab.settings import hub_endpoint, is_offline

DATA_EXT = (".parquet", ".jsonl", ".json", ".csv", ".tsv")
PREVIEW_BYTES = 1024 * 1024  # line formats: read only the first MiB
MAX_PREVIEW_FILE_MB = 200  # whole-file formats (parquet, json): refuse bigger ones


def _offline(repo_id: str, field: str) -> LabError:
    return LabError(f"The Hub is not reachable, so {repo_id} cannot be read.",
                    "Connect to the internet (or pick a local model or dataset).", field)


def _as_list(value) -> list:
    if not value:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def model_meta(repo_id: str, token: str | None = None) -> dict:
    """Facts from config.json (architecture, size, context…) plus card data (license, base_model, tags, pipeline)."""
    from huggingface_hub import hf_hub_download  # heavy: huggingface_hub

    repo_id = check_repo_id(repo_id, "model")
    if is_offline():
        raise _offline(repo_id, "model")
    with hub_errors("Reading the model's facts", repo_id, "model"):
        info = api(token).model_info(repo_id)
    files = [s.rfilename for s in info.siblings or []]
    if "config.json" not in files:
        raise LabError(f"{repo_id} has no config.json, so it is not a transformers model.",
                       "Pick a transformers model repo.", "model")
    small = [f for f in ("config.json", "tokenizer_config.json", "chat_template.jinja") if f in files]
    with hub_errors("Downloading config.json", repo_id, "model"):
        paths = [hf_hub_download(repo_id, f, token=token or False, endpoint=hub_endpoint()) for f in small]
    facts = info_from_folder(Path(paths[0]).parent)  # config files only: never the weights
    if info.safetensors is not None and info.safetensors.total:
        facts.update(params=info.safetensors.total, params_exact=True)
    card = info.card_data.to_dict() if info.card_data is not None else {}
    facts.update({
        "repo": repo_id, "license": str(card.get("license") or ""), "base_model": _as_list(card.get("base_model")),
        "datasets": _as_list(card.get("datasets")), "tags": list(info.tags or []),
        "pipeline": info.pipeline_tag or card.get("pipeline_tag") or "", "library": info.library_name or "",
        "downloads": info.downloads, "likes": info.likes, "files": files,
        "safetensors": any(f.endswith(".safetensors") for f in files),
        "pickle_only": not any(f.endswith(".safetensors") for f in files) and any(
            f.endswith((".bin", ".pt", ".pth", ".ckpt")) for f in files),
    })
    return facts


# ---- dataset preview
def _pick_data_file(files: list[str]) -> str | None:
    """A train split first; among formats, those a partial read can preview first."""
    order = (".jsonl", ".csv", ".tsv", ".parquet", ".json")
    data = [f for f in files if f.lower().endswith(DATA_EXT)]
    key = lambda f: ("train" not in f.lower(), order.index(Path(f).suffix.lower()), f)  # noqa: E731
    return min(data, key=key) if data else None


def _rows_from_text(text: str, suffix: str, n: int, complete: bool) -> list[dict]:
    if not complete:  # drop the partial last line of a ranged read
        text = text[: text.rfind("\n") + 1]
    if suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()][:n]
    reader = csv.DictReader(io.StringIO(text), delimiter="\t" if suffix == ".tsv" else ",")
    return [row for _, row in zip(range(n), reader)]


def _rows_from_file(path: Path, n: int) -> list[dict]:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq  # heavy: pyarrow

        batch = next(pq.ParquetFile(path).iter_batches(batch_size=n), None)
        return batch.to_pylist() if batch is not None else []
    if suffix == ".json":
        data = json.loads(path.read_text())
        if isinstance(data, dict):  # {"data": [...]} or {"train": [...]}
            data = next((v for v in data.values() if isinstance(v, list)), [data])
        return list(data)[:n]
    return _rows_from_text(path.read_text(errors="replace"), suffix, n, True)


def _ranged_text(repo_id: str, filename: str, token: str | None) -> tuple[str, bool]:
    """The first MiB of a file (and whether that was all of it), read with an HTTP Range request."""
    from huggingface_hub import hf_hub_url  # heavy: huggingface_hub
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status  # heavy: huggingface_hub

    url = hf_hub_url(repo_id, filename, repo_type="dataset", endpoint=hub_endpoint())
    headers = {**build_hf_headers(token=token or False), "Range": f"bytes=0-{PREVIEW_BYTES - 1}"}
    r = get_session().get(url, headers=headers, follow_redirects=True)
    hf_raise_for_status(r)
    total = r.headers.get("Content-Range", "").rsplit("/", 1)[-1]
    complete = r.status_code == 200 or (total.isdigit() and int(total) <= PREVIEW_BYTES)
    return r.content.decode("utf-8", errors="replace"), complete


def _check_n(n) -> int:
    try:
        n = int(n)
    except (TypeError, ValueError):
        raise LabError(f"rows={n!r} is not a whole number.", "Use a number from 1 to 1000.", "rows") from None
    if not 1 <= n <= 1000:
        raise LabError(f"rows={n} is out of range.", "Use a number from 1 to 1000.", "rows")
    return n


def dataset_preview(repo_id: str, n: int = 10, token: str | None = None) -> dict:
    """The first n rows of a Hub dataset's first data file (a train split when there is one)."""
    from huggingface_hub import hf_hub_download  # heavy: huggingface_hub

    n = _check_n(n)
    repo_id = check_repo_id(repo_id, "dataset")
    if is_offline():
        raise _offline(repo_id, "dataset")
    with hub_errors("Reading the dataset", repo_id, "dataset"):
        info = api(token).dataset_info(repo_id, files_metadata=True)
    sizes = {s.rfilename: s.size or 0 for s in info.siblings or []}
    name = _pick_data_file(list(sizes))
    if name is None:
        raise LabError(f"{repo_id} has no data file the lab can preview ({', '.join(DATA_EXT)}).",
                       "Pick a dataset stored as parquet, JSON(L) or CSV.", "dataset")
    suffix = Path(name).suffix.lower()
    with hub_errors("Reading the dataset", repo_id, "dataset"):
        if suffix in (".jsonl", ".csv", ".tsv"):
            text, complete = _ranged_text(repo_id, name, token)
            rows = _rows_from_text(text, suffix, n, complete)
        else:
            if sizes[name] > MAX_PREVIEW_FILE_MB * 1024 * 1024:
                raise LabError(f"{name} is {sizes[name] / 1e6:.0f} MB, too big to preview here.",
                               "Open it on the Hub's dataset viewer instead.", "dataset")
            path = hf_hub_download(repo_id, name, repo_type="dataset", token=token or False, endpoint=hub_endpoint())
            rows = _rows_from_file(Path(path), n)
    columns = list(dict.fromkeys(k for r in rows if isinstance(r, dict) for k in r))
    return {"repo": repo_id, "file": name, "columns": columns, "rows": rows}
