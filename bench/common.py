"""Shared benchmark helpers: one JSON line per figure, robust statistics, generated apps."""

from __future__ import annotations

import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS: list[dict] = []


def emit(benchmark: str, figure: str, value: float, unit: str, **extra) -> dict:
    """Print one JSON line per figure (and keep it for BENCHMARKS.md)."""
    line = {"benchmark": benchmark, "figure": figure, "value": round(value, 4), "unit": unit, **extra}
    RESULTS.append(line)
    print(json.dumps(line), flush=True)
    return line


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: list[float]) -> float:
    return statistics.median(values)


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def growth_exponent(sizes: list[int], seconds: list[float]) -> float:
    """Least-squares slope of log(time) over log(size): 1.0 is linear."""
    xs = [math.log(s) for s in sizes]
    ys = [math.log(max(t, 1e-9)) for t in seconds]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)
