"""Reads behind `newsthreads threads` and `export-threads`: the thread table and assignments."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row


def list_threads(conn: psycopg.Connection, *, limit: int | None = None) -> list[dict[str, Any]]:
    """Threads newest first: id, label, first/last date, article and source counts."""
    cur = conn.cursor(row_factory=dict_row).execute(
        "SELECT thread_id, label, first_published, last_published_end, article_count,"
        " source_count, duplicate_count, languages FROM story_threads"
        " ORDER BY last_published_end DESC NULLS LAST, thread_id DESC LIMIT %s",
        (limit,),
    )
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
