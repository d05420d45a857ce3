"""Extract a LoRA adapter from a full model against its base (`python -m lab extract-lora`): the SVD of each linear
layer's weight difference, kept at a rank or a share of its spectral energy, written as a PEFT adapter artifact."""
