"""Export to GGUF for llama.cpp / Ollama / LM Studio: the writer, the check, the Modelfile, the `export` job.

Importing this package registers the `export` job kind (the worker imports lab.export.worker:run).
"""
from lab.jobs import register_kind

register_kind("export", "lab.export.worker:run", heavy=True, label="Export to GGUF")
