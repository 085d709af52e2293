"""Reads behind `newsthreads threads` and `export-threads`: the thread table and assignments."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from newsthreads.store.reads import NEWEST_THREADS_SQL


def list_threads(conn: psycopg.Connection, *, limit: int | None = None) -> list[dict[str, Any]]:
    """Threads newest first: id, label, first/last date, article and source counts."""
    cur = conn.cursor(row_factory=dict_row).execute(
        NEWEST_THREADS_SQL, {"limit": limit, "offset": 0})
    return cur.fetchall()


def export_assignments(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """One row per article: its source identity, thread (or None) and the key it copies."""
    cur = conn.cursor(row_factory=dict_row).execute(
        "SELECT a.source, a.source_key AS id, ta.thread_id AS thread, d.source_key AS duplicate_of"
        " FROM articles a"
        " LEFT JOIN thread_articles ta ON ta.article_id = a.id"
        " LEFT JOIN articles d ON d.id = ta.duplicate_of"
        " ORDER BY a.source, a.source_key"
    )
    return cur.fetchall()
