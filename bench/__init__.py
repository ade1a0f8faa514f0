"""Benchmarks run by hand (``python -m bench.<name>``); they are not part of the test suite."""
