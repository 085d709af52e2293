"""Fewer garbage collections while threading: the cyclic collector is pure overhead there.

Clustering allocates millions of small dicts, floats and tuples that are freed by reference
counting (the clusterer makes no reference cycles), yet every 700 net allocations CPython runs
a young-generation collection, and the long-lived state (thousands of thread centroids) keeps
being re-examined by the older generations: 10-25 % of clustering time on the synthetic
stream (bench/bench_threading.py). ``relaxed_gc`` collects 100x less often for the duration,
with what was allocated before it started frozen out of the collector's sight, and restores
the process's settings afterwards (the Airflow task process has its own life after us).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

THRESHOLDS = (70_000, 20, 100)  # CPython's defaults: (700, 10, 10)


@contextmanager
def relaxed_gc() -> Iterator[None]:
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
