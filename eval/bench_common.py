"""Small helpers shared by the benchmark's modules (eval/bench.py and eval/bench_scale.py):
progress logging and timing."""

from __future__ import annotations

import os
import resource
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


def cpu_seconds() -> dict:
    """CPU seconds so far: the whole machine's busy time and steal time (from
    /proc/stat, where there is one) and this process's own, children included."""
    own = sum(getattr(resource.getrusage(who), field) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for field in ("ru_utime", "ru_stime"))
    try:
        fields = [int(x) for x in open("/proc/stat", encoding="ascii").readline().split()[1:]]
    except (OSError, ValueError):
        return {"own": own, "busy": None, "steal": None}
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return {"own": own, "busy": (user + nice + system + irq + softirq) / tick, "steal": steal / tick}


def interference(start: dict, end: dict, wall: float) -> dict | None:
    """Cores' worth of CPU that other processes used, and that the hypervisor
    stole, while the benchmark ran: what makes its numbers worse."""
    if start["busy"] is None or end["busy"] is None or wall <= 0:
        return None
    others = (end["busy"] - start["busy"]) - (end["own"] - start["own"])
    return {"others": max(0.0, others) / wall, "steal": (end["steal"] - start["steal"]) / wall}
