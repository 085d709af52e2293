"""Test fixtures: a throwaway PostgreSQL database per session, migrated, dropped after.

The server is ``NEWS_TEST_ADMIN_URL`` (default: the local server at 127.0.0.1:5432 as user
postgres); on a machine with no server the same tests run on an embedded pgserver started in
a temporary directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from newsthreads.store.migrate import migrate

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"
EVAL = REPO.parent / "shared" / "eval"
DEFAULT_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"

os.environ.setdefault("NEWS_ALLOW_PRIVATE_NETWORKS", "1")

pytest_plugins = ["sigterm_unwinds"]


def _admin_url() -> tuple[str, object | None]:
    url = os.environ.get("NEWS_TEST_ADMIN_URL", DEFAULT_ADMIN)
    try:
        psycopg.connect(url, connect_timeout=3).close()
        return url, None
    except psycopg.OperationalError:
        if "NEWS_TEST_ADMIN_URL" in os.environ:
            raise
    import pgserver

    tmp = tempfile.mkdtemp(prefix="newsthreads-pg-")
    server = pgserver.get_server(tmp, cleanup_mode="delete")
    return server.get_uri(), server


def _with_db(url: str, dbname: str, scheme: str | None = None) -> str:
    parts = urlsplit(url)
    return urlunsplit((scheme or parts.scheme, parts.netloc, f"/{dbname}", parts.query,
                       parts.fragment))


# Decided at import, before any test module imports Airflow (which reads its config once).
ADMIN_URL, _EMBEDDED = _admin_url()
SESSION_DB = f"newsthreads_test_{uuid.uuid4().hex[:10]}"
AIRFLOW_DB = f"{SESSION_DB}_airflow"
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="newsthreads-airflow-"))
os.environ.update({
    "AIRFLOW_HOME": str(AIRFLOW_HOME),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": _with_db(ADMIN_URL, AIRFLOW_DB, "postgresql+psycopg"),
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
})


def _drop(name: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def admin_url() -> Iterator[str]:
    yield ADMIN_URL


@pytest.fixture(scope="session")
def db_url(admin_url: str) -> Iterator[str]:
    """A fresh, migrated database for this test session; dropped at the end."""
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{SESSION_DB}"')
    url = _with_db(admin_url, SESSION_DB)
    with psycopg.connect(url) as conn:
        migrate(conn)
    previous = os.environ.get("NEWS_DATABASE_URL")
    os.environ["NEWS_DATABASE_URL"] = url
    os.environ["AIRFLOW_CONN_NEWS_DB"] = url
    yield url
    if previous is None:
        os.environ.pop("NEWS_DATABASE_URL", None)
    else:
        os.environ["NEWS_DATABASE_URL"] = previous
    _drop(SESSION_DB)


@pytest.fixture(scope="session")
def airflow_db(db_url: str) -> Iterator[str]:
    """Airflow's metadata database for this session (migrated once), beside the news one."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{AIRFLOW_DB}"')
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True,
                   stdout=subprocess.DEVNULL, env=os.environ.copy())
    yield os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    try:
        from airflow.settings import dispose_orm

        dispose_orm()
    except Exception:  # noqa: BLE001 - best effort before the drop, which forces anyway
        pass
    _drop(AIRFLOW_DB)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(AIRFLOW_HOME, ignore_errors=True)
    if _EMBEDDED is not None:
        _EMBEDDED.cleanup()  # type: ignore[attr-defined]


def truncate_all(url: str) -> None:
    """Empty every data table (not schema_migrations) so a test starts clean."""
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename <> 'schema_migrations'"
            )
        ]
        if tables:
            conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


@pytest.fixture
def clean_db(db_url: str) -> str:
    truncate_all(db_url)
    return db_url


@pytest.fixture
def conn(clean_db: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(clean_db) as connection:
        yield connection


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    """A writable copy of seeds/*.txt."""
    dest = tmp_path / "seeds"
    dest.mkdir()
    for path in sorted(SEEDS.glob("*.txt")):
        shutil.copy(path, dest / path.name)
    return dest
