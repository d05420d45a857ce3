"""Extract a LoRA adapter from a full model against its base (`python -m lab extract-lora`): the SVD of each linear
layer's weight difference, kept at a rank or a share of its spectral energy, written as a PEFT adapter artifact.

Importing this package registers the `extract.lora` job kind (the worker imports lab.extract.job:run).
"""
from lab.jobs import register_kind

register_kind("extract.lora", "lab.extract.job:run", heavy=True, label="Extract a LoRA")
