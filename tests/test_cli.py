"""The `newsthreads` command as a user runs it: a real process against the test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys

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
