"""What the DAG tasks do, as plain functions: a DAG task is a call to one of these.

They take parameters, open the news database through the one resolver, and return a small
JSON-able summary (it lands in XCom and the task log). No Airflow import here, so the same
code runs from the CLI and in tests.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from newsthreads.paths import REPO_ROOT
from newsthreads.pipeline import IngestResult, ingest_files, ingest_jsonl
from newsthreads.store.connection import connect
from newsthreads.store.migrate import migrate
from newsthreads.store.runs import RunCounts, finish_run, start_run

log = logging.getLogger(__name__)

WINDOW_TZ = "Europe/Oslo"  # the zone day and month dates are stored in


def resolve_input_path(path: str) -> Path:
    """Relative paths are read from the repository root, where seeds/ lives."""
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else REPO_ROOT / candidate


def ingest_files_task(path: str, pattern: str = "*.txt", source: str | None = None) -> dict:
    target = resolve_input_path(path)
    log.info("ingesting %s (pattern %s, source %s)", target, pattern, source or target.name)
    with connect() as conn:
        migrate(conn)
        result = ingest_files(conn, [target], pattern=pattern, source=source or None)
    for err in result.errors:
        where = err["input"] + (f":{err['line']}" if err["line"] else "")
        log.warning("%s: %s: %s", err["severity"], where, err["reason"])
    summary: dict[str, Any] = {"run_id": result.run_id, "status": result.status,
                               **result.counts.as_dict()}
    log.info("ingest summary: %s", summary)
    return summary


def cluster_logged(conn: Any, *, limit: int | None = None,
                   follow: Callable[[], bool] | None = None) -> tuple[int, Any]:
    """Thread every pending article as one run in ``ingest_runs`` (kind ``cluster``);
    ``follow``: see ``cluster_pending``.

    Counts: read = articles assigned, new = threads opened, duplicates = near-copies marked.
    """
    from newsthreads.stories.service import cluster_pending

    run_id = start_run(conn, "cluster", {"limit": limit, "follow": follow is not None})
    try:
        stats = cluster_pending(conn, run_id=run_id, limit=limit, follow=follow)
    except BaseException:
        if not conn.broken:
            conn.rollback()
            finish_run(conn, run_id, RunCounts(), status="failed")
        raise
    finish_run(conn, run_id, RunCounts(read=stats.assigned, new=stats.new_threads,
                                       duplicates=stats.duplicates))
    return run_id, stats


def ingest_and_thread(conn: Any, paths: list[str | Path], *, source: str | None = None,
                      connect_ingest: Callable[[], Any] = connect,
                      ) -> tuple[IngestResult, int, Any]:
    """Store JSONL archives and thread them at the same time: the ingest runs on a second
    connection (``connect_ingest``) in a thread of its own while ``conn`` threads what it
    has committed (``cluster_pending`` following it). Storing is mostly PostgreSQL's work
    and threading mostly this process's, so on two cores the two overlap; the threads are
    those of one run after the ingest when the archive is in publication order (see
    ``cluster_pending``'s ``follow``). Returns the ingest's result, the cluster run's id and
    its stats. A failed threading run waits for the ingest to end (what it stored is
    threaded by the next run); a failed ingest is raised once threading has caught up."""
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def store_all() -> None:
        try:
            with connect_ingest() as ingest_conn:
                outcome["result"] = ingest_jsonl(ingest_conn, paths, source=source)
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc
        finally:
            done.set()

    storing = threading.Thread(target=store_all, name="newsthreads-ingest", daemon=True)
    storing.start()
    try:
        run_id, stats = cluster_logged(conn, follow=lambda: not done.is_set())
    except BaseException:
        storing.join()
        if "error" in outcome:  # the threading error is raised; this one is said here
            log.error("the ingest failed too: %s", outcome["error"])
        raise
    storing.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"], run_id, stats


def thread_stories_task() -> dict:
    with connect() as conn:
        migrate(conn)
        run_id, stats = cluster_logged(conn)
    summary = {"run_id": run_id, **dataclasses.asdict(stats)}
    log.info("threading summary: %s", summary)
    return summary


def rethread_task(start_day: str, end_day: str, dry_run: bool) -> dict:
    """Re-cluster the articles published on [start_day, end_day] (days in the display zone,
    both included) and log the run in ``ingest_runs`` as kind ``rethread``."""
    from newsthreads.stories.service import rethread

    first, last = date.fromisoformat(start_day), date.fromisoformat(end_day)
    if last < first:
        raise ValueError(f"rethread window: 'to' ({last}) is before 'from' ({first})")
    zone = ZoneInfo(WINDOW_TZ)
    start = datetime.combine(first, time(), zone)
    end = datetime.combine(last + timedelta(days=1), time(), zone)
    params = {"from": start_day, "to": end_day, "dry_run": dry_run}
    with connect() as conn:
        migrate(conn)
        run_id = start_run(conn, "rethread", params)
        try:
            result = rethread(conn, start, end, dry_run=dry_run)
        except BaseException:
            if not conn.broken:
                conn.rollback()
                finish_run(conn, run_id, RunCounts(), status="failed")
            raise
        finish_run(conn, run_id, RunCounts(read=result.articles, updated=result.moved,
                                           duplicates=result.stats.duplicates))
    summary = {"run_id": run_id, "from": start_day, "to": end_day, "dry_run": dry_run,
               "articles": result.articles, "threads_before": result.threads_before,
               "threads_after": result.threads_after, "moved": result.moved,
               "duplicates": result.stats.duplicates,
               "seconds": round(result.stats.seconds, 2)}
    log.info("rethread %s: %s", "preview (nothing written)" if dry_run else "applied", summary)
    return summary
