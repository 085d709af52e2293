"""Analyse the next batch of articles in a worker process while this one is being clustered.

Analysis (stems, entities, shingles, MinHash) is a pure function of an article row and costs
about as much as clustering it; clustering itself is sequential. On two cores the two overlap:
``cluster_pending`` hands batch k+1 to a worker process before it clusters batch k. The
worker's result is used only for rows that are still exactly what it analysed (another run or
an edit may have moved them meanwhile); anything else is analysed here, so the result is the
same with or without the worker, and where none can start analysis stays in this process.
The worker is a plain subprocess over pipes (``newsthreads.childproc`` says why not
``multiprocessing``). Sending a batch to it and reading its answer happen on a thread of
their own: both wait on the pipe without the GIL, so clustering goes on meanwhile (written
from the clustering thread, a batch's 4 MB took half a second to cross when PostgreSQL and
the worker kept both cores busy).
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import threading
from collections import Counter

from newsthreads import childproc
from newsthreads.gcpolicy import relaxed_gc
from newsthreads.store.rows import ArticleRow
from newsthreads.stories.cluster import Item
from newsthreads.stories.items import from_wire, item_from_row, keys_counted, to_wire

log = logging.getLogger(__name__)

MIN_ARTICLES = 3000  # below this, starting a worker (about a second) costs more than it saves
_WORKER = "from newsthreads.stories.prefetch import serve; serve()"


def analyse_rows(rows: list[ArticleRow]) -> tuple[list[tuple[Item, bytes]], Counter[str]]:
    """Rows → items in their cheap-to-pickle form, and the batch's document-frequency
    increments (``keys_counted``: counting them is a few percent of the clustering
    process's time, and a dict pickles faster than it counts)."""
    items = [item_from_row(row) for row in rows]
    return [to_wire(item) for item in items], keys_counted(items)


def serve() -> None:
    """The worker process: batches of rows in, their items out, until stdin closes. Then it
    exits at once: every answer is sent and nothing else needs finalising, while tearing
    down the heap of a long run took ~0.2 s that the run's end waited for."""
    with relaxed_gc():
        childproc.serve(analyse_rows)
    sys.stdout.flush()  # a stray print() (fd 1 is stderr here, see childproc.serve)
    sys.stderr.flush()
    os._exit(0)


class Prefetcher:
    """At most one batch in flight in at most one worker process."""

    def __init__(self, enabled: bool) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._sent: list[ArticleRow] | None = None
        self._io: threading.Thread | None = None  # sends the batch, reads the answer
        self._answer: bytes | BaseException | None = None
        # The increments of the last batch ``items`` returned, when the worker analysed
        # all of it (else None: the caller counts them)
        self.counted: Counter[str] | None = None
        if not enabled:
            return
        try:
            self._proc = childproc.start(_WORKER)
        except OSError as exc:
            log.info("analysing in this process: cannot start a worker (%s)", exc)

    @property
    def active(self) -> bool:
        return self._proc is not None

    def submit(self, rows: list[ArticleRow]) -> None:
        """Start analysing ``rows`` (the next batch) in the worker."""
        if self._proc is None or not rows:
            return
        self._sent, self._answer = rows, None
        self._io = threading.Thread(target=self._exchange, args=(self._proc, rows),
                                    name="newsthreads-analysis-io", daemon=True)
        self._io.start()

    def _exchange(self, proc: subprocess.Popen[bytes], rows: list[ArticleRow]) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        try:
            childproc.send(proc.stdin, rows)
            self._answer = childproc.receive_bytes(proc.stdout)
        except BaseException as exc:  # handed to items(), which falls back to this process
            self._answer = exc

    def items(self, rows: list[ArticleRow]) -> list[Item]:
        """Items for ``rows``: the worker's where it analysed exactly these rows, the rest
        analysed here (``counted`` is the worker's count of their keys only when it
        analysed them all)."""
        done: dict[int, tuple[ArticleRow, tuple[Item, bytes]]] = {}
        counted: Counter[str] | None = None
        self.counted = None
        if self._sent is not None and self._proc is not None and self._io is not None:
            sent, self._sent = self._sent, None
            self._io.join()
            self._io, answer, self._answer = None, self._answer, None
            try:
                if isinstance(answer, BaseException):
                    raise answer
                assert answer is not None
                status, result = pickle.loads(answer)
                if status != "ok":
                    raise RuntimeError(result)
                wires, counted = result
                done = {row.id: (row, wire) for row, wire in zip(sent, wires, strict=True)}
            except Exception as exc:  # a dead worker costs time, not results
                log.warning("analysis worker failed (%s); analysing in this process", exc)
                self.close()
        out = []
        for row in rows:
            hit = done.get(row.id)
            if hit is not None and hit[0] == row:
                out.append(from_wire(hit[1]))
            else:
                out.append(item_from_row(row))
                counted = None
        if len(done) == len(rows):  # not a row more or less than the worker counted
            self.counted = counted
        return out

    def close(self) -> float | None:
        """Stop the worker; returns its peak RSS in MB (Linux), for the run's log."""
        proc, pending, io = self._proc, self._sent is not None, self._io
        self._proc, self._sent, self._io = None, None, None
        if proc is None:
            return None
        peak = childproc.peak_rss_mb(proc.pid)
        if pending:  # an answer nobody will read: the worker may be blocked writing it
            proc.kill()
        if io is not None:
            io.join(timeout=30)  # the pipe closed under it: it ends
        childproc.stop(proc, timeout=30)
        return peak
