"""Benchmarks: the lab against what a user would otherwise run. `python -m bench --help`."""
