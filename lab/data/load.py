"""Read sources (files and Hub datasets) into rows, detect their format and normalize them.

Files: .jsonl, .json, .csv, .parquet (uploads capped at LAB_MAX_UPLOAD_MB); corrupt JSON is reported with its line.
Hub datasets go through the `datasets` library (which honours HF_ENDPOINT): a streaming preview, and a full
load with num_proc for runs. A dataset reference (a Data-tab artifact, an upload, a file or a Hub id) becomes a
Source (source_for), and load_rows gives its rows in the shape the trainers take (training, eval's contamination).
"""
from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from lab import uploads
from lab.data import formats
from lab.data.formats import NeedsMapping
from lab.data.recipe import Source
from lab.errors import LabError
from lab.hub.client import hub_errors
from lab.repo_id import is_repo_id
from lab.settings import check_space_path, get_settings, is_offline

SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
PREVIEW_ROWS = 5
DATA_FILE = "data.parquet"  # a dataset artifact's rows, as the Data tab exports them
WRAPPERS = ("data", "rows", "train", "examples", "records", "items")  # {"data": [rows]} JSON files


@dataclass
class Loaded:
    """One source, normalized: rows in the format's form, plus what the UI shows about it."""
    source: Source
    format: str
    form: str
    columns: list[str]
    rows: list[dict] = field(repr=False)

    @property
    def label(self) -> str:
        return self.source.label


def _check_file(path: Path) -> Path:
    if not path.is_file():
        raise LabError(f"No file at {path}.", "Upload the file again, or check the path.", "file")
    if path.suffix.lower() not in SUFFIXES:
        raise LabError(f"{path.name} is a {path.suffix or 'suffix-less'} file; the lab reads "
                       f"{', '.join(SUFFIXES)}.", "Convert it to JSON Lines, JSON, CSV or Parquet.", "file")
    return path


def _check_upload_size(path: Path) -> None:
    """LAB_MAX_UPLOAD_MB caps what a browser uploads; local files (CLI, training) are read whatever their size."""
    cap = get_settings().max_upload_mb
    size_mb = path.stat().st_size / 1024 / 1024
    if size_mb > cap:
        raise LabError(f"{path.name} is {size_mb:.1f} MB, above the {cap} MB limit for uploads.",
                       "Upload a smaller file, use a Hub dataset, or (running the lab yourself) raise "
                       "LAB_MAX_UPLOAD_MB or give the file's path to the CLI.", "file")


def _jsonl(text: str, name: str) -> list[dict]:
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LabError(f"{name}: line {n} is not valid JSON ({exc.msg} at column {exc.colno}).",
                           f"Fix line {n} (one JSON object per line), then load the file again.", "file") from None
        if not isinstance(row, dict):
            raise LabError(f"{name}: line {n} is a JSON {type(row).__name__}, not an object.",
                           "Write one JSON object per line.", "file")
        rows.append(row)
    return rows


def _json(text: str, name: str) -> list[dict]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # one object per line, in a .json file
            return _jsonl(text, name)
        raise LabError(f"{name}: invalid JSON at line {exc.lineno}, column {exc.colno} ({exc.msg}).",
                       f"Fix line {exc.lineno}, then load the file again.", "file") from None
    if isinstance(data, dict):  # {"data": [...]}, {"train": [...]}, or a single row
        wrapped = [data[k] for k in WRAPPERS if isinstance(data.get(k), list)]
        data = wrapped[0] if len(data) == 1 and wrapped else [data]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise LabError(f"{name}: the JSON is not a list of objects (one per row).",
                       "Save the rows as a JSON array of objects, or as JSON Lines.", "file")
    return data


def _csv(path: Path) -> list[dict]:
    import pandas as pd  # heavy: pandas

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise LabError(f"{path.name}: not a readable CSV ({str(exc).strip()[:300]}).",
                       "Fix the line it names (quotes, column count), or save as UTF-8 CSV.", "file") from None
    return frame.to_dict("records")


def _parquet(path: Path) -> list[dict]:
    import pyarrow as pa  # heavy: pyarrow
    import pyarrow.parquet as pq  # heavy: pyarrow

    try:
        return pq.read_table(path).to_pylist()
    except (pa.ArrowException, OSError) as exc:
        raise LabError(f"{path.name}: not a readable Parquet file ({exc}).", "Re-export it as Parquet.",
                       "file") from None


def data_path(text, field: str = "file") -> Path:
    """The local data file (or dataset folder) a reference names: `upload:HASH/NAME` (an upload the lab keeps), an
    artifact by its folder name, or a path (on a Space only inside the lab's folders, refused alike whether or not
    it exists)."""
    text = str(text or "").strip()
    s = get_settings()
    if text.startswith(uploads.PREFIX):
        return uploads.path_of(text, field)
    if text and "/" not in text and "\\" not in text and (s.artifacts / text).is_dir():
        return (s.artifacts / text).resolve()
    return check_space_path(Path(text).expanduser(), field)


def read_file(path, limit: int | None = None) -> list[dict]:
    """The rows of a local data file, as dicts (on a Space: an upload or an artifact of the lab only)."""
    path = _check_file(data_path(path))
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise LabError(f"{path.name} is not UTF-8 text (byte {exc.start}).", "Save it as UTF-8.", "file") from None
        rows = _jsonl(text, path.name) if suffix == ".jsonl" else _json(text, path.name)
    else:
        rows = _csv(path) if suffix == ".csv" else _parquet(path)
    if not rows:
        raise LabError(f"{path.name} holds no rows.", "Load a file with at least one row.", "file")
    return rows[:limit] if limit else rows


def store_upload(path, owner: str = "") -> Path:
    """Keep an uploaded data file in LAB_HOME/uploads, noting who uploaded it (lab.uploads)."""
    path = _check_file(check_space_path(Path(path), "file", uploads_only=True))
    _check_upload_size(path)
    return uploads.store(path, owner)


def _hub_call(action: str, repo: str):
    return hub_errors(action, repo, "hub")


def _hub_dataset(source: Source, token: str | None, streaming: bool):
    if is_offline():
        raise LabError(f"The Hub is unreachable (offline), so {source.hub} cannot be read.",
                       "Connect to the Hub, or upload the data as a file.", "hub")
    import datasets  # heavy: datasets

    split = source.split or "train"
    if source.limit and not streaming:
        split = f"{split}[:{source.limit}]"
    kwargs = dict(name=source.config or None, split=split, revision=source.revision or None, token=token or False)
    with _hub_call(f"Reading {source.hub}", source.hub):
        if streaming:
            return datasets.load_dataset(source.hub, streaming=True, **kwargs)
        return datasets.load_dataset(source.hub, num_proc=min(4, os.cpu_count() or 1), **kwargs)


def hub_preview(source: Source, n: int = PREVIEW_ROWS, token: str | None = None) -> list[dict]:
    """The first n raw rows of a Hub dataset split, streamed (nothing else is downloaded)."""
    ds = _hub_dataset(source, token, streaming=True)
    with _hub_call(f"Streaming {source.hub}", source.hub):
        return [dict(r) for r in itertools.islice(ds, n)]


def raw_rows(source: Source, token: str | None = None) -> list[dict]:
    if source.path:
        return read_file(source.path, source.limit)
    if get_settings().demo and source.limit:  # the public demo streams the few rows it reads, nothing more
        ds = _hub_dataset(source, token, streaming=True)
        with _hub_call(f"Streaming {source.hub}", source.hub):
            return [dict(r) for r in itertools.islice(ds, source.limit)]
    with _hub_call(f"Loading {source.hub}", source.hub):
        return _hub_dataset(source, token, streaming=False).to_list()


def _columns(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(k for r in rows[:100] for k in r))


def normalize_source(source: Source, rows: list[dict]) -> Loaded:
    """Detect (or apply the chosen) format and convert every row; NeedsMapping when it is ambiguous."""
    columns = _columns(rows)
    if source.format == "auto" and not source.columns:
        name = formats.detect(columns, rows[:5])
    elif source.format == "auto":
        raise LabError("A column mapping needs a format.", "Pick the format the mapped columns follow.", "format")
    else:
        name = source.format
    fmt = formats.get_format(name)
    formats.check_mapping(columns, fmt, source.columns)
    converted = formats.convert_rows(rows, fmt, source.columns, source.label)
    return Loaded(source, name, fmt.form, columns, converted)


def load_source(source: Source, token: str | None = None) -> Loaded:
    return normalize_source(source, raw_rows(source, token))


def dataset_path(ref: str, field: str = "dataset") -> Path | None:
    """The local file or folder a dataset reference names (an artifact by name, `upload:HASH/NAME`, a path; on a
    Space only inside the lab's folders), or None for a Hub id."""
    ref = (ref or "").strip()
    if not ref:
        raise LabError("No dataset chosen.", "Pick a Data-tab artifact, upload a file or give a Hub id.", field)
    if is_repo_id(ref) and not _exists(ref):
        return None
    return data_path(ref, field)


def _exists(ref: str) -> bool:
    try:
        return Path(ref).expanduser().exists()
    except (OSError, ValueError):
        return False


def source_for(ref: str, split: str = "train", max_rows: int | None = None):
    """A lab.data Source for a dataset reference (artifact, upload, file or Hub id)."""
    path = dataset_path(ref)
    if path is None:
        return Source(hub=ref.strip(), split=split, limit=max_rows)
    if path.is_dir():
        data = path / DATA_FILE
        if not data.is_file():
            found = sorted(p for s in ("*.parquet", "*.jsonl", "*.json") for p in path.glob(s) if p.name != "lab.json")
            if not found:
                raise LabError(f"The folder {path.name} holds no {DATA_FILE} (nor another data file).",
                               "Pick a dataset artifact made by the Data tab, or a data file.", "dataset")
            data = found[0]
        return Source(path=str(data), limit=max_rows)
    if path.is_file():
        return Source(path=str(path), limit=max_rows)
    raise LabError(f"No dataset at {ref.strip()[:200]!r}.", "Give a Data-tab artifact, a data file or a Hub id.",
                   "dataset")


def _shape(row: dict, form: str) -> dict:
    if form == "preference":
        return {"prompt": row["prompt"], "chosen": row["chosen"], "rejected": row["rejected"]}
    if form == "prompt_completion":
        return {"messages": row["prompt"] + row["completion"], "n_context": len(row["prompt"])}
    if form == "text":
        return {"text": str(row["text"])}
    return {"messages": row["messages"], "n_context": 0}


def load_rows(ref: str, split: str = "train", max_rows: int | None = None,
              token: str | None = None) -> tuple[list[dict], str]:
    """(rows in the trainers' shape, form) where form is messages | prompt_completion | preference | text. The
    shapes: {"messages": [...], "n_context": k} (assistant turns at index >= k are trained), {"text": str} (plain
    language modelling) and {"prompt": [...], "chosen": [...], "rejected": [...]}."""
    source = source_for(ref, split, max_rows)
    raw = raw_rows(source, token)
    try:
        loaded = normalize_source(source, raw)
        rows, form = loaded.rows, loaded.form
    except NeedsMapping:
        if not raw or "text" not in raw[0]:
            raise
        rows, form = raw, "text"  # plain text: language modelling on every token
    if not rows:
        raise LabError(f"The dataset {ref} has no rows.", "Pick a dataset with rows.", "dataset")
    return [_shape(r, form) for r in rows], form
