"""Job runners used only by tests (the worker imports them by dotted path)."""
import time


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


def ignore_sigterm(ctx):
    """A runner that ignores cancel, so only SIGKILL ends it."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    ctx.progress(0.5, "stubborn", force=True)
    time.sleep(60)
