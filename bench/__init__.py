"""Benchmarks: plain scripts, run as ``python -m bench.<name>`` (see README.md)."""
