"""Where things live and the limits, read from the environment once.

Call `get_settings.cache_clear()` after changing the environment (tests do).
"""
from __future__ import annotations

import os
import socket
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

from lab.errors import LabError

DEFAULT_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"
BUNDLED_IDS = {DEFAULT_MODEL.lower(): DEFAULT_MODEL}  # the Hub ids the bundled model answers to (lab.models.bundled)


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw else default
    except ValueError:
        raise LabError(f"{name}={raw!r} is not a whole number.", f"Set {name} to an integer or unset it.", name)


def _gb(name: str) -> float | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise LabError(f"{name}={raw!r} is not a positive number of gigabytes.",
                       f"Set {name} to a size in GB such as 20 or 12.5, or unset it.", name)
    return value


def _share(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        raise LabError(f"{name}={raw!r} is not a share between 0 and 1.", f"Set {name} to e.g. 0.9, or unset it.",
                       name)
    return value


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def default_home() -> Path:
    """/data when a Space has persistent storage attached, else ~/.cache/lab."""
    data = Path("/data")
    if data.is_dir() and os.access(data, os.W_OK):
        return data / "lab"
    return Path.home() / ".cache" / "lab"


@dataclass(frozen=True)
class Settings:
    home: Path
    demo: bool  # the original public Space: heavy actions are off
    space_id: str  # set on any Space
    max_upload_mb: int
    max_new_tokens_cap: int
    job_grace_s: int  # SIGTERM -> SIGKILL grace period (the floor when a run's step time is known)
    memory_limit_gb: float | None  # a job's process tree is stopped above this RSS (default: 90 % of RAM)
    gpu_memory_share: float  # a job's share of its GPU; PyTorch's allocator refuses memory beyond it
    hub_timeout_s: float
    port: int
    models_root: Path  # converted/bundled models; LAB_MODELS_DIR can share one across homes
    llama_cpp: str = ""  # a llama.cpp checkout (LAB_LLAMA_CPP): its converter and quantizer, when present
    serve_on_space: bool = False  # LAB_SERVE=1: the owner lets the lab's OpenAI-compatible server run on a Space
    max_sessions: int = 1000  # browser sessions whose state the app keeps (~1.6 MB each); the oldest goes first

    @property
    def serve_allowed(self) -> bool:
        """`python -m lab serve` and the Serve panel: always off a Space; on a Space only when the owner turns it on."""
        return self.serve_on_space or not self.on_space

    @property
    def on_space(self) -> bool:
        return bool(self.space_id)

    @property
    def heavy_allowed(self) -> bool:
        """Training, merging and pushing under the Space's identity are off on the public demo."""
        return not self.demo

    @property
    def jobs_db(self) -> Path:
        return self.home / "jobs.db"

    @property
    def artifacts(self) -> Path:
        return self.home / "artifacts"

    @property
    def models_dir(self) -> Path:
        return self.models_root


def _ensure_writable(home: Path) -> Path:
    try:
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=home, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise LabError(
            f"LAB_HOME {str(home)!r} is not writable ({exc.strerror or exc}).",
            "Point LAB_HOME at a folder you can write to, e.g. LAB_HOME=~/lab-data.",
            "LAB_HOME",
        ) from None
    return home


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    raw_home = os.environ.get("LAB_HOME", "")
    home = _ensure_writable((Path(raw_home).expanduser() if raw_home else default_home()).resolve())
    models = os.environ.get("LAB_MODELS_DIR", "")
    return Settings(
        home=home,
        models_root=Path(models).expanduser().resolve() if models else home / "models",
        demo=_flag("LAB_DEMO"),
        space_id=os.environ.get("SPACE_ID", ""),
        max_upload_mb=_int("LAB_MAX_UPLOAD_MB", 200),
        max_new_tokens_cap=_int("LAB_MAX_NEW_TOKENS", 1024),
        job_grace_s=_int("LAB_JOB_GRACE_S", 10),
        memory_limit_gb=_gb("LAB_MEMORY_LIMIT_GB"),
        gpu_memory_share=_share("LAB_GPU_MEMORY_SHARE", 0.9),
        hub_timeout_s=float(os.environ.get("LAB_HUB_TIMEOUT_S", "2")),
        port=_int("PORT", 7860),
        llama_cpp=os.environ.get("LAB_LLAMA_CPP", "").strip(),
        serve_on_space=_flag("LAB_SERVE"),
        max_sessions=max(1, _int("LAB_MAX_SESSIONS", 1000)),
    )


def upload_cache() -> Path:
    """Gradio's upload cache (GRADIO_TEMP_DIR, else <tmp>/gradio): where a browser's uploads land."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio").resolve()


def lab_roots(uploads_only: bool = False) -> list[Path]:
    """The folders a Space reads local files from: uploads (Gradio's upload cache, the lab's copies in
    LAB_HOME/uploads) and, unless uploads_only, the lab's own folders (LAB_HOME, the models folder)."""
    s = get_settings()
    roots = [upload_cache(), (s.home / "uploads").resolve()]
    return roots if uploads_only else roots + [s.home.resolve(), s.models_root.resolve()]


def check_space_path(path, field: str, uploads_only: bool = False) -> Path:
    """On a Space, a local path is read only when it is an upload or, unless uploads_only, inside the lab's own
    folders (lab_roots). Nothing else on the server is read for a visitor, and the refusal names no path and is the
    same whether or not the path exists. Off a Space the machine is the user's own, and any path goes."""
    if not get_settings().on_space:
        return Path(path)
    try:
        real = Path(str(path).removeprefix("file://")).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):
        real = None
    if real is None or not any(real == r or r in real.parents for r in lab_roots(uploads_only)):
        what = "an uploaded file" if uploads_only else "an upload, an artifact of this lab or a Hub id (org/name)"
        raise LabError("On a Space, the lab reads no file of the server outside its own folders.",
                       f"Give {what}.", field)
    return real


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


@lru_cache(maxsize=1)
def is_offline() -> bool:
    """HF_HUB_OFFLINE, or the Hub not answering a TCP connect within a short timeout."""
    if _flag("HF_HUB_OFFLINE"):
        return True
    url = urlparse(hub_endpoint())
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "", port), timeout=get_settings().hub_timeout_s):
            return False
    except OSError:
        return True


def reset_caches() -> None:
    """Forget cached settings and offline state (after the environment changed)."""
    get_settings.cache_clear()
    is_offline.cache_clear()


def is_bundled(ref: str) -> bool:
    """The reference names the bundled default model (lab.models.bundled converts and serves it)."""
    return ref.strip().lower() in BUNDLED_IDS


def bundled_folder() -> Path:
    """Where the bundled model's safetensors conversion lives (under the models folder)."""
    return get_settings().models_dir / DEFAULT_MODEL.replace("/", "--")
