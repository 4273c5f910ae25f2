"""Benchmark tooling: synthetic boards at scale (``bench.generate``)."""
