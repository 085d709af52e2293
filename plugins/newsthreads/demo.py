"""The main job, end to end: seeds/ (and the sample feeds) through the real DAGs, then threads.

Runs each DAG with ``dag.test()`` against the news database the resolver picks (the embedded
PostgreSQL under .data/ when NEWS_DATABASE_URL is unset), with Airflow's metadata in its own
database beside it, and prints the story threads as a table.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import warnings
from typing import Any

from newsthreads.paths import REPO_ROOT
from newsthreads.store.connection import connect, mask_dsn, resolve_dsn
from newsthreads.store.export import export_assignments, list_threads
from newsthreads.store.migrate import migrate

log = logging.getLogger("newsthreads.demo")


def prepare_airflow(news_dsn: str) -> dict[str, str]:
    """Set this process's environment for Airflow and migrate its metadata database."""
    from newsthreads.airflow_env import airflow_environment

    env = airflow_environment(news_dsn)
    os.environ.update(env)
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True,
                   stdout=subprocess.DEVNULL, env=os.environ.copy())
    return env


def run_dag(dag_id: str, conf: dict[str, Any] | None = None) -> str:
    """Run one DAG from dags/ with dag.test(); return the run's final state."""
    from airflow.dag_processing.dagbag import DagBag

    warnings.filterwarnings("ignore", category=DeprecationWarning)  # Airflow resets filters
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    bag = DagBag(dag_folder=str(REPO_ROOT / "dags" / f"{dag_id}.py"))
    if dag_id not in bag.dags:
        raise RuntimeError(f"DAG {dag_id} did not load: {bag.import_errors}")
    run = bag.dags[dag_id].test(run_conf=conf or {})
    state = str(getattr(run, "state", "unknown"))
    print(f"  {dag_id}: {state}")
    return state


def _feed_demo() -> Any | None:
    """The sample-feed server, when the feed stage is installed (it serves seeds/feeds/)."""
    try:
        from newsthreads.demo_feeds import start_demo_feeds
    except ImportError:
        return None
    return start_demo_feeds()


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # third-party noise
    warnings.filterwarnings("ignore", module="platformdirs")
    started = time.monotonic()
    dsn = resolve_dsn()
    print(f"news database: {mask_dsn(dsn)}")
    with connect(dsn) as conn:
        migrate(conn)
        before = len(export_assignments(conn))
    prepare_airflow(dsn)
    print("running the DAGs:")
    states = [run_dag("news_ingest_files", {"path": str(REPO_ROOT / "seeds")})]
    feeds = _feed_demo()
    if feeds is not None:
        try:
            states.append(run_dag("news_ingest_feeds"))
        finally:
            feeds.stop()
    states.append(run_dag("news_thread_stories"))
    from newsthreads.commands.core import format_threads

    with connect(dsn) as conn:
        rows = list_threads(conn)
        assignments = export_assignments(conn)
    print(f"\n{len(assignments)} articles ({len(assignments) - before} new in this run)"
          f" in {len(rows)} story threads:\n")
    print(format_threads(rows))
    seeds = [a for a in assignments if a["source"] == "seeds"]
    seed_threads = sorted({str(a["thread"]) for a in seeds})
    copies = ", ".join(f"{a['id'][:3]} copies {a['duplicate_of'][:3]}" for a in seeds
                       if a["duplicate_of"])
    print(f"\nseeds/: {len(seeds)} articles in thread {', '.join(seed_threads)}"
          f"; near-duplicates: {copies or 'none'}")
    print(f"\ndone in {time.monotonic() - started:.0f} s. Query it: psql \"$(.venv/bin/newsthreads"
          " db url --show-password)\" -c 'SELECT * FROM story_threads'")
    failed = [s for s in states if "success" not in s]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
