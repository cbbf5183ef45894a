"""Reproducible performance measurements: `make bench` or `python -m benchmarks.run`."""
