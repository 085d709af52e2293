"""Migrations: applied once, twice is a no-op, concurrent runners are safe, edits refused."""

from __future__ import annotations

import shutil
import threading
import uuid

import psycopg
import pytest
from newsthreads.errors import DatabaseError
from newsthreads.paths import sql_dir
from newsthreads.store.migrate import discover, migrate
from psycopg.conninfo import make_conninfo


@pytest.fixture
def empty_db(admin_url):
    name = f"newsthreads_mig_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(admin_url, dbname=name)  # a URL or a socket URI (embedded server)
    yield url
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migrate_twice_is_a_no_op(empty_db):
    with psycopg.connect(empty_db) as conn:
        first = migrate(conn)
        assert first == [m.name for m in discover()]
        assert migrate(conn) == []
        count = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0]
        assert count == len(first)


def test_concurrent_migrations_apply_each_file_once(empty_db):
    applied: list[list[str]] = []
    errors: list[Exception] = []

    def run() -> None:
        try:
            with psycopg.connect(empty_db) as conn:
                applied.append(migrate(conn))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(len(a) for a in applied)[:-1] == [0, 0, 0]
    assert sorted(sum(applied, [])) == sorted(m.name for m in discover())


def test_edited_migration_is_refused(empty_db, tmp_path):
    for path in sql_dir().glob("*.sql"):
        shutil.copy(path, tmp_path / path.name)
    with psycopg.connect(empty_db) as conn:
        migrate(conn, tmp_path)
        first = sorted(tmp_path.glob("*.sql"))[0]
        first.write_text(first.read_text() + "\n-- edited\n")
        with pytest.raises(DatabaseError, match="changed after it was applied"):
            migrate(conn, tmp_path)


def test_a_failing_migration_names_its_file_and_is_not_recorded(empty_db, tmp_path):
    for path in sql_dir().glob("*.sql"):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "999_broken.sql").write_text("CREATE TABLE broken (id int);\nSELEC 1;\n")
    with psycopg.connect(empty_db) as conn:
        with pytest.raises(DatabaseError, match=r"999_broken\.sql.*syntax error"):
            migrate(conn, tmp_path)
        assert conn.execute("SELECT to_regclass('broken')").fetchone() == (None,)
        assert conn.execute("SELECT count(*) FROM schema_migrations WHERE version = '999'"
                            ).fetchone() == (0,)
        assert migrate(conn) == []  # the lock was released and the rest is applied


def test_an_up_to_date_database_needs_no_ddl_right(empty_db, admin_url):
    # The DAG tasks call migrate() first. Before the fix it ran CREATE TABLE IF NOT EXISTS,
    # which needs CREATE on the schema even when the table exists: a pipeline role with
    # only read/write rights on the tables failed every task.
    role = f"nt_dml_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(empty_db) as conn:
        migrate(conn)
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        conn.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public'
                     f' TO "{role}"')
    try:
        with psycopg.connect(make_conninfo(empty_db, user=role, password="")) as c:
            assert migrate(c) == []
    finally:
        with psycopg.connect(empty_db, autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')


def test_scratch_database_is_migrated_then_dropped(admin_url):
    from newsthreads.store.scratch import scratch_database

    with scratch_database(admin_url, "newsthreads_scratch") as url:
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(
                discover())
        name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(admin_url) as admin:
        assert admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                             (name,)).fetchone() is None


def test_ensure_database_is_idempotent_and_safe_under_a_race(admin_url):
    from newsthreads.store.connection import ensure_database

    name = f"newsthreads_ensure_{uuid.uuid4().hex[:8]}"
    errors: list[Exception] = []

    def run() -> None:
        try:
            ensure_database(admin_url, name)
        except Exception as exc:
            errors.append(exc)

    try:
        threads = [threading.Thread(target=run) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        ensure_database(admin_url, name)  # and once more when it surely exists
        assert not errors
        with psycopg.connect(admin_url) as admin:
            assert admin.execute("SELECT count(*) FROM pg_database WHERE datname = %s",
                                 (name,)).fetchone() == (1,)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_threading_state_storage_settings(empty_db):
    """008 and 009 set how the state tables store their large values: room on
    thread_term_df's pages, and lz4 for the big values where the server has lz4 (the
    embedded pgserver has not: there they keep the default, pglz)."""
    with psycopg.connect(empty_db) as conn:
        migrate(conn)
        options = conn.execute("SELECT reloptions FROM pg_class "
                               "WHERE relname = 'thread_term_df'").fetchone()[0]
        assert "fillfactor=60" in options
        lz4 = conn.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                           "WHERE name = 'default_toast_compression'").fetchone()[0]
        rows = conn.execute(
            "SELECT c.relname || '.' || a.attname, a.attcompression FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid WHERE (c.relname, a.attname) IN ("
            "('thread_vectors', 'text_tf'), ('thread_vectors', 'ents_tf'), "
            "('thread_vectors', 'xling_tf'), ('thread_vectors', 'packed'), "
            "('thread_member_features', 'features'), ('thread_member_features', 'packed'))"
        ).fetchall()
        assert len(rows) == 6
        assert {column: method for column, method in rows} == {
            column: "l" if lz4 else "" for column, _ in rows}
