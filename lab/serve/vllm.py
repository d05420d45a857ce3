"""vLLM's OpenAI server instead of the lab's, when vLLM is installed on a CUDA GPU: one base, its adapters as LoRA
modules (`--enable-lora`), each under the same name the lab's server gives it. The key goes by the environment
(VLLM_API_KEY), never on the command line where `ps` shows it."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from lab.serve.models import ServedModel

LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # the ranks vLLM's --max-lora-rank accepts


def installed() -> bool:
    if importlib.util.find_spec("vllm") is None:
        return False
    import torch  # heavy: torch, only once vLLM is there

    return torch.cuda.is_available()


def usable(models: list[ServedModel]) -> bool:
    """vLLM serves one base per process: the switch is on when every model is that base or an adapter on it."""
    return len({m.base for m in models}) == 1 and installed()


def base_name(models: list[ServedModel]) -> str:
    plain = [m.name for m in models if m.adapter is None]
    return plain[0] if plain else Path(models[0].base).name or models[0].base


def command(models: list[ServedModel], base_folder: Path, host: str, port: int) -> list[str]:
    """`vllm serve`'s command line for these models (all on one base)."""
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(base_folder),
           "--served-model-name", base_name(models), "--host", host, "--port", str(port),
           "--generation-config", "auto"]
    adapters = [m for m in models if m.adapter is not None]
    if adapters:
        rank = max(m.rank() for m in adapters)
        cmd += ["--enable-lora", "--max-loras", str(len(adapters)),
                "--max-lora-rank", str(next((r for r in LORA_RANKS if r >= rank), LORA_RANKS[-1])),
                "--lora-modules", *[f"{m.name}={m.adapter}" for m in adapters]]
    return cmd


def environment(api_key: str | None) -> dict:
    env = dict(os.environ)
    if api_key:
        env["VLLM_API_KEY"] = api_key
    return env
