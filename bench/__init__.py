"""Benchmarks: distributions and ratios, never pass/fail. Results go to docs/ with their command."""
