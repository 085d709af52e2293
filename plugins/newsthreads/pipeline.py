"""The ingest core that the CLI and the DAGs call: read -> normalise -> store, with a run log.

One bad input never stops the others: it becomes an ``ingest_errors`` row (which input, which
line, why, the raw bytes) and a log line, and the run goes on. Articles are stored in batches
(COPY plus set-based upserts) committed one by one, so a crash loses at most one batch and a
rerun, being idempotent, redoes it; a batch the database refuses is redone row by row in
savepoints, so a refusal (an odd byte, a constraint) costs only the article that caused it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from newsthreads.errors import DatabaseError, InputError
from newsthreads.model import Article, RawItem
from newsthreads.normalise.article import normalise_item
from newsthreads.sources.files import iter_files
from newsthreads.sources.jsonl import iter_jsonl
from newsthreads.store.articles import upsert_article, upsert_articles
from newsthreads.store.connection import mask_dsn
from newsthreads.store.runs import RunCounts, finish_run, record_error, run_errors, start_run

log = logging.getLogger(__name__)

BATCH_SIZE = 500  # articles per COPY batch and per commit


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


def _store_batch(
    conn: psycopg.Connection,
    batch: list[tuple[RawItem, Article]],
    run_id: int,
    counts: RunCounts,
) -> None:
    """Write a batch the fast way; if the database refuses it, redo it row by row."""
    articles = [article for _, article in batch]
    try:
        with conn.transaction():
            outcomes: list[str | None] = list(upsert_articles(conn, articles, run_id))
    except psycopg.OperationalError:
        raise  # the server is gone: retrying row by row would only fail slower
    except psycopg.Error as exc:
        log.info("batch of %d refused (%s); retrying row by row", len(batch),
                 str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        outcomes = []
        for item, article in batch:
            try:
                with conn.transaction():
                    outcomes.append(upsert_article(conn, article, run_id))
            except psycopg.OperationalError:
                raise
            except psycopg.Error as row_exc:
                reason = f"database refused the article: {str(row_exc).splitlines()[0]}"
                _record_input_error(conn, run_id, InputError(
                    item.location, reason, line=item.line, key=item.key,
                    raw=json.dumps(item.fields, ensure_ascii=False).encode()))
                outcomes.append(None)
    for (item, article), outcome in zip(batch, outcomes, strict=True):
        if outcome is None:
            counts.failed += 1
            continue
        setattr(counts, outcome, getattr(counts, outcome) + 1)
        for warning in article.warnings:
            counts.warnings += 1
            log.warning("%s: %s", item.location, warning)
            record_error(conn, run_id, input=item.location, line=item.line, item_key=item.key,
                         reason=warning, severity="warning")
    conn.commit()


def ingest_items(
    conn: psycopg.Connection,
    items: Iterable[RawItem | InputError],
    *,
    run_id: int,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
) -> RunCounts:
    """Normalise and store every item; failures are recorded, never raised."""
    counts = RunCounts()
    now = now or datetime.now(UTC)
    batch: list[tuple[RawItem, Article]] = []
    for item in items:
        counts.read += 1
        if isinstance(item, InputError):
            counts.failed += 1
            _record_input_error(conn, run_id, item)
            continue
        try:
            batch.append((item, normalise_item(item, now=now)))
        except InputError as err:
            counts.failed += 1
            _record_input_error(conn, run_id, err)
            continue
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
) -> IngestResult:
    """A whole logged run: start, ingest, finish; the summary goes to the log and the caller."""
    run_id = start_run(conn, kind, params)
    try:
        counts = ingest_items(conn, items, run_id=run_id)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseError(
            f"lost the database during {kind} run {run_id} ({mask_dsn(reason)}); the batches"
            " committed so far are kept, and rerunning the same input finishes the job"
        ) from exc
    except BaseException:
        if not conn.broken:
            conn.rollback()
            finish_run(conn, run_id, RunCounts(), status="failed")
        raise
    status = finish_run(conn, run_id, counts)
    log.info(
        "%s run %d %s: read %d, new %d, updated %d, unchanged %d, failed %d, warnings %d",
        kind, run_id, status, counts.read, counts.new, counts.updated, counts.unchanged,
        counts.failed, counts.warnings,
    )
    return IngestResult(run_id, status, counts, run_errors(conn, run_id))


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
