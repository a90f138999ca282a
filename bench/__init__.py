"""Benchmarks (not tests): run all with `bench/run.sh`; results in BENCHMARKS.md."""
