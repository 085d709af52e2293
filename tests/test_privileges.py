"""Least privilege: the pipeline runs as an ordinary role; analysts get news_reader."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import psycopg
import pytest
from conftest import SEEDS, _with_db


@pytest.fixture
def app_role_db(admin_url):
    """A database owned by a fresh LOGIN role that is neither superuser nor role creator."""
    role = f"nt_app_{uuid.uuid4().hex[:8]}"
    db = f"{role}_db"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB')
        admin.execute(f'CREATE DATABASE "{db}" OWNER "{role}"')
    parts = admin_url.split("://", 1)[1]
    host = parts.split("@", 1)[1] if "@" in parts else parts
    url = _with_db(f"postgresql://{role}@{host}", db)
    yield url, role
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_migrate_ingest_and_cluster_without_superuser(app_role_db, admin_url):
    url, role = app_role_db
    env = {**os.environ, "NEWS_DATABASE_URL": url, "NEWS_DB_CONNECT_ATTEMPTS": "1"}
    for args in (["migrate"], ["ingest-files", str(SEEDS), "--cluster"], ["threads"]):
        out = subprocess.run([sys.executable, "-m", "newsthreads.cli", *args], env=env,
                             capture_output=True, text=True, timeout=180)
        assert out.returncode == 0, out.stderr
    table = out.stdout.splitlines()
    assert len(table) == 3 and table[2].split()[-2:] == ["5", "1"]  # one thread: 5 articles
    with psycopg.connect(url) as conn:
        superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
                                 ).fetchone()[0]
        assert superuser is False
        assert conn.execute("SELECT count(*) FROM thread_articles").fetchone() == (5,)


def test_news_reader_reads_views_and_articles_only(db_url, admin_url, clean_db):
    from newsthreads.pipeline import ingest_files

    with psycopg.connect(clean_db) as conn:
        ingest_files(conn, [SEEDS])
    with psycopg.connect(clean_db, autocommit=True) as conn:
        conn.execute("SET ROLE news_reader")
        assert conn.execute("SELECT count(*) FROM articles").fetchone() == (5,)
        conn.execute("SELECT * FROM story_threads").fetchall()
        conn.execute("SELECT * FROM thread_articles_v").fetchall()
        conn.execute("SELECT * FROM newest_story_threads LIMIT 5").fetchall()
        for forbidden in ("SELECT * FROM ingest_errors", "SELECT * FROM threads",
                          "DELETE FROM articles", "UPDATE articles SET title = 'x'"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(forbidden)
