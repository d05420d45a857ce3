"""Job runners used only by tests (the worker imports them by dotted path)."""
import time

from lab.errors import LabError


def count(ctx):
    """Counts to recipe['n'], reporting progress and a metric each step."""
    n = int(ctx.recipe.get("n", 10))
    for i in range(1, n + 1):
        time.sleep(float(ctx.recipe.get("sleep", 0.1)))
        ctx.metric(step=i, loss=1.0 / i)
        ctx.progress(i / n, f"step {i}/{n}")
        ctx.log(f"step {i}")


def crash(ctx):
    ctx.log("about to fail: the disk is on fire")
    raise RuntimeError("boom")


def mistake(ctx):
    """A user's mistake found by the runner: the job fails with its message, logged as one line."""
    raise LabError("The column `answer` is missing.", "Add an answer to every row.", "answer")


def ignore_sigterm(ctx):
    """A runner that ignores cancel, so only SIGKILL ends it."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    ctx.progress(0.5, "stubborn", force=True)
    time.sleep(60)


def slow_exit(ctx):
    """Runs until cancelled; its process then takes recipe['exit_s'] seconds to exit after the job recorded its
    end (as a worker freeing a large model does)."""
    import atexit

    from lab.jobs.context import JobCancelled

    ctx.cooperative = True
    atexit.register(time.sleep, float(ctx.recipe.get("exit_s", 2)))
    ctx.progress(0.5, f"attempt {ctx.job.attempts + 1} running", force=True)
    deadline = time.time() + float(ctx.recipe.get("s", 60))
    while time.time() < deadline:
        if ctx.cancelled:
            raise JobCancelled("cancelled by the user")
        time.sleep(0.05)


def noisy(ctx):
    """Makes the library noise a training job makes (bitsandbytes' kernels notice, transformers' deprecation
    warnings, for real), plus a warning of its own and a log line."""
    import logging
    import warnings

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    logging.getLogger("bitsandbytes.backends.cpu.ops").warning(  # what bitsandbytes logs on AVX512-BF16 CPUs
        "Failed to load CPU gemm_4bit_forward from kernels-community: %s. Please make sure you already `pip "
        "install kernels` and the kernels >= 0.11.1", "Kernel repository could not verify publisher trust status")
    model = LlamaForCausalLM(LlamaConfig(num_hidden_layers=1, hidden_size=16, intermediate_size=32,
                                         num_attention_heads=2, num_key_value_heads=1, vocab_size=32))
    assert model.is_gradient_checkpointing is False  # transformers: FutureWarning, deprecated alias
    model.save_pretrained(ctx.folder / "tiny")
    LlamaForCausalLM.from_pretrained(ctx.folder / "tiny", torch_dtype=torch.float32)  # "`torch_dtype` is deprecated!"
    warnings.warn("the data has 3 empty rows", UserWarning)
    ctx.log("trained fine")
