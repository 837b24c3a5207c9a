"""This process's resident memory, sampled while something runs (Linux /proc)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE


class PeakGrowth:
    """The largest RSS seen above the RSS at the start, in bytes."""

    def __init__(self) -> None:
        self.baseline = rss_bytes()
        self.peak = self.baseline

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


@contextmanager
def sampled_rss(every: float = 0.01) -> Iterator[PeakGrowth]:
    """Sample RSS every ``every`` seconds in a thread while the block runs. The
    process's own peak (``ru_maxrss``) would hide growth below an earlier peak."""
    result = PeakGrowth()
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            result.peak = max(result.peak, rss_bytes())
            time.sleep(every)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield result
    finally:
        stop.set()
        sampler.join()
        result.peak = max(result.peak, rss_bytes())
