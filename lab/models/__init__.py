"""Resolve a model reference (local folder, HF cache, Hub, bundled) to a local folder."""
from lab.models.info import info
from lab.models.resolve import available_offline, resolve

__all__ = ["resolve", "info", "available_offline"]
