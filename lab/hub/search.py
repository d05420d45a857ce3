"""Search the Hub for models and datasets; offline (or when the Hub does not answer), list local ones instead."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lab.artifacts import list_artifacts
from lab.errors import LabError
from lab.hub.client import api, is_unreachable, translate
from lab.jobs.owners import visible_artifacts
from lab.models import available_offline
from lab.models.usable import artifact_value, shown_to
from lab.settings import bundled_folder, get_settings, is_bundled, is_offline

SORTS = {"downloads": "downloads", "likes": "likes", "trending": "trending_score"}
MODEL_COLUMNS = ["id", "downloads", "likes", "architecture", "license"]
DATASET_COLUMNS = ["id", "downloads", "likes", "license", "tags"]
_MODEL_EXPAND = ["downloads", "likes", "trendingScore", "library_name", "pipeline_tag", "tags", "config", "cardData"]
_DATASET_EXPAND = ["downloads", "likes", "trendingScore", "tags", "cardData"]
OFFLINE_NOTICE = ("Offline: the Hub is not reachable, so these are the models on this machine "
                  "(LAB_HOME artifacts, the Hugging Face cache and the bundled model).")


@dataclass
class SearchResult:
    rows: list[dict]
    offline: bool = False
    notice: str = ""
    columns: list[str] = field(default_factory=lambda: list(MODEL_COLUMNS))

    def table(self) -> list[list]:
        return [["" if r.get(c) is None else r.get(c) for c in self.columns] for r in self.rows]

    def to_dict(self) -> dict:
        return {"offline": self.offline, "notice": self.notice, "rows": self.rows}


def _check(sort: str, limit: int) -> tuple[str, int]:
    if sort not in SORTS:
        raise LabError(f"Unknown sort {sort!r}.", f"Use one of: {', '.join(SORTS)}.", "sort")
    try:
        limit = int(limit)
    except (TypeError, ValueError):
        raise LabError(f"limit={limit!r} is not a whole number.", "Use a number from 1 to 100.", "limit") from None
    if not 1 <= limit <= 100:
        raise LabError(f"limit={limit} is out of range.", "Use a number from 1 to 100.", "limit")
    return SORTS[sort], limit


def _license(card, tags) -> str:
    lic = getattr(card, "license", None) if card is not None else None
    if not lic:
        lic = next((t.split(":", 1)[1] for t in tags or [] if t.startswith("license:")), "")
    return str(lic or "")


def _model_row(m) -> dict:
    cfg = m.config or {}
    return {"id": m.id, "downloads": m.downloads, "likes": m.likes, "trending": m.trending_score,
            "architecture": (cfg.get("architectures") or [cfg.get("model_type") or ""])[0],
            "model_type": cfg.get("model_type", ""), "license": _license(m.card_data, m.tags),
            "library": m.library_name or "", "pipeline": m.pipeline_tag or "", "source": "hub"}


def _dataset_row(d) -> dict:
    tags = [t for t in d.tags or [] if ":" not in t][:6]
    return {"id": d.id, "downloads": d.downloads, "likes": d.likes, "trending": d.trending_score,
            "license": _license(d.card_data, d.tags), "tags": ", ".join(tags), "source": "hub"}


def search_models(query: str = "", *, library: str = "", architecture: str = "", author: str = "",
                  sort: str = "downloads", limit: int = 20, token: str | None = None, caller=None) -> SearchResult:
    """Models on the Hub matching `query` (filters: library, architecture/model type, author), best first.
    Offline, the models on this machine that `caller` may use (lab.access; None: all of them)."""
    sort_key, limit = _check(sort, limit)
    if is_offline():
        return SearchResult(local_models(query, caller), True, OFFLINE_NOTICE)
    tags = [t.strip() for t in (library, architecture) if t and t.strip()]
    try:
        found = api(token).list_models(search=query.strip() or None, author=author.strip() or None,
                                       filter=tags or None, sort=sort_key, limit=limit, expand=_MODEL_EXPAND)
        rows = [_model_row(m) for m in found]
    except Exception as exc:
        if is_unreachable(exc):
            return SearchResult(local_models(query, caller), True, OFFLINE_NOTICE)
        raise translate(exc, "Searching the Hub", field="query") from None
    notice = "" if rows else f"No models on the Hub match {query!r}."
    return SearchResult(rows, False, notice)


def search_datasets(query: str = "", *, author: str = "", sort: str = "downloads", limit: int = 20,
                    token: str | None = None, caller=None) -> SearchResult:
    sort_key, limit = _check(sort, limit)
    offline_notice = OFFLINE_NOTICE.replace("models", "datasets").replace(" and the bundled model", "")
    if is_offline():
        return SearchResult(local_datasets(query, caller), True, offline_notice, list(DATASET_COLUMNS))
    try:
        found = api(token).list_datasets(search=query.strip() or None, author=author.strip() or None,
                                         sort=sort_key, limit=limit, expand=_DATASET_EXPAND)
        rows = [_dataset_row(d) for d in found]
    except Exception as exc:
        if is_unreachable(exc):
            return SearchResult(local_datasets(query, caller), True, offline_notice, list(DATASET_COLUMNS))
        raise translate(exc, "Searching the Hub", field="query") from None
    notice = "" if rows else f"No datasets on the Hub match {query!r}."
    return SearchResult(rows, False, notice, list(DATASET_COLUMNS))


# ---- offline: what is on this machine
def _readme_license(folder: Path) -> str:
    readme = folder / "README.md"
    if not readme.is_file():
        return ""
    text = readme.read_text(errors="replace")
    try:
        meta = yaml.safe_load(text.split("---", 2)[1]) if text.startswith("---") else {}
    except (yaml.YAMLError, IndexError):
        return ""
    return str((meta or {}).get("license") or "")


def _architecture(folder: Path | None) -> str:
    cfg = folder / "config.json" if folder else None
    if cfg is None or not cfg.is_file():
        return ""
    try:
        data = json.loads(cfg.read_text())
    except json.JSONDecodeError:
        return ""
    return (data.get("architectures") or [data.get("model_type") or ""])[0]


def _cached_folder(repo_id: str, repo_type: str = "model") -> Path | None:
    from huggingface_hub import try_to_load_from_cache  # heavy: huggingface_hub

    for name in ("config.json", "adapter_config.json", "README.md"):
        path = try_to_load_from_cache(repo_id, name, repo_type=repo_type)
        if isinstance(path, str):
            return Path(path).parent
    return None


def _artifacts(caller) -> list[dict]:
    """The artifacts `caller` may see (all of them for None), each with the name a picker gives it."""
    if caller is None:
        return [{**m, "id": m["path"]} for m in list_artifacts()]
    return [{**m, "id": artifact_value(caller, m["path"])} for m in visible_artifacts(caller)]


def local_models(query: str = "", caller=None) -> list[dict]:
    """Models usable offline: the bundled default, the HF cache, LAB_HOME model/adapter/merge artifacts (those
    `caller` may use, by the name it may send back; None: every artifact, by path)."""
    rows = []
    for name in available_offline():
        path = Path(name)
        if path.is_absolute():
            continue  # artifacts are listed below, with their manifest
        if caller is not None and not shown_to(caller, name):
            continue  # the cache holds the owner's downloads, private ones too
        ours = is_bundled(name)
        folder = bundled_folder() if ours else _cached_folder(name)
        lic = _readme_license(folder) if folder and folder.is_dir() else ""
        rows.append({"id": name, "architecture": _architecture(folder) or ("LlamaForCausalLM" if ours else ""),
                     "license": lic or ("apache-2.0" if ours else ""),  # SmolLM2's license
                     "source": "bundled" if ours else "cache"})
    for m in _artifacts(caller):
        if m.get("kind") in ("model", "merge", "adapter"):
            rows.append({"id": m["id"], "architecture": _architecture(Path(m["path"])) or m["kind"],
                         "license": m.get("license", ""), "source": "artifact"})
    q = (query or "").strip().lower()
    return [r for r in rows if q in r["id"].lower()]


def local_datasets(query: str = "", caller=None) -> list[dict]:
    rows = [{"id": m["id"], "license": m.get("license", ""), "tags": ", ".join(m.get("tags", [])),
             "source": "artifact"} for m in _artifacts(caller) if m.get("kind") in ("dataset", "votes")]
    try:
        from huggingface_hub import scan_cache_dir  # heavy: huggingface_hub

        rows += [{"id": r.repo_id, "license": "", "tags": "", "source": "cache"}
                 for r in scan_cache_dir().repos if r.repo_type == "dataset"
                 and (caller is None or caller.is_owner or not get_settings().on_space)]
    except Exception:  # no cache folder yet
        pass
    q = (query or "").strip().lower()
    return [r for r in rows if q in r["id"].lower()]
