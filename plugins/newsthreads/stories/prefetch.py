"""Analyse the next batch of articles in a worker process while this one is being clustered.

Analysis (stems, entities, shingles, MinHash) is a pure function of an article row and costs
about as much as clustering it; clustering itself is sequential. On two cores the two overlap:
``cluster_pending`` hands batch k+1 to a worker process before it clusters batch k. The
worker's result is used only for rows that are still exactly what it analysed (another run or
an edit may have moved them meanwhile); anything else is analysed here, so the result is the
same with or without the worker.

The worker is a plain ``python -m newsthreads.stories.prefetch`` child speaking length-prefixed
pickles over its stdin/stdout, not a ``multiprocessing`` pool: a pool's spawn/forkserver child
re-runs the parent's main script when that has no ``if __name__ == "__main__"`` guard (a
user's script could ingest twice), a forked child inherits the database connection and other
threads' locks, and a daemonic process (a Celery prefork child) may not start pool workers at
all. Where no worker can start, analysis simply stays in this process.
"""

from __future__ import annotations

import logging
import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path
from typing import IO

from newsthreads.store.threads import ArticleRow
from newsthreads.stories.cluster import Item
from newsthreads.stories.items import from_wire, item_from_row, to_wire

log = logging.getLogger(__name__)

MIN_ARTICLES = 3000  # below this, starting a worker (about a second) costs more than it saves
_LENGTH = struct.Struct("!Q")


def analyse_rows(rows: list[ArticleRow]) -> list[tuple[Item, bytes]]:
    """Rows → items in their cheap-to-pickle form (what the worker does)."""
    return [to_wire(item_from_row(row)) for row in rows]


def _send(stream: IO[bytes], obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)))
    stream.write(data)
    stream.flush()


def _receive(stream: IO[bytes]) -> object:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError("the other side closed the pipe")
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the other side closed the pipe mid-message")
    return pickle.loads(data)


class Prefetcher:
    """At most one batch in flight in at most one worker process."""

    def __init__(self, enabled: bool) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._sent: list[ArticleRow] | None = None
        if not enabled:
            return
        # The package's parent folder first on the worker's path: under Airflow it is
        # plugins/, which a fresh interpreter would not otherwise see.
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_root, env.get("PYTHONPATH")) if p)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "newsthreads.stories.prefetch"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        except OSError as exc:
            log.info("analysing in this process: cannot start a worker (%s)", exc)

    @property
    def active(self) -> bool:
        return self._proc is not None

    def submit(self, rows: list[ArticleRow]) -> None:
        """Start analysing ``rows`` (the next batch) in the worker."""
        if self._proc is None or not rows:
            return
        assert self._proc.stdin is not None
        try:
            _send(self._proc.stdin, rows)
            self._sent = rows
        except (OSError, ValueError) as exc:
            log.warning("analysis worker gone (%s); analysing in this process", exc)
            self.close()

    def items(self, rows: list[ArticleRow]) -> list[Item]:
        """Items for ``rows``: the worker's where it analysed exactly these rows, the rest
        analysed here."""
        done: dict[int, tuple[ArticleRow, tuple[Item, bytes]]] = {}
        if self._sent is not None and self._proc is not None:
            sent, self._sent = self._sent, None
            assert self._proc.stdout is not None
            try:
                result = _receive(self._proc.stdout)
                assert isinstance(result, list)
                done = {row.id: (row, wire) for row, wire in zip(sent, result, strict=True)}
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
        proc, self._proc, self._sent = self._proc, None, None
        if proc is None:
            return None
        peak = _peak_rss_mb(proc.pid)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                try:
                    stream.close()  # EOF on stdin: the worker's loop ends
                except OSError:
                    pass
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return peak


def _peak_rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """The worker's loop: a batch of rows in, their items out, until stdin closes."""
    while True:
        try:
            rows = _receive(stdin)
        except EOFError:
            return
        assert isinstance(rows, list)
        _send(stdout, analyse_rows(rows))


if __name__ == "__main__":
    _serve(sys.stdin.buffer, sys.stdout.buffer)
