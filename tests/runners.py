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
