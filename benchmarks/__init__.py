"""Benchmarks and the harness they share with the tests; run from a checkout (`python -m benchmarks.bench`), not shipped in the wheel."""
