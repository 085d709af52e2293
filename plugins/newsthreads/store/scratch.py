"""Throwaway databases for evaluation and benchmarks: created, migrated, dropped after.

One place for the CREATE/DROP DATABASE statements, so `newsthreads eval` and the benchmarks
clean up the same way (the drop forces out connections a failed run left behind).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from newsthreads.store.migrate import migrate


@contextmanager
def scratch_database(admin_url: str, prefix: str, *, keep: bool = False) -> Iterator[str]:
    """A fresh, migrated database ``<prefix>_<random>`` on ``admin_url``'s server; its URL.

    Dropped on exit unless ``keep`` (to inspect what a run wrote).
    """
    dbname = f"{prefix}_{uuid.uuid4().hex[:10]}"
    name = sql.Identifier(dbname)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(name))
    try:
        url = psycopg.conninfo.make_conninfo(admin_url, dbname=dbname)
        with psycopg.connect(url) as conn:
            migrate(conn)
        yield url
    finally:
        if not keep:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
