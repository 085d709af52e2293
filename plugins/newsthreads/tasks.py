"""What the DAG tasks do, as plain functions: a DAG task is a call to one of these.

They take parameters, open the news database through the one resolver, and return a small
JSON-able summary (it lands in XCom and the task log). No Airflow import here, so the same
code runs from the CLI and in tests.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from newsthreads.paths import REPO_ROOT
from newsthreads.pipeline import ingest_files
from newsthreads.store.connection import connect
from newsthreads.store.migrate import migrate

log = logging.getLogger(__name__)


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


def thread_stories_task() -> dict:
    from newsthreads.stories.service import cluster_pending

    with connect() as conn:
        migrate(conn)
        stats = cluster_pending(conn)
    summary = stats.as_dict() if hasattr(stats, "as_dict") else dict(vars(stats))
    log.info("threading summary: %s", summary)
    return summary
