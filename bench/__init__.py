"""Benchmark scenarios for `streamkeep bench`."""
