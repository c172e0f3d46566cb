"""Small helpers shared by the benchmark's modules (eval/bench.py and eval/bench_scale.py):
progress logging and timing."""

from __future__ import annotations

import sys
import time

import numpy as np

STARTED = time.perf_counter()


def log(message: str) -> None:
    """Progress on stderr, with the time since the benchmark started."""
    print(f"[bench {time.perf_counter() - STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def summary(ms: list[float]) -> dict:
    """Median, p95, mean and max of a list of milliseconds."""
    a = np.asarray(ms, dtype=float)
    return {"n": len(a), "p50": float(np.median(a)), "p95": float(np.percentile(a, 95)), "mean": float(a.mean()), "max": float(a.max())}


def timed(fn, *args):
    """(result, milliseconds) of one call."""
    start = time.perf_counter()
    result = fn(*args)
    return result, (time.perf_counter() - start) * 1000
