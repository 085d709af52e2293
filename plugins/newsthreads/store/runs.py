"""The run log: what each run read, stored, skipped, and why (``ingest_runs``, ``ingest_errors``).

Error rows are written in the caller's transaction and committed with its batch, so a crash
keeps or loses a batch's articles and its errors together.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

log = logging.getLogger(__name__)

RAW_CAP = 1_000_000  # bytes of raw input kept per error row; the rest stays at the source


@dataclass
class RunCounts:
    read: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    duplicates: int = 0
    warnings: int = 0

    def add(self, other: RunCounts) -> None:
        for key, value in asdict(other).items():
            setattr(self, key, getattr(self, key) + value)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


# Only runs tied to one session can be judged by it: a run without a backend_pid spans several
# connections (the feeds DAG opens it in one task and closes it in another).
_ABANDON = """
UPDATE ingest_runs SET status = 'abandoned', finished_at = now()
WHERE status = 'running'
  AND backend_pid IS NOT NULL
  AND backend_pid NOT IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database())
RETURNING id, kind, started_at
"""


def start_run(
    conn: psycopg.Connection, kind: str, params: dict[str, Any], *, session_bound: bool = True
) -> int:
    """Open a run; first close runs whose process is gone (killed, or lost with the server).

    A run is ``session_bound`` when this connection lives as long as the run: its death then
    tells that the run died. A run that other connections will finish (a DAG whose tasks each
    connect) passes ``session_bound=False`` and is never closed as abandoned by others.
    """
    for run_id, run_kind, started in conn.execute(_ABANDON).fetchall():
        log.warning("run %d (%s, started %s) was abandoned: its process is gone; its committed"
                    " batches are kept and this run redoes the rest", run_id, run_kind,
                    started.isoformat(timespec="seconds"))
    row = conn.execute(
        "INSERT INTO ingest_runs (kind, params, backend_pid)"
        " VALUES (%s, %s, CASE WHEN %s THEN pg_backend_pid() END) RETURNING id",
        (kind, Jsonb(params), session_bound),
    ).fetchone()
    conn.commit()
    assert row is not None
    return int(row[0])


def record_error(
    conn: psycopg.Connection,
    run_id: int | None,
    *,
    input: str,
    reason: str,
    severity: str = "error",
    line: int | None = None,
    item_key: str | None = None,
    raw: bytes | None = None,
) -> None:
    """Record one failed or doubtful input; raw bytes are kept (capped) so it can be replayed."""
    truncated = raw is not None and len(raw) > RAW_CAP
    conn.execute(
        "INSERT INTO ingest_errors (run_id, severity, input, line, item_key, reason, raw,"
        " raw_truncated) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (run_id, severity, _text(input), line, _text(item_key), _text(reason),
         raw[:RAW_CAP] if raw is not None else None, truncated),
    )


def _text(value: str | None) -> str | None:
    """Text PostgreSQL can store: U+0000 removed (the exact input is kept in ``raw``)."""
    return value.replace("\x00", "") if value else value


def finish_run(
    conn: psycopg.Connection, run_id: int, counts: RunCounts, status: str | None = None
) -> str:
    """Close the run with its counts; status defaults to ok, or partial when anything failed."""
    status = status or ("partial" if counts.failed else "ok")
    conn.execute(
        "UPDATE ingest_runs SET finished_at = now(), status = %s, items_read = %s,"
        " items_new = %s, items_updated = %s, items_unchanged = %s, items_failed = %s,"
        " duplicates = %s, warnings = %s WHERE id = %s",
        (status, counts.read, counts.new, counts.updated, counts.unchanged, counts.failed,
         counts.duplicates, counts.warnings, run_id),
    )
    conn.commit()
    return status


def run_errors(conn: psycopg.Connection, run_id: int) -> list[dict[str, Any]]:
    """The error and warning rows of one run, oldest first (for summaries and tests)."""
    return conn.cursor(row_factory=dict_row).execute(
        "SELECT severity, input, line, item_key, reason, raw IS NOT NULL AS has_raw"
        " FROM ingest_errors WHERE run_id = %s ORDER BY id",
        (run_id,),
    ).fetchall()
