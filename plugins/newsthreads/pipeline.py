"""The ingest core that the CLI and the DAGs call: read -> normalise -> store, with a run log.

One bad input never stops the others: it becomes an ``ingest_errors`` row (which input, which
line, why, the raw bytes) and a log line, and the run goes on. Each article is written in its
own savepoint so that even a database-level refusal (an odd byte, a constraint) costs only
that article; the batch commits every ``COMMIT_EVERY`` items so a crash loses little and a
rerun, being idempotent, redoes the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from newsthreads.errors import InputError
from newsthreads.model import RawItem
from newsthreads.normalise.article import normalise_item
from newsthreads.sources.files import iter_files
from newsthreads.sources.jsonl import iter_jsonl
from newsthreads.store.articles import upsert_article
from newsthreads.store.runs import RunCounts, finish_run, record_error, run_errors, start_run

log = logging.getLogger(__name__)

COMMIT_EVERY = 200


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


def ingest_items(
    conn: psycopg.Connection,
    items: Iterable[RawItem | InputError],
    *,
    run_id: int,
    now: datetime | None = None,
) -> RunCounts:
    """Normalise and store every item; failures are recorded, never raised."""
    counts = RunCounts()
    now = now or datetime.now(UTC)
    for n, item in enumerate(items, start=1):
        counts.read += 1
        if isinstance(item, InputError):
            counts.failed += 1
            _record_input_error(conn, run_id, item)
            continue
        try:
            article = normalise_item(item, now=now)
        except InputError as err:
            counts.failed += 1
            _record_input_error(conn, run_id, err)
            continue
        try:
            with conn.transaction():
                outcome = upsert_article(conn, article, run_id)
        except psycopg.DataError as exc:
            counts.failed += 1
            reason = f"database refused the article: {str(exc).splitlines()[0]}"
            _record_input_error(conn, run_id, InputError(item.location, reason, line=item.line,
                                                         key=item.key))
            continue
        setattr(counts, outcome, getattr(counts, outcome) + 1)
        for warning in article.warnings:
            counts.warnings += 1
            log.warning("%s: %s", item.location, warning)
            record_error(conn, run_id, input=item.location, line=item.line, item_key=item.key,
                         reason=warning, severity="warning")
        if n % COMMIT_EVERY == 0:
            conn.commit()
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
    except BaseException:
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
