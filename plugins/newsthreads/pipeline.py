"""The ingest core that the CLI and the DAGs call: read -> normalise -> store, with a run log.

One bad input never stops the others: it becomes an ``ingest_errors`` row (which input, which
line, why, the raw bytes) and a log line, and the run goes on. Articles are stored in batches
(COPY plus set-based upserts) committed one by one, so a crash loses at most one batch and a
rerun, being idempotent, redoes it; a batch the database refuses is redone row by row in
savepoints, so a refusal (an odd byte, a constraint, a row over a server limit) costs only the
article that caused it. Only a lost server (or a disk full, a shutdown) stops the run, and a
deadlock with another run is retried rather than charged to any article.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import psycopg

from newsthreads.errors import DatabaseError, InputError, first_line
from newsthreads.model import Article, RawItem
from newsthreads.normalise.article import normalise_item
from newsthreads.sources.files import iter_files
from newsthreads.sources.jsonl import iter_jsonl
from newsthreads.store.articles import upsert_article, upsert_articles
from newsthreads.store.connection import mask_dsn
from newsthreads.store.runs import RunCounts, finish_run, record_error, run_errors, start_run

log = logging.getLogger(__name__)

BATCH_SIZE = 500  # articles per COPY batch and per commit
T = TypeVar("T")


@dataclass
class IngestResult:
    run_id: int
    status: str
    counts: RunCounts
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "status": self.status, **self.counts.as_dict(),
                "errors": [{k: v for k, v in e.items() if k != "has_raw"} for e in self.errors]}


def _record_input_error(conn: psycopg.Connection, run_id: int, err: InputError) -> None:
    log.warning("skipped %s%s: %s", err.where, f":{err.line}" if err.line else "", err.reason)
    record_error(conn, run_id, input=err.where, line=err.line, item_key=err.key,
                 reason=err.reason, raw=err.raw)


# SQLSTATE classes after which the session is of no more use: connection exception,
# insufficient resources (disk full, out of memory), shutdown, system and internal errors.
_FATAL_SQLSTATES = ("08", "53", "57P", "58", "XX")
_TRANSIENT_SQLSTATES = ("40001", "40P01")  # serialization failure, deadlock: try again
TRANSIENT_ATTEMPTS = 3


def _server_lost(exc: psycopg.Error, conn: psycopg.Connection) -> bool:
    """True when the database, not the data, failed: going on row by row would be pointless.

    Not every OperationalError is one: a row over a server limit (a tsvector over 1 MB is
    ``54000``, an OperationalError) is the row's fault, and must cost only that row.
    """
    state = exc.sqlstate
    if conn.broken or (state is None and isinstance(exc, psycopg.OperationalError)):
        return True
    return state is not None and state.startswith(_FATAL_SQLSTATES)


def _transient(exc: psycopg.Error) -> bool:
    return exc.sqlstate in _TRANSIENT_SQLSTATES


def _in_savepoint(conn: psycopg.Connection, work: Callable[[], T]) -> T:
    """``work()`` in a savepoint, retried a few times after a deadlock or serialization failure
    (another run touching the same articles); any other error is raised at once."""
    for attempt in range(1, TRANSIENT_ATTEMPTS + 1):
        try:
            with conn.transaction():
                return work()
        except psycopg.Error as exc:
            if _server_lost(exc, conn) or not _transient(exc) or attempt == TRANSIENT_ATTEMPTS:
                raise
            log.info("%s; trying again (%d/%d)", first_line(exc), attempt, TRANSIENT_ATTEMPTS)
            time.sleep(0.2 * attempt * random.uniform(0.5, 1.5))
    raise AssertionError("unreachable")


def upsert_batch(
    conn: psycopg.Connection, batch: list[tuple[RawItem, Article]], run_id: int
) -> list[str | None]:
    """One outcome per article, None for a row the database refused (recorded as an error).

    The fast path first; if the database refuses the batch, it is redone row by row, so a
    refusal costs only the row that caused it. A lost server or a lasting deadlock is raised.
    """
    articles = [article for _, article in batch]
    try:
        return list(_in_savepoint(conn, lambda: upsert_articles(conn, articles, run_id)))
    except psycopg.Error as exc:
        if _server_lost(exc, conn) or _transient(exc):
            raise
        log.info("batch of %d refused (%s); retrying row by row", len(batch), first_line(exc))
    outcomes: list[str | None] = []
    for item, article in batch:
        try:
            outcomes.append(_in_savepoint(
                conn, lambda article=article: upsert_article(conn, article, run_id)))
        except psycopg.Error as exc:
            if _server_lost(exc, conn) or _transient(exc):
                raise
            _record_input_error(conn, run_id, InputError(
                item.location, f"database refused the article: {first_line(exc)}",
                line=item.line, key=item.key,
                raw=json.dumps(item.fields, ensure_ascii=False, default=str).encode()))
            outcomes.append(None)
    return outcomes


def _store_batch(
    conn: psycopg.Connection,
    batch: list[tuple[RawItem, Article]],
    run_id: int,
    counts: RunCounts,
) -> None:
    """Store a batch with its error and warning rows in one commit, then add to ``counts``."""
    done = RunCounts()
    last = {(a.source, a.source_key): item for item, a in batch}
    with conn.transaction():
        for (item, article), outcome in zip(batch, upsert_batch(conn, batch, run_id), strict=True):
            if outcome is None:
                done.failed += 1
                continue
            setattr(done, outcome, getattr(done, outcome) + 1)
            later = last[(article.source, article.source_key)]
            warnings = list(article.warnings)
            if later is not item:  # the store keeps the last copy of a key in a batch
                where = f"line {later.line}" if later.line else later.location
                warnings.append(f"id {article.source_key!r} of source {article.source!r} comes"
                                f" again at {where}; that later copy is the one stored")
            for warning in warnings:
                done.warnings += 1
                log.warning("%s: %s", item.location, warning)
                record_error(conn, run_id, input=item.location, line=item.line,
                             item_key=item.key, reason=warning, severity="warning")
    conn.commit()
    counts.add(done)


def _normalise(item: RawItem, now: datetime) -> Article | InputError:
    """The item's Article, or an InputError: one input's surprise never stops the run."""
    try:
        return normalise_item(item, now=now)
    except InputError as err:
        return err
    except Exception as exc:  # noqa: BLE001 - a bug met on one input; the traceback is logged
        log.exception("normalising %s failed", item.location)
        return InputError(item.location, f"internal error while normalising this input"
                          f" ({type(exc).__name__}: {exc}); please report it with the input",
                          line=item.line, key=item.key,
                          raw=json.dumps(item.fields, ensure_ascii=False, default=str).encode())


def ingest_items(
    conn: psycopg.Connection,
    items: Iterable[RawItem | InputError],
    *,
    run_id: int,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
    counts: RunCounts | None = None,
) -> RunCounts:
    """Normalise and store every item; bad inputs are recorded, never raised.

    ``counts`` (a fresh one by default) is updated as batches commit, so a caller that sees
    this raise still knows what was stored.
    """
    counts = counts if counts is not None else RunCounts()
    now = now or datetime.now(UTC)
    batch: list[tuple[RawItem, Article]] = []
    for item in items:
        counts.read += 1
        result = item if isinstance(item, InputError) else _normalise(item, now)
        if isinstance(result, InputError):
            counts.failed += 1
            _record_input_error(conn, run_id, result)
            continue
        batch.append((item, result))  # type: ignore[arg-type]
        if len(batch) >= batch_size:
            _store_batch(conn, batch, run_id, counts)
            batch = []
    if batch:
        _store_batch(conn, batch, run_id, counts)
    conn.commit()
    return counts


def run_ingest(
    conn: psycopg.Connection,
    kind: str,
    items: Iterable[RawItem | InputError],
    params: dict[str, Any],
    *,
    batch_size: int = BATCH_SIZE,
) -> IngestResult:
    """A whole logged run: start, ingest, finish; the summary goes to the log and the caller."""
    run_id = start_run(conn, kind, params)
    counts = RunCounts()
    try:
        ingest_items(conn, items, run_id=run_id, counts=counts, batch_size=batch_size)
    except BaseException as exc:
        if not conn.broken:
            try:
                conn.rollback()
                finish_run(conn, run_id, counts, status="failed")
            except psycopg.Error as finish_exc:  # e.g. disk full: the next run abandons it
                log.warning("could not mark run %d failed: %s", run_id, first_line(finish_exc))
        if isinstance(exc, psycopg.Error):
            what = ("lost the database" if conn.broken or (exc.sqlstate or "").startswith(
                ("08", "57P")) else "the database failed")
            raise DatabaseError(
                f"{what} during {kind} run {run_id} ({mask_dsn(first_line(exc))}); the"
                f" {counts.new + counts.updated + counts.unchanged} articles of the batches"
                " committed so far are kept, and rerunning the same input finishes the job"
            ) from exc
        raise
    status = finish_run(conn, run_id, counts)
    log.info(
        "%s run %d %s: read %d, new %d, updated %d, unchanged %d, failed %d, warnings %d",
        kind, run_id, status, counts.read, counts.new, counts.updated, counts.unchanged,
        counts.failed, counts.warnings,
    )
    errors = run_errors(conn, run_id)
    conn.commit()  # end the read: an idle open transaction would hold back VACUUM and make
    # the caller's next `conn.transaction()` (cluster_pending's batches) mere savepoints
    return IngestResult(run_id, status, counts, errors)


def ingest_files(
    conn: psycopg.Connection,
    paths: list[str | Path],
    *,
    pattern: str = "*.txt",
    source: str | None = None,
) -> IngestResult:
    params = {"paths": [str(p) for p in paths], "pattern": pattern, "source": source}
    return run_ingest(conn, "files", iter_files(paths, pattern, source), params)


def ingest_jsonl(
    conn: psycopg.Connection, paths: list[str | Path], *, source: str | None = None
) -> IngestResult:
    params = {"paths": [str(p) for p in paths], "source": source}

    def items() -> Iterable[RawItem | InputError]:
        for path in paths:
            yield from iter_jsonl(path, source)

    return run_ingest(conn, "jsonl", items(), params)
