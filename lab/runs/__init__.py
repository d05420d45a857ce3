"""Compare training runs: list them with their settings and results, overlay their curves, diff their settings.

Read-only over the lab's own records (jobs.db and the runs' folders); the Experiments tab and `python -m lab runs`
are its two faces.
"""
