"""Apply the numbered migrations in sql/ once each, safely under concurrency.

Each migration runs in its own transaction and is recorded with its checksum in
``schema_migrations``; a session advisory lock serialises concurrent runners, so two
``newsthreads migrate`` at once apply each file exactly once. A shipped migration that was
edited afterwards is refused rather than silently skipped.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from newsthreads.errors import DatabaseError, first_line
from newsthreads.paths import sql_dir

log = logging.getLogger(__name__)

_LOCK_KEY = 7_246_001  # arbitrary, constant: the migration lock's advisory key
_NAME_RE = re.compile(r"^(\d+)_[\w-]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Path | None = None) -> list[Migration]:
    """The migrations in ``directory`` (default sql/) in numeric order."""
    directory = directory or sql_dir()
    found = []
    for path in directory.glob("*.sql"):
        match = _NAME_RE.match(path.name)
        if match:
            found.append(Migration(match.group(1), path.name, path.read_text(encoding="utf-8")))
    found.sort(key=lambda m: (int(m.version), m.name))
    if not found:
        raise DatabaseError(f"no migrations found in {directory}")
    return found


_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


def migrate(conn: psycopg.Connection, directory: Path | None = None) -> list[str]:
    """Apply pending migrations; return the names applied (empty when up to date).

    An up-to-date database needs no DDL right, so a role that may only read and write the
    tables can call this first thing, as every DAG task does. A migration that fails is rolled
    back whole and raised as a DatabaseError naming its file and the server's reason.
    """
    migrations = discover(directory)
    previous_autocommit = conn.autocommit
    if not previous_autocommit:
        conn.commit()
    conn.autocommit = True
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            return _apply(conn, migrations)
        finally:
            if not conn.broken:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    finally:
        if not conn.broken:
            conn.autocommit = previous_autocommit


def _apply(conn: psycopg.Connection, migrations: list[Migration]) -> list[str]:
    """The pending migrations applied, each in its own transaction; the caller holds the lock."""
    if conn.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,):
        conn.execute(_CREATE_TABLE)
    done = {
        version: (name, checksum)
        for version, name, checksum in conn.execute(
            "SELECT version, name, checksum FROM schema_migrations"
        )
    }
    applied: list[str] = []
    for migration in migrations:
        if migration.version in done:
            name, checksum = done[migration.version]
            if checksum != migration.checksum:
                raise DatabaseError(
                    f"migration {migration.name} changed after it was applied "
                    f"(as {name}); add a new numbered migration instead of editing it"
                )
            continue
        try:
            with conn.transaction():
                conn.execute(migration.sql)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
        except psycopg.Error as exc:
            if conn.broken:
                raise
            reason = first_line(exc)
            if isinstance(exc, psycopg.errors.InsufficientPrivilege):
                reason += "; run `newsthreads migrate` once as the database owner"
            raise DatabaseError(
                f"migration {migration.name} failed and was rolled back: {reason}") from exc
        log.info("applied migration %s", migration.name)
        applied.append(migration.name)
    return applied
