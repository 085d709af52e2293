"""Analyse the next batch of articles in a worker process while this one is being clustered.

Analysis (stems, entities, shingles, MinHash) is a pure function of an article row and costs
about as much as clustering it; clustering itself is sequential. On two cores the two overlap:
``cluster_pending`` hands batch k+1 to one worker process before it clusters batch k. The
worker's result is used only for rows that are still exactly what it analysed (another run or
an edit may have moved them meanwhile); anything else is analysed here, so the result is the
same with or without the worker. Where no worker can be started (a daemonic process, as in a
Celery prefork pool) analysis simply stays in this process.
"""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor

from newsthreads.store.threads import ArticleRow
from newsthreads.stories.cluster import Item
from newsthreads.stories.items import from_wire, item_from_row, to_wire

log = logging.getLogger(__name__)

MIN_ARTICLES = 3000  # below this, starting a worker (about a second) costs more than it saves


def analyse_rows(rows: list[ArticleRow]) -> list[tuple[Item, bytes]]:
    """Runs in the worker: rows → items in their cheap-to-pickle form."""
    return [to_wire(item_from_row(row)) for row in rows]


class Prefetcher:
    """At most one batch in flight in at most one worker process."""

    def __init__(self, enabled: bool) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._sent: tuple[list[ArticleRow], Future] | None = None
        if enabled:
            # forkserver: the worker starts from a clean process, not a fork of one that holds
            # a database connection and possibly threads.
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("forkserver"))

    @property
    def active(self) -> bool:
        return self._pool is not None

    def submit(self, rows: list[ArticleRow]) -> None:
        """Start analysing ``rows`` (the next batch) in the worker."""
        if self._pool is None or not rows:
            return
        try:
            self._sent = (rows, self._pool.submit(analyse_rows, rows))
        except Exception as exc:  # e.g. "daemonic processes are not allowed to have children"
            log.info("analysing in this process: no worker process (%s)", exc)
            self.close()

    def items(self, rows: list[ArticleRow]) -> list[Item]:
        """Items for ``rows``: the worker's where it analysed exactly these rows, the rest
        analysed here."""
        done: dict[int, tuple[ArticleRow, tuple[Item, bytes]]] = {}
        if self._sent is not None:
            sent, future = self._sent
            self._sent = None
            try:
                done = {row.id: (row, wire) for row, wire in zip(sent, future.result(),
                                                                 strict=True)}
            except Exception as exc:  # a dead worker costs time, not results
                log.warning("analysis worker failed (%s); analysing in this process", exc)
                self.close()
        out = []
        for row in rows:
            hit = done.get(row.id)
            out.append(from_wire(hit[1]) if hit is not None and hit[0] == row
                       else item_from_row(row))
        return out

    def close(self) -> float | None:
        """Stop the worker; returns its peak RSS in MB (Linux), for the run's log."""
        peak = None
        if self._pool is not None:
            peak = _peak_rss_mb(list(getattr(self._pool, "_processes", None) or ()))
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._sent = None
        return peak


def _peak_rss_mb(pids: list[int]) -> float | None:
    peaks = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as fh:
                peaks += [int(line.split()[1]) / 1024 for line in fh if line.startswith("VmHWM:")]
        except OSError:
            continue
    return max(peaks, default=None)
