"""Benchmarks: scripts that measure and print, run by `make bench`. Never timed assertions."""
