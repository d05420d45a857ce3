"""Merge models with mergekit: recipes <-> YAML, preflight from configs, pictures, templates, the merge job.

Importing this package registers the `merge` job kind (the worker imports lab.merge.worker:run).
"""
from lab.jobs import register_kind

register_kind("merge", "lab.merge.worker:run", heavy=True, label="Merge models")
register_kind("merge.evolve", "lab.merge.evolve:run", heavy=True, label="Evolve a merge")
