"""The DAGs, run for real with dag.test() against PostgreSQL (news and Airflow metadata)."""

from __future__ import annotations

import psycopg
import pytest
from conftest import REPO, SEEDS
from newsthreads.assets import ARTICLES_ASSET_URI


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag


def test_dags_import_cleanly_with_their_params(dagbag):
    ingest = dagbag.dags["news_ingest_files"]
    assert set(ingest.params.keys()) >= {"path", "pattern", "source"}
    assert ingest.params["path"] == "seeds"
    threads = dagbag.dags["news_thread_stories"]
    assert [t.task_id for t in threads.tasks] == ["cluster"]
    assert type(threads.timetable).__name__ == "AssetTriggeredTimetable"
    assert ARTICLES_ASSET_URI in repr(threads.timetable.asset_condition)
    produced = dagbag.dags["news_ingest_files"].get_task("ingest").outlets
    assert [a.uri.rstrip("/") for a in produced] == [ARTICLES_ASSET_URI]


def test_ingest_then_thread_through_the_dags(dagbag, clean_db):
    run = dagbag.dags["news_ingest_files"].test(run_conf={"path": str(SEEDS)})
    assert "success" in str(run.state)
    run = dagbag.dags["news_thread_stories"].test()
    assert "success" in str(run.state)
    with psycopg.connect(clean_db) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone() == (5,)
        threads = conn.execute("SELECT article_count FROM story_threads").fetchall()
        assert threads == [(5,)]
        run_rows = conn.execute("SELECT kind, status, items_new FROM ingest_runs"
                                " ORDER BY id").fetchall()
        assert run_rows[0] == ("files", "ok", 5)
        cluster = conn.execute("SELECT status, items_read, items_new, duplicates FROM ingest_runs"
                               " WHERE kind = 'cluster'").fetchall()
        assert cluster == [("ok", 5, 1, 1)]  # 5 articles, 1 new thread, 1 near-duplicate
    # a second run through the DAG adds nothing
    run = dagbag.dags["news_ingest_files"].test(run_conf={"path": "seeds"})
    assert "success" in str(run.state)
    with psycopg.connect(clean_db) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone() == (5,)


def test_rethread_dag_params_and_a_real_run(dagbag, clean_db):
    dag = dagbag.dags["news_rethread"]
    assert dag.params["dry_run"] is True
    schema = {k: dag.params.get_param(k).schema for k in ("from", "to")}
    assert all(s.get("format") == "date" for s in schema.values())
    assert dagbag.dags["news_ingest_files"].test(run_conf={"path": "seeds"}).state == "success"
    assert dagbag.dags["news_thread_stories"].test().state == "success"
    run = dag.test(run_conf={"from": "2019-04-01", "to": "2019-04-30", "dry_run": False})
    assert "success" in str(run.state)
    with psycopg.connect(clean_db) as conn:
        kind, status, read = conn.execute(
            "SELECT kind, status, items_read FROM ingest_runs ORDER BY id DESC LIMIT 1"
        ).fetchone()
        assert (kind, status) == ("rethread", "ok") and read >= 4
        assert conn.execute("SELECT article_count FROM story_threads").fetchall() == [(5,)]
