"""
### news_ingest_files

Reads article files (the seed-file format) from a folder into the news database. Each file is
one article; a file that cannot be read is logged in `ingest_errors` with the reason and the
run goes on. Re-running on the same folder changes nothing; edited files become new versions.

Emits the `newsthreads://articles` Asset, which schedules **news_thread_stories**.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Asset, Param, dag, task
from newsthreads.assets import ARTICLES_ASSET_URI


@dag(
    dag_id="news_ingest_files",
    schedule=None,
    catchup=False,
    max_active_runs=2,
    doc_md=__doc__,
    tags=["newsthreads", "ingest"],
    default_args={"owner": "newsthreads", "retries": 2, "retry_delay": timedelta(seconds=30),
                  "retry_exponential_backoff": True},
    params={
        "path": Param("seeds", type="string", title="Folder or file",
                      description="A folder (or one file) to read; relative paths start at the"
                                  " project root, e.g. `seeds`."),
        "pattern": Param("*.txt", type="string", title="File pattern",
                         description="Glob for the files to read inside the folder."),
        "source": Param(None, type=["null", "string"], title="Source name",
                        description="Name stored as the articles' source; empty means the"
                                    " folder's name."),
    },
)
def news_ingest_files():
    @task(outlets=[Asset(ARTICLES_ASSET_URI)])
    def ingest(params: dict | None = None) -> dict:
        from newsthreads.tasks import ingest_files_task

        params = params or {}
        return ingest_files_task(params["path"], params.get("pattern") or "*.txt",
                                 params.get("source"))

    ingest()


news_ingest_files()
