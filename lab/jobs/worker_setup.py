"""What a worker process sets before its heavy work: passive OpenMP threads and quiet libraries.

The job runners (training, evaluation, the LR finder) and the CLI entry points call these first, before torch
or transformers are imported anywhere.
"""
from __future__ import annotations

import os
import sys


def passive_threads() -> None:
    """On shared CPUs, OpenMP threads that spin-wait for a descheduled sibling stall every op: measured on a
    busy 2-vCPU box, a SmolLM2 LoRA step took 35–45 s with spinning threads and 6.5 s with passive ones.
    Only effective before torch is first imported, so the entry points call it first."""
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def quiet_libraries() -> None:
    """Progress bars redraw into the job log; the lab logs its own progress lines."""
    # datasets, huggingface_hub and transformers take seconds to import: only a worker that loads them pays
    import datasets
    import huggingface_hub
    import transformers

    datasets.disable_progress_bars()
    huggingface_hub.utils.disable_progress_bars()
    transformers.logging.set_verbosity_warning()
    transformers.logging.disable_progress_bar()
