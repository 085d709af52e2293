"""Faults injected into real processes and a real PostgreSQL that each test starts for itself.

The server is a pgserver instance in a temporary directory, so it can be crashed
(``pg_ctl stop -m immediate``: no shutdown checkpoint, connections cut) and restarted without
harming the shared one. Ingest and threading run as separate OS processes, as in production,
so they can be SIGKILLed. What must hold after every fault: each article stored exactly once,
each in at most one thread, runs that died marked as such, and a rerun finishing the job.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from newsthreads.store.migrate import migrate

pytestmark = pytest.mark.faults

N_ARTICLES = 6000
TOPICS = [("Vladivostok", "Putin", "Kim", "toppmøte"), ("Bergen", "flom", "regn", "veier"),
          ("Oslo", "budsjett", "Støre", "Stortinget"), ("Hanoi", "Trump", "Kim", "atomavtale")]


class PrivatePostgres:
    """A PostgreSQL of the test's own, crashable and restartable."""

    def __init__(self) -> None:
        import pgserver

        self.dir = Path(tempfile.mkdtemp(prefix="newsthreads-fault-pg-"))
        self.server = pgserver.get_server(self.dir, cleanup_mode="delete")
        with psycopg.connect(self.server.get_uri(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE news")
        self.url = self.server.get_uri("news")
        with psycopg.connect(self.url) as conn:
            migrate(conn)

    def crash(self) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(["-m", "immediate", "-w", "stop"], pgdata=self.dir, user=self.server.system_user)

    def start(self) -> None:
        self.server.ensure_postgres_running()

    def count(self, sql: str) -> int:
        with psycopg.connect(self.url) as conn:
            return int(conn.execute(sql).fetchone()[0])


@pytest.fixture
def pg():
    server = PrivatePostgres()
    yield server
    server.start()  # a crashed server must be up for a clean stop and delete
    server.server.cleanup()


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    """A JSONL archive big enough that a run is still going when the fault hits."""
    rng = random.Random(3)
    path = tmp_path_factory.mktemp("faults") / "archive.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for i in range(N_ARTICLES):
            topic = TOPICS[i % len(TOPICS)]
            words = [rng.choice(topic) for _ in range(40)]
            fh.write(json.dumps({
                "id": f"f{i}", "source": f"outlet{i % 5}", "lang": "nb",
                "title": f"{topic[0]}: {topic[1]} og {topic[2]}",
                "text": f"Sak nummer {i} om {' '.join(words)}.",
                "published": f"2019-04-{1 + i % 28:02d}",
            }) + "\n")
    return path


def start_cli(pg: PrivatePostgres, *args: str, attempts: int = 1) -> subprocess.Popen:
    env = {**os.environ, "NEWS_DATABASE_URL": pg.url, "NEWS_DB_CONNECT_ATTEMPTS": str(attempts),
           "NEWS_DB_CONNECT_BACKOFF": "0.3"}
    return subprocess.Popen([sys.executable, "-m", "newsthreads.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def start_cluster(pg: PrivatePostgres) -> subprocess.Popen:
    code = ("import logging; logging.basicConfig(level=logging.INFO)\n"
            "from newsthreads.store.connection import connect\n"
            "from newsthreads.stories.service import cluster_pending\n"
            "with connect() as c: print(cluster_pending(c))\n")
    env = {**os.environ, "NEWS_DATABASE_URL": pg.url}
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for(pg: PrivatePostgres, sql: str, at_least: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pg.count(sql)
        if value >= at_least:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{sql} never reached {at_least}")


def assert_whole(pg: PrivatePostgres) -> None:
    assert pg.count("SELECT count(*) FROM articles") == N_ARTICLES
    assert pg.count("SELECT count(DISTINCT (source, source_key)) FROM articles") == N_ARTICLES
    assert pg.count("SELECT count(*) FROM article_versions") == 0  # nothing counted as an edit


def rerun(pg: PrivatePostgres, archive: Path) -> str:
    out = start_cli(pg, "ingest-jsonl", str(archive), "--json")
    stdout, stderr = out.communicate(timeout=300)
    assert out.returncode == 0, stderr
    return stdout


def test_database_crash_mid_ingest_then_rerun_completes(pg, archive):
    proc = start_cli(pg, "ingest-jsonl", str(archive))
    stored = wait_for(pg, "SELECT count(*) FROM articles", 500)
    pg.crash()
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2, stderr
    assert "Traceback" not in stderr
    assert "lost the database during jsonl run" in stderr and "rerunning" in stderr
    pg.start()
    kept = pg.count("SELECT count(*) FROM articles")
    assert stored <= kept < N_ARTICLES and kept % 500 == 0  # whole batches only
    summary = json.loads(rerun(pg, archive).splitlines()[0])
    assert summary["new"] == N_ARTICLES - kept and summary["unchanged"] == kept
    assert_whole(pg)
    assert pg.count("SELECT count(*) FROM ingest_runs WHERE status = 'abandoned'") == 1
    assert pg.count("SELECT count(*) FROM ingest_runs WHERE status = 'running'") == 0


def test_ingest_process_killed_then_rerun_completes(pg, archive):
    proc = start_cli(pg, "ingest-jsonl", str(archive))
    wait_for(pg, "SELECT count(*) FROM articles", 1000)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    time.sleep(0.5)  # the server notices the dead client
    kept = pg.count("SELECT count(*) FROM articles")
    assert kept < N_ARTICLES
    rerun(pg, archive)
    assert_whole(pg)
    assert pg.count("SELECT count(*) FROM ingest_runs WHERE status = 'abandoned'") == 1


def test_threading_killed_mid_run_leaves_no_half_state(pg, archive):
    """Killed while batches' document-frequency increments wait in the journal (they are
    added to the counts every few batches): the rerun adds them first, so every count is
    each article's, once."""
    from newsthreads.store.threads import window_articles
    from newsthreads.stories.items import item_from_row, keys_counted

    rerun(pg, archive)
    proc = start_cluster(pg)
    wait_for(pg, "SELECT count(*) FROM thread_df_journal", 1, timeout=120)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    time.sleep(0.5)
    left = pg.count("SELECT count(*) FROM thread_df_journal")
    assert left and pg.count("SELECT count(*) FROM thread_articles") < N_ARTICLES
    done = start_cluster(pg)
    _, stderr = done.communicate(timeout=300)
    assert done.returncode == 0, stderr
    assert f"journalled in {left} batch(es) but had not added" in stderr
    assert pg.count("SELECT count(*) FROM thread_articles") == N_ARTICLES
    assert pg.count("SELECT count(*) FROM threads t WHERE NOT EXISTS"
                    " (SELECT 1 FROM thread_articles ta WHERE ta.thread_id = t.id)") == 0
    assert pg.count("SELECT count(*) FROM thread_df_journal") == 0
    assert pg.count("SELECT n_docs FROM thread_state") == N_ARTICLES
    with psycopg.connect(pg.url) as conn:
        rows = window_articles(conn, datetime(2019, 1, 1, tzinfo=UTC),
                               datetime(2020, 1, 1, tzinfo=UTC))
        counts = dict(conn.execute("SELECT term, df FROM thread_term_df").fetchall())
    assert len(rows) == N_ARTICLES
    assert counts == dict(keys_counted([item_from_row(row) for row in rows]))


def test_concurrent_ingests_and_threading_runs(pg, archive):
    procs = [start_cli(pg, "ingest-jsonl", str(archive), attempts=3) for _ in range(2)]
    wait_for(pg, "SELECT count(*) FROM articles", 1000)
    procs += [start_cluster(pg) for _ in range(2)]
    for proc in procs:
        _, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
    assert_whole(pg)
    last = start_cluster(pg)  # the threading runs may have started before the last batch
    assert last.wait(300) == 0
    assert pg.count("SELECT count(*) FROM thread_articles") == N_ARTICLES
    assert pg.count("SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
                    " WHERE d.datname = 'news' AND l.locktype = 'advisory'") == 0


def test_refused_connections_are_retried_then_reported(pg, archive):
    pg.crash()
    proc = start_cli(pg, "ingest-jsonl", str(archive), attempts=3)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert "retrying in" in stderr and "cannot connect" in stderr and "after 3 attempt" in stderr
    assert "Traceback" not in stderr

    proc = start_cli(pg, "ingest-jsonl", str(archive), attempts=8)
    time.sleep(1.0)  # the server is still down for the first attempts
    pg.start()
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert "retrying in" in stderr
    assert_whole(pg)
