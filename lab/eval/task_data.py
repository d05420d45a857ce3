"""Loads a lab-made lm-eval task's data from the folder of its YAML, wherever lm_eval is run.

The lab writes this file next to each custom task as `lab_task_data.py` (lab.eval.custom). lm-eval hands a YAML's
`data_files` to `datasets`, which reads them from the working directory; the task's YAML includes `_lab_task_data_yaml`,
which points lm-eval's `custom_dataset` here, so the same names are read next to the YAML instead, and
`lm_eval --include_path DIR` runs from any folder. It needs only `datasets`, as lm-eval does.
"""
from pathlib import Path

HERE = Path(__file__).resolve().parent


def load(data_files: dict, **_):
    """lm-eval calls this with the task's metadata and dataset_kwargs; the splits are read as JSON Lines."""
    import datasets  # heavy: datasets (pyarrow, pandas)

    return datasets.load_dataset("json", data_files={split: str(HERE / name) for split, name in data_files.items()})
