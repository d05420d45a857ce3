"""The lab: the whole LLM post-training loop in one app. The core never imports gradio."""

__version__ = "0.1.0"
