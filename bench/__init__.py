"""Benchmarks of retrain-advisor: `python -m bench` (see docs/benchmarks.md)."""
