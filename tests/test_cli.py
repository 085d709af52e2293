"""The `newsthreads` command as a user runs it: a real process against the test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import SEEDS


def cli(*args: str, db: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NEWS_DATABASE_URL": db, "NEWS_DB_CONNECT_ATTEMPTS": "2",
           "NEWS_DB_CONNECT_BACKOFF": "0.1"}
    return subprocess.run([sys.executable, "-m", "newsthreads.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_ingest_cluster_threads_and_export(clean_db):
    out = cli("ingest-files", str(SEEDS), "--cluster", db=clean_db)
    assert out.returncode == 0, out.stderr
    assert "new 5" in out.stdout and "failed 0" in out.stdout

    table = cli("threads", db=clean_db)
    assert table.returncode == 0
    lines = table.stdout.splitlines()
    assert lines[0].split()[:2] == ["thread", "label"]
    assert len(lines) == 3  # header, rule, one thread
    assert "2019-04-01 – 2019-04-30" in lines[2]
    assert lines[2].split()[-2:] == ["5", "1"]

    rows = json.loads(cli("threads", "--json", db=clean_db).stdout)
    assert len(rows) == 1 and rows[0]["article_count"] == 5 and rows[0]["duplicate_count"] == 1

    export = [json.loads(line) for line in cli("export-threads", "--format", "jsonl",
                                               db=clean_db).stdout.splitlines()]
    assert len(export) == 5 and len({r["thread"] for r in export}) == 1
    dups = {r["id"][:3]: r["duplicate_of"] for r in export if r["duplicate_of"]}
    assert set(dups.items()) in ({("001", "003_a6020745ddd234e6.txt")},
                                 {("003", "001_37df00bc9c246e76.txt")})
    assert all(r["source"] == "seeds" for r in export)

    again = cli("ingest-files", str(SEEDS), "--cluster", "--json", db=clean_db)
    summary = json.loads(again.stdout.splitlines()[0])
    assert summary["new"] == 0 and summary["unchanged"] == 5


def test_ingest_jsonl_clusters_concurrently(clean_db, tmp_path):
    """``--cluster-concurrently``: stored and threaded in one command, a bad line recorded."""
    lines = [json.dumps({"id": f"a{i}", "title": f"Storm Oda closes ferries {i}",
                         "text": "Ferries between Bergen and Stavanger were cancelled as storm"
                                 f" Oda hit the coast, number {i}.",
                         "lang": "en", "published": "2020-01-14", "source": "wire"})
             for i in range(3)]
    archive = tmp_path / "dump.jsonl"
    archive.write_text("\n".join([*lines, "{not json"]) + "\n")
    out = cli("ingest-jsonl", str(archive), "--cluster-concurrently", db=clean_db)
    assert out.returncode == 0, out.stderr
    assert "new 3" in out.stdout and "failed 1" in out.stdout
    assert "3 articles threaded" in out.stdout
    rows = json.loads(cli("threads", "--json", db=clean_db).stdout)
    assert sum(r["article_count"] for r in rows) == 3


def test_bad_input_prints_a_readable_line_and_exits_zero(clean_db, tmp_path):
    (tmp_path / "ok.txt").write_text(" date 2019-04\n\nEn helt vanlig nyhetssak om været.\n")
    (tmp_path / "bad.txt").write_bytes(b"\x00\x01binary")
    out = cli("ingest-files", str(tmp_path), db=clean_db)
    assert out.returncode == 0
    assert "new 1" in out.stdout and "failed 1" in out.stdout
    assert "bad.txt" in out.stdout and "binary" in out.stdout


def test_unreachable_database_is_a_clear_error_without_password(tmp_path):
    out = cli("threads", db="postgresql://news:s3cret@127.0.0.1:1/news")
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "newsthreads: error: cannot connect" in out.stderr
    assert "after 2 attempt(s)" in out.stderr and "retrying in" in out.stderr
    assert "s3cret" not in out.stderr + out.stdout


# --- the one resolver: what an operator writes in AIRFLOW_CONN_NEWS_DB reaches libpq ----------

def test_airflow_json_connection_keeps_its_ssl_extras(monkeypatch):
    from newsthreads.store.connection import resolve_dsn

    monkeypatch.delenv("NEWS_DATABASE_URL", raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_NEWS_DB", json.dumps({
        "conn_type": "postgres", "login": "news", "password": "p@ss word", "host": "db",
        "port": 5433, "schema": "news",
        "extra": {"sslmode": "verify-full", "sslrootcert": "/ca.pem", "cursor": "dictcursor"}}))
    dsn = resolve_dsn()
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(dsn)
    assert params["sslmode"] == "verify-full" and params["sslrootcert"] == "/ca.pem"
    assert "cursor" not in params  # a provider option, not a libpq one: libpq would refuse it
    assert (params["user"], params["password"], params["host"], params["port"],
            params["dbname"]) == ("news", "p@ss word", "db", "5433", "news")


def test_airflow_uri_with_encoded_extras_is_read(monkeypatch):
    from newsthreads.store.connection import resolve_dsn
    from psycopg.conninfo import conninfo_to_dict

    monkeypatch.delenv("NEWS_DATABASE_URL", raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_NEWS_DB", "postgres://u:pw@db:5432/news?__extra__="
                       "%7B%22sslmode%22%3A+%22require%22%2C+%22cursor%22%3A+%22x%22%7D")
    params = conninfo_to_dict(resolve_dsn())
    assert params["sslmode"] == "require" and "__extra__" not in params and "cursor" not in params


def test_a_malformed_airflow_connection_is_a_clear_error(tmp_path):
    env = {**os.environ, "AIRFLOW_CONN_NEWS_DB": '{"login": "u", "password": "s3cret"',
           "NEWS_DB_CONNECT_ATTEMPTS": "1"}
    env.pop("NEWS_DATABASE_URL", None)
    out = subprocess.run([sys.executable, "-m", "newsthreads.cli", "threads"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "AIRFLOW_CONN_NEWS_DB" in out.stderr and "JSON" in out.stderr
    assert "s3cret" not in out.stderr


@pytest.mark.parametrize("dsn", [
    "postgresql://u:s3cret@h/db", "host=h password=s3cret user=u",
    "host=h password='s3 cret' user=u", "host=h password = 's3\\' cret' user=u",
    "postgresql://h/db?sslmode=require&password=s3cret",
])
def test_mask_dsn_hides_every_password_spelling(dsn):
    from newsthreads.store.connection import mask_dsn

    masked = mask_dsn(dsn)
    assert "s3" not in masked and "cret" not in masked and "***" in masked


def test_a_negative_limit_is_a_usage_error_not_a_traceback(clean_db):
    out = cli("threads", "--limit", "-1", db=clean_db)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "--limit" in out.stderr


def test_reading_an_unmigrated_database_says_what_to_do(admin_url):
    import uuid
    from urllib.parse import urlsplit

    import psycopg

    name = f"newsthreads_empty_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        out = cli("threads", db=urlsplit(admin_url)._replace(path=f"/{name}").geturl())
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "relation \"newest_story_threads\" does not exist" in out.stderr
    assert "newsthreads migrate" in out.stderr
