"""The environment a local Airflow runs with: home, folders, metadata DB, the news_db connection.

Used by the demo (``dag.test()`` of the real DAGs) and by ``make airflow``, so both see the
same DAGs against the same database. Airflow's metadata lives in its own database beside the
news database (``<newsdb>_airflow`` on the same server), never in the news tables.
"""

from __future__ import annotations

import os
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from newsthreads.paths import REPO_ROOT, data_dir
from newsthreads.store.connection import ensure_database, resolve_dsn


def _sibling_database(dsn: str, suffix: str) -> str:
    """Create (if missing) the database ``<name><suffix>`` on the server of ``dsn``."""
    parts = urlsplit(dsn)
    name = (unquote(parts.path.lstrip("/")) or "postgres") + suffix
    ensure_database(dsn, name)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(name, safe=""), parts.query,
                       parts.fragment))


def airflow_environment(news_dsn: str | None = None) -> dict[str, str]:
    """Environment variables for an Airflow process that runs our DAGs on our database."""
    news_dsn = news_dsn or resolve_dsn()
    meta = os.environ.get("NEWS_AIRFLOW_DATABASE_URL") or _sibling_database(news_dsn, "_airflow")
    meta_sqla = urlunsplit(("postgresql+psycopg", *urlsplit(meta)[1:]))
    home = data_dir() / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta_sqla,
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL",
                                                          "WARNING"),
        "AIRFLOW_CONN_NEWS_DB": news_dsn,
        "NEWS_DATABASE_URL": news_dsn,
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(REPO_ROOT / "plugins"), os.environ.get("PYTHONPATH")) if p),
    }
