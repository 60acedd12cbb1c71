"""Benchmarks: `python -m bench [area ...] [--quick]`; each area is a `bench_<area>.py` module."""
