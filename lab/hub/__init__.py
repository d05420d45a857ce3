"""The Hub layer: search, metadata, previews, downloads and publishing, against lab.settings.hub_endpoint().

Every call takes the token as an argument and never keeps it. Names are imported on first use, so
`python -m lab push` loads only what pushing needs. lab.hub.jobs registers the `hub.push` job kind.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "search_models": "search", "search_datasets": "search", "local_models": "search", "SearchResult": "search",
    "model_meta": "meta", "dataset_preview": "meta", "download_model": "download", "download_dataset": "download",
    "publish": "publisher", "validate_repo_name": "client", "full_repo_id": "client", "repo_url": "client",
    "whoami": "client",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"lab.hub.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'lab.hub' has no attribute {name!r}")
