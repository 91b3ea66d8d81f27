"""Benchmarks: `make bench` prints one table; targets live here, never in unit tests."""
