"""What a worker process sets before its heavy work: passive OpenMP threads and quiet libraries.

The job runners (training, evaluation, the LR finder) and the CLI entry points call these first, before torch
or transformers are imported anywhere.
"""
from __future__ import annotations

import logging
import os
import sys


def passive_threads() -> None:
    """On shared CPUs, OpenMP threads that spin-wait for a descheduled sibling stall every op: measured on a
    busy 2-vCPU box, a SmolLM2 LoRA step took 35–45 s with spinning threads and 6.5 s with passive ones.
    Only effective before torch is first imported, so the entry points call it first."""
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def quiet_libraries(errors_only: bool = False, loggers: tuple[str, ...] = ()) -> None:
    """Progress bars redraw into the job log; the lab logs its own progress lines. `errors_only`: transformers
    says errors only (evaluation, where its warnings repeat per request); `loggers` are set to warnings only and
    tqdm is switched off in this process too (lm-eval draws its own bars)."""
    # datasets, huggingface_hub and transformers take seconds to import: only a worker that loads them pays
    import datasets  # heavy: datasets (pyarrow, pandas)
    import huggingface_hub  # heavy: huggingface_hub
    import transformers  # heavy: transformers

    datasets.disable_progress_bars()
    huggingface_hub.utils.disable_progress_bars()
    if errors_only:
        transformers.logging.set_verbosity_error()
    else:
        transformers.logging.set_verbosity_warning()
    transformers.logging.disable_progress_bar()
    for name in loggers:
        logging.getLogger(name).setLevel(logging.WARNING)
    if loggers:
        os.environ.setdefault("TQDM_DISABLE", "1")
