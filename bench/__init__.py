"""Benchmarks for Statuslink: each figure is measured against a baseline in the same run."""
