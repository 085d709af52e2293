"""Commit batch k's threading results on a second connection while batch k+1 clusters.

A batch's save (thread vectors, assignments, document-frequency increments, imputed dates) is
PostgreSQL's work: the clustering process only waited for it, a quarter to a third of a run's
wall time. ``BatchWriter`` hands each batch, already encoded (nothing it holds is mutated by
the clustering that goes on), to a thread that writes it in one transaction on its own
connection; psycopg waits for the server without the GIL, so clustering continues meanwhile.
At most one batch is in flight: submitting the next waits for the last, and so does anything
that reads back what it wrote (``wait``). A failed write is raised, with its cause, at the next
``submit``/``wait``: the run stops there and the next run continues from what was committed,
exactly as when a batch's own transaction fails.

Where no second connection can be opened (the server's connection limit, a role limited to
one), batches are written synchronously on the run's own connection: the same result, slower.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import psycopg

from newsthreads.store import threads as store

log = logging.getLogger(__name__)


@dataclass
class SplitWrites:
    """What the split repair changed in the batch (``stories.cluster``, "Split repair")."""

    moves: bytes = b"{}"  # store.move_params: earlier articles moved to another thread
    dropped: list[int] = field(default_factory=list)  # threads merged into another
    members: bytes = b"[]"  # store.member_params: kept features of small threads' members
    outgrown: list[int] = field(default_factory=list)  # threads past the repair's size
    moved: int = 0  # articles moved, for the run's statistics


@dataclass
class Batch:
    """Everything one batch writes, as values no later clustering changes."""

    threads: bytes  # store.thread_params: JSON, encoded when the batch was taken
    assignments: bytes  # store.assignment_params
    increments: bytes  # store.df_params: added to the counts now
    counters: tuple[int, int, Any]  # n_docs, seq, hwm
    touched: list[int] = field(default_factory=list)  # thread ids, for imputed dates
    norms: bytes = b"[]"  # store.norm_params: threads whose norms alone were refreshed
    renormed: list[int] = field(default_factory=list)  # their ids
    signed: list[int] = field(default_factory=list)  # articles whose signatures it writes
    counted: Collection[str] = ()  # keys whose document frequencies it increments
    journal: bytes = b"{}"  # store.df_params: this batch's increments, journalled for later
    fold: bool = False  # ``increments`` hold the journal's: empty it
    splits: SplitWrites = field(default_factory=SplitWrites)


def write_batch(conn: psycopg.Connection, batch: Batch) -> int:
    """Write one batch in the caller's transaction; returns the dates imputed."""
    store.save_threads(conn, batch.threads)
    store.save_norms(conn, batch.norms)
    store.save_assignments(conn, batch.assignments)
    split = batch.splits
    store.move_articles(conn, split.moves)
    store.delete_empty_threads(conn, split.dropped)  # merged into another by the repair
    store.save_members(conn, split.members)
    store.forget_members(conn, split.outgrown)
    store.journal_df(conn, batch.counters[1], batch.journal)
    store.add_df(conn, batch.increments)
    if batch.fold:
        store.clear_df_journal(conn)
    store.write_counters(conn, *batch.counters)
    return store.impute_dates(conn, batch.touched)


def second_connection(conn: psycopg.Connection) -> psycopg.Connection | None:
    """A new connection to the same database as ``conn``, as the same role; None if the
    server will not give one."""
    extra: dict[str, Any] = {"application_name": "newsthreads-writer", "connect_timeout": 10}
    if conn.info.password:
        extra["password"] = conn.info.password
    try:
        return psycopg.connect(conn.info.dsn, **extra)
    except psycopg.OperationalError as exc:
        log.info("writing batches on the run's own connection: %s",
                 str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        return None


class BatchWriter:
    """At most one batch being committed in the background (see the module docstring)."""

    def __init__(self, conn: psycopg.Connection, *, background: bool = True) -> None:
        self.conn = conn
        self.imputed = 0  # dates imputed by the batches committed so far
        self.committed = 0  # batches committed
        self._own = second_connection(conn) if background else None
        if self._own is not None and not self._locked(self._own):
            self._own.close()
            self._own = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._inflight: Batch | None = None

    @staticmethod
    def _locked(own: psycopg.Connection) -> bool:
        """Take the writer's lock on the second connection (``store.hold_writer_lock``)."""
        try:
            if store.hold_writer_lock(own):
                return True
            why = "another run's writer connection is still open"
        except psycopg.Error as exc:
            why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        log.info("writing batches on the run's own connection: %s", why)
        return False

    @property
    def background(self) -> bool:
        return self._own is not None

    def submit(self, batch: Batch,
               then: Callable[[psycopg.Connection], Any] | None = None) -> None:
        """Write ``batch`` (in the background when a second connection exists), then run
        ``then`` on the same connection outside the transaction (VACUUM, which must not
        hold up the clustering: it used to wait for the batch in flight, then for itself)."""
        self.wait()
        if self._own is None:
            with self.conn.transaction():
                self._done(write_batch(self.conn, batch))
            if then is not None:
                then(self.conn)
            return
        self._inflight = batch
        self._thread = threading.Thread(target=self._run, args=(self._own, batch, then),
                                        name="newsthreads-batch-writer", daemon=True)
        self._thread.start()

    def _run(self, conn: psycopg.Connection, batch: Batch,
             then: Callable[[psycopg.Connection], Any] | None) -> None:
        try:
            with conn.transaction():
                self._done(write_batch(conn, batch))
            if then is not None:
                then(conn)
        except BaseException as exc:  # handed to the clustering thread by wait()
            self._error = exc

    def _done(self, imputed: int) -> None:
        self.imputed += imputed
        self.committed += 1

    def wait(self) -> None:
        """Until the batch in flight is committed; raises its error if it failed."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._inflight = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def wait_unless(self, settled: Callable[[Batch], bool]) -> None:
        """``wait``, unless the batch in flight is ``settled``: nothing a read is about to
        fetch can be in it (what it wrote is all still in memory)."""
        if self._inflight is not None and not settled(self._inflight):
            self.wait()

    def close(self) -> None:
        """Wait for the batch in flight (errors are the caller's, from ``wait``) and close
        the second connection."""
        try:
            if self._thread is not None:
                self._thread.join()
                self._thread = None
        finally:
            if self._own is not None:
                self._own.close()
                self._own = None
