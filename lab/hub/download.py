"""Snapshot downloads that take only what the lab loads: safetensors, config and tokenizer files.

Same patterns and the same `.bin`-only refusal as lab.models.resolve, but always against
lab.settings.hub_endpoint() and with clear errors for every Hub failure.
"""
from __future__ import annotations

from pathlib import Path

from lab.errors import LabError
from lab.hub.client import api, hub_errors
from lab.hub.meta import DATA_EXT
from lab.models.resolve import CONFIG_PATTERNS, WEIGHT_PATTERNS, available_offline, check_safetensors
from lab.repo_id import check_repo_id
from lab.settings import hub_endpoint, is_offline

DATASET_PATTERNS = [f"*{ext}" for ext in DATA_EXT] + [f"**/*{ext}" for ext in DATA_EXT] + ["README.md"]


def _check(repo_id: str, field: str) -> str:
    repo_id = check_repo_id(repo_id, field)
    if is_offline():
        names = ", ".join(available_offline()) or "none"
        raise LabError(f"The Hub is not reachable, so {repo_id} cannot be downloaded. Available offline: {names}.",
                       "Connect to the internet, or pick a model available offline.", field)
    return repo_id


def cached_model(repo_id: str, patterns: list[str]) -> Path | None:
    """The HF cache's snapshot of repo_id with these files, without the network; None if none is cached."""
    from huggingface_hub import snapshot_download  # heavy: huggingface_hub

    try:
        path = Path(snapshot_download(repo_id, allow_patterns=patterns, local_files_only=True))
    except Exception:  # not cached (or a partial cache): the caller downloads
        return None
    return path if any(path.rglob("*.safetensors")) else None


def download_model(repo_id: str, token: str | None = None, log=print, patterns: list[str] | None = None) -> Path:
    """A local folder with config, tokenizer and *.safetensors weights of a Hub model (or adapter).
    `patterns` replaces the files taken (a sentence-transformers repo has more configs); pickles never match."""
    from huggingface_hub import snapshot_download  # heavy: huggingface_hub

    repo_id = _check(repo_id, "model")
    with hub_errors("Listing the model's files", repo_id, "model"):
        files = api(token).list_repo_files(repo_id)
    if "adapter_config.json" not in files:
        check_safetensors(repo_id, files)  # refuses .bin-only repos before any byte is fetched
    elif not any(f.endswith(".safetensors") for f in files):
        raise LabError(f"{repo_id} is an adapter without *.safetensors weights.",
                       "Pick an adapter saved with safetensors.", "model")
    log(f"Downloading {repo_id} (config, tokenizer, safetensors only)…")
    with hub_errors("Downloading the model", repo_id, "model"):
        path = snapshot_download(repo_id, allow_patterns=patterns or CONFIG_PATTERNS + WEIGHT_PATTERNS,
                                 token=token or False, endpoint=hub_endpoint())
    return Path(path)


def download_dataset(repo_id: str, token: str | None = None, log=print) -> Path:
    """A local folder with a Hub dataset's data files (parquet, JSON(L), CSV) and its card."""
    from huggingface_hub import snapshot_download  # heavy: huggingface_hub

    repo_id = _check(repo_id, "dataset")
    log(f"Downloading dataset {repo_id} (data files and card only)…")
    with hub_errors("Downloading the dataset", repo_id, "dataset"):
        path = snapshot_download(repo_id, repo_type="dataset", allow_patterns=DATASET_PATTERNS, token=token or False,
                                 endpoint=hub_endpoint())
    if not any(p.suffix.lower() in DATA_EXT for p in Path(path).rglob("*")):
        raise LabError(f"{repo_id} has no data files the lab reads ({', '.join(DATA_EXT)}).",
                       "Pick a dataset stored as parquet, JSON(L) or CSV.", "dataset")
    return Path(path)
