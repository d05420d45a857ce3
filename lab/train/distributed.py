"""Training on several processes: refusals before launch, the generated accelerate config, the launch itself.

A recipe with num_processes > 1 runs as `accelerate launch --config_file GENERATED -m lab train RECIPE --out DIR`;
each rank is the ordinary one-process run (lab.train.worker.train reads RANK/WORLD_SIZE: rank 0 writes the
metrics, the artifact and the JSON result). On CPU the ranks talk over gloo (tests, CI); on GPUs over NCCL, with
DDP (a replica per GPU) or FSDP (FULL_SHARD: each GPU holds a shard of the weights, gradients and optimizer state).
"""
from __future__ import annotations

import ctypes
import importlib.metadata
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import yaml

from lab.errors import LabError
from lab.hardware import Hardware

ROOT = Path(__file__).resolve().parents[2]  # the folder that holds the `lab` package: the ranks import it from there
GROUP = "Several GPUs (DDP / FSDP)"  # the Train tab's accordion of num_processes and distributed
FOLDER = ".launch"  # in the run's folder: the generated accelerate config and the recipe the ranks read
JOB_ENV = "LAB_RANKS_OF_JOB"  # set for the ranks of a job: their context is the job's
RESULT = "result.json"  # rank 0 of a job's run writes its result here (as the one-process job does)
QLORA_FSDP_BNB = (0, 43)  # bitsandbytes stores 4-bit weights in a float dtype FSDP can shard from 0.43 on


def offered(hw: Hardware) -> bool:
    """The Train tab offers several processes with more than one GPU, or on a CPU of 2+ cores (gloo)."""
    return len(hw.gpus) > 1 or (not hw.gpus and hw.cpu_count >= 2)


def world(recipe) -> int:
    return int(recipe.num_processes)


def on_gpus(recipe, hw: Hardware) -> bool:
    return hw.cuda and not recipe.use_cpu


def _version(name: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in importlib.metadata.version(name).split(".")[:2])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return ()


def check(recipe, hw: Hardware) -> None:
    """Refuse, before anything loads, a multi-process run this machine or the installed libraries cannot run."""
    n = world(recipe)
    if recipe.distributed == "fsdp" and n < 2:
        raise LabError("distributed is fsdp, but num_processes is 1: FSDP shards the model across processes.",
                       "Set num_processes to the number of GPUs (2 or more), or leave distributed at ddp.",
                       "num_processes")
    if n < 2:
        return
    if on_gpus(recipe, hw) and n > len(hw.gpus):
        raise LabError(f"num_processes is {n}, but this machine has {len(hw.gpus)} GPU"
                       f"{'s' if len(hw.gpus) != 1 else ''}.",
                       f"Set num_processes to {len(hw.gpus)} or fewer (one process per GPU).", "num_processes")
    if not on_gpus(recipe, hw) and n > max(1, hw.cpu_count):
        raise LabError(f"num_processes is {n}, but this machine has {hw.cpu_count} CPU cores.",
                       f"Set num_processes to {hw.cpu_count} or fewer (gloo runs one process per core at most).",
                       "num_processes")
    if recipe.engine == "unsloth":
        raise LabError(f"engine unsloth with {n} processes: Unsloth trains on one GPU.",
                       "Set engine to trl (or auto), or num_processes to 1.", "engine")
    if recipe.distributed == "fsdp":
        _check_fsdp(recipe, hw)


def _check_fsdp(recipe, hw: Hardware) -> None:
    if not on_gpus(recipe, hw):
        raise LabError("distributed fsdp on CPU: FSDP shards a model across GPUs; the CPU path runs gloo with DDP.",
                       "Set distributed to ddp (CPU, or a model that fits on one GPU).", "distributed")
    if recipe.adapter == "qlora" and _version("bitsandbytes") < QLORA_FSDP_BNB:
        have = ".".join(map(str, _version("bitsandbytes"))) or "none"
        raise LabError(f"FSDP with QLoRA needs bitsandbytes 0.43 or newer (installed: {have}) to shard 4-bit "
                       "weights.", "Install bitsandbytes>=0.43, or use adapter lora with fsdp, or qlora with ddp.",
                       "adapter")
    if recipe.method.name == "grpo" and recipe.adapter == "qlora":
        raise LabError("FSDP with GRPO on a QLoRA base: TRL 1.16 cannot gather sharded 4-bit weights to generate.",
                       "Use adapter lora with fsdp, or qlora with ddp.", "adapter")


def accelerate_config(recipe, hw: Hardware) -> dict:
    """The accelerate config file of the run: DDP (MULTI_GPU; gloo when there is no CUDA) or FSDP FULL_SHARD with
    cpu_ram_efficient_loading (rank 0 reads the weights, the others receive their shard)."""
    cfg = {"compute_environment": "LOCAL_MACHINE", "debug": False, "machine_rank": 0, "num_machines": 1,
           "num_processes": world(recipe), "main_training_function": "main", "rdzv_backend": "static",
           "same_network": True, "use_cpu": False, "downcast_bf16": "no", "dynamo_config": {},
           "mixed_precision": "no"}  # the trainer sets bf16/fp16 itself (TrainingArguments), as in one process
    if recipe.distributed != "fsdp":
        return {**cfg, "distributed_type": "MULTI_GPU"}
    qlora = recipe.adapter == "qlora"
    return {**cfg, "distributed_type": "FSDP", "fsdp_config": {
        "fsdp_version": 1,
        "fsdp_sharding_strategy": "FULL_SHARD",
        "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
        "fsdp_backward_prefetch": "BACKWARD_PRE",
        "fsdp_forward_prefetch": False,
        "fsdp_cpu_ram_efficient_loading": True,
        "fsdp_sync_module_states": True,  # required by cpu_ram_efficient_loading: rank 0 broadcasts the weights
        "fsdp_offload_params": False,
        "fsdp_state_dict_type": "FULL_STATE_DICT",  # the saved adapter/model is one ordinary file, as in one process
        "fsdp_use_orig_params": not qlora,  # PEFT's QLoRA+FSDP recipe keeps flat params; LoRA mixes frozen/trained
        "fsdp_activation_checkpointing": False,  # the recipe's gradient_checkpointing does it through the trainer
    }}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_command(config_path: Path, lab_argv: list[str]) -> list[str]:
    """`accelerate launch` (as a module of this Python) with the generated config, running `python -m lab ARGV`."""
    return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config_path),
            "--main_process_port", str(free_port()), "-m", "lab", *lab_argv]


def rank_env(recipe, hw: Hardware, env: dict | None = None) -> dict:
    """The ranks' environment: the lab importable, one thread per CPU rank, no GPU for a CPU run."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    if not on_gpus(recipe, hw):
        env["CUDA_VISIBLE_DEVICES"] = ""  # accelerate then runs the ranks over gloo
        env.setdefault("OMP_NUM_THREADS", str(max(1, hw.cpu_count // world(recipe))))
    return env


def prepare(recipe, hw: Hardware, folder: Path, lab_argv: list[str]) -> list[str]:
    """Write the generated config in the run's folder; return the launch command line."""
    launch = folder / FOLDER
    launch.mkdir(parents=True, exist_ok=True)
    config = launch / "accelerate.yaml"
    config.write_text(yaml.safe_dump(accelerate_config(recipe, hw), sort_keys=False))
    return launch_command(config, lab_argv)


def run_ranks(recipe, hw: Hardware, folder: Path, ctx) -> dict:
    """A job's run over several processes: the ranks run the CLI on the recipe (children of this worker, so the
    job's watchdog sees the whole tree; the launcher passes a cancel on to each); returns rank 0's result."""
    launch = folder / FOLDER
    launch.mkdir(parents=True, exist_ok=True)
    recipe_path = launch / "recipe.yaml"
    recipe_path.write_text(recipe.to_yaml())
    cmd = prepare(recipe, hw, folder, ["train", str(recipe_path), "--out", str(folder)])
    ctx.log(f"Launching {world(recipe)} processes ({recipe.distributed}, "
            f"{'GPUs' if on_gpus(recipe, hw) else 'CPU over gloo'}).")
    env = {**rank_env(recipe, hw), **({JOB_ENV: ctx.job_id} if ctx.job_id else {})}
    (folder / RESULT).unlink(missing_ok=True)
    proc = subprocess.Popen(cmd, env=env, cwd=str(ROOT), stdin=subprocess.DEVNULL)  # its output: the job's log
    try:
        proc.wait()
    except BaseException:  # the watchdog's stop, or a crash here: the ranks must not outlive the job
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        raise
    if ctx.cancelled or proc.returncode == 130:
        ctx.cancelled = True
        ctx.check_cancelled()
    if proc.returncode != 0:
        raise LabError(f"The {world(recipe)}-process run failed (exit code {proc.returncode}).",
                       "The log above holds each rank's error.", "num_processes")
    return json.loads((folder / RESULT).read_text())


def across_ranks(cancel: bool, tokens: int, skip_log: bool) -> tuple[bool, int, bool]:
    """One all-reduce per step over every rank of a multi-process run (this rank's values alone otherwise):
    - cancel: true when any rank saw it (a cancel reaches the ranks at slightly different moments, yet they must
      all save and stop at the same step);
    - tokens: the real tokens all ranks trained on this step (tokens/s counts the whole run, not rank 0's share);
    - skip_log: true only when every rank would skip logging this step (logging gathers the loss from every rank,
      so they must agree; each rank's own clock decides it on a GPU)."""
    if int(os.environ.get("WORLD_SIZE", "1")) < 2:
        return cancel, tokens, skip_log
    import torch  # heavy: torch, only in a rank (already loaded there)
    import torch.distributed as dist  # heavy: torch

    if not dist.is_initialized():
        return cancel, tokens, skip_log
    t = torch.tensor([int(cancel), int(tokens), int(skip_log)], dtype=torch.int64,
                     device="cuda" if dist.get_backend() == "nccl" else "cpu")
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    cancels, total, skips = t.tolist()
    return cancels > 0, total, skips == dist.get_world_size()


def die_with_launcher() -> None:
    """In a rank: die when the launcher dies (a job killed after its grace, or by the memory watchdog), so no rank
    outlives its run. torchrun starts each rank in a session of its own, out of reach of the job's killpg."""
    if not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
