"""One resolver for the news database, used by the CLI, the DAGs, the UI and the tests.

Order: ``NEWS_DATABASE_URL``; else the Airflow connection ``news_db`` (``AIRFLOW_CONN_NEWS_DB``
as a URI or JSON, or the Airflow secrets backend when running inside a task); else an embedded
PostgreSQL (the ``pgserver`` wheel) with its data under ``.data/pg``, which keeps running after
the process ends so that psql and the next command find the same data.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import time
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from newsthreads.errors import DatabaseError, first_line
from newsthreads.paths import data_dir

log = logging.getLogger(__name__)

EMBEDDED_DBNAME = "newsthreads"
_PASSWORD_RE = re.compile(r"(://[^:/@]*:)([^@]*)(@)")
# key=value form: password='quoted \\' value' or password=bare; URI query: password=...&
_PASSWORD_KV_RE = re.compile(r"(password\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\s&]+)", re.IGNORECASE)
_SCHEMES = ("postgres", "postgresql+psycopg", "postgresql+psycopg2", "postgresql")
# Extras the Postgres provider understands that are no libpq parameter: dropped quietly.
_PROVIDER_EXTRAS = frozenset({"cursor", "iam", "redshift", "redshift-serverless", "aws_conn_id",
                              "cluster-identifier", "workgroup-name", "sqlalchemy_scheme",
                              "sqlalchemy_query", "azure_conn_id", "enable_log_db_messages"})


def mask_dsn(dsn: str) -> str:
    """The DSN with its password replaced by ***, safe to log."""
    masked = _PASSWORD_RE.sub(r"\1***\3", dsn)
    return _PASSWORD_KV_RE.sub(r"\1***", masked)


def _normalise_scheme(uri: str) -> str:
    """Airflow URIs say postgres:// or postgresql+psycopg://; libpq wants postgresql://."""
    parts = urlsplit(uri)
    if parts.scheme in _SCHEMES:
        return urlunsplit(("postgresql", *parts[1:]))
    raise DatabaseError(f"unsupported database URI scheme {parts.scheme!r} in {mask_dsn(uri)}")


@lru_cache(maxsize=1)
def _libpq_keywords() -> frozenset[str]:
    return frozenset(d.keyword.decode() for d in psycopg.pq.Conninfo.get_defaults())


def _libpq_query(extra: dict[str, Any]) -> str:
    """An Airflow connection's extras as a URI query libpq accepts (``sslmode``, ...).

    Provider-only extras (``cursor``) would make libpq refuse the whole URI: they are
    dropped; unknown ones too, with a warning naming them (a typo in ``sslmode`` must show).
    """
    known = _libpq_keywords()
    params = {k: str(v).lower() if isinstance(v, bool) else str(v)
              for k, v in extra.items() if k in known and v is not None}
    unknown = sorted(k for k in extra if k not in known and k not in _PROVIDER_EXTRAS)
    if unknown:
        log.warning("news_db connection: ignoring extras libpq does not know: %s",
                    ", ".join(unknown))
    return urlencode(params, quote_via=quote)


def _from_airflow_uri(uri: str) -> str:
    """An Airflow connection URI: its query holds extras, plainly or as ``__extra__`` JSON."""
    parts = urlsplit(_normalise_scheme(uri))
    extra: dict[str, Any] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "__extra__":
            try:
                decoded = json.loads(value)
            except ValueError as exc:
                raise DatabaseError(
                    f"AIRFLOW_CONN_NEWS_DB: its __extra__ is not valid JSON ({exc})") from exc
            extra.update(decoded if isinstance(decoded, dict) else {})
        else:
            extra[key] = value
    return urlunsplit(parts._replace(query=_libpq_query(extra)))


def _from_airflow_json(text: str) -> str:
    try:
        conn = json.loads(text)
    except ValueError as exc:
        raise DatabaseError(f"AIRFLOW_CONN_NEWS_DB is neither a URI nor valid JSON ({exc})"
                            ) from exc
    if not isinstance(conn, dict):
        raise DatabaseError("AIRFLOW_CONN_NEWS_DB: JSON must be an object with host, login...")
    extra = conn.get("extra") or {}
    if isinstance(extra, str):  # Airflow also writes extra as a JSON string
        try:
            extra = json.loads(extra)
        except ValueError as exc:
            raise DatabaseError(f"AIRFLOW_CONN_NEWS_DB: its extra is not valid JSON ({exc})"
                                ) from exc
    extra = dict(extra) if isinstance(extra, dict) else {}
    user = quote(conn.get("login") or "", safe="")
    password = conn.get("password")
    auth = f"{user}:{quote(password, safe='')}@" if password else (f"{user}@" if user else "")
    host = conn.get("host") or "localhost"
    if host.startswith("/"):  # a unix socket directory goes in the query
        extra.setdefault("host", host)
        host = ""
    port = f":{conn['port']}" if conn.get("port") else ""
    schema = quote(conn.get("schema") or "", safe="")
    query = _libpq_query(extra)
    return f"postgresql://{auth}{host}{port}/{schema}" + (f"?{query}" if query else "")


def _airflow_connection() -> str | None:
    raw = os.environ.get("AIRFLOW_CONN_NEWS_DB")
    if raw:
        raw = raw.strip()
        return _from_airflow_json(raw) if raw.startswith("{") else _from_airflow_uri(raw)
    if not os.environ.get("AIRFLOW_CTX_DAG_ID"):
        return None  # not inside an Airflow task: no secrets backend to ask
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection("news_db")
    except Exception as exc:  # noqa: BLE001 - absence of the connection is a normal outcome
        log.debug("no Airflow connection news_db: %s", exc)
        return None
    return _from_airflow_uri(conn.get_uri())


def embedded_dsn() -> str:
    """Start (or attach to) the embedded PostgreSQL under .data/pg and return its DSN."""
    import pgserver

    pgdata = data_dir() / "pg"
    try:
        server = pgserver.get_server(pgdata, cleanup_mode=None)
    except Exception as exc:
        raise DatabaseError(f"could not start the embedded PostgreSQL in {pgdata}: {exc}") from exc
    ensure_database(server.get_uri(), EMBEDDED_DBNAME)
    return server.get_uri(EMBEDDED_DBNAME)


def ensure_database(server_dsn: str, name: str) -> None:
    """Create database ``name`` on the server of ``server_dsn`` unless it exists.

    Two processes may get here at once (two DAG tasks on a fresh embedded server): the loser's
    CREATE fails with duplicate_database, or with a unique violation on pg_database when the
    two are truly simultaneous; both mean the same thing as success.
    """
    with psycopg.connect(server_dsn, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
            pass


def resolve_dsn() -> str:
    """The news database DSN by the documented order of precedence."""
    url = os.environ.get("NEWS_DATABASE_URL")
    if url:
        return _normalise_scheme(url.strip())
    return _airflow_connection() or embedded_dsn()


def _retry_settings() -> tuple[int, float]:
    attempts = int(os.environ.get("NEWS_DB_CONNECT_ATTEMPTS", "6"))
    backoff = float(os.environ.get("NEWS_DB_CONNECT_BACKOFF", "0.5"))
    return max(1, attempts), max(0.0, backoff)


def connect(dsn: str | None = None, *, autocommit: bool = False) -> psycopg.Connection:
    """A psycopg connection to the news database, retried with backoff while it refuses.

    A database that restarts (or is not up yet) should delay a run, not fail it: we try
    ``NEWS_DB_CONNECT_ATTEMPTS`` times (default 6), waiting ``NEWS_DB_CONNECT_BACKOFF`` seconds
    doubled each time with jitter (0.5 s -> ~16 s in all), then fail with the masked server
    name and the server's own reason.
    """
    dsn = dsn or resolve_dsn()
    attempts, backoff = _retry_settings()
    for attempt in range(1, attempts + 1):
        try:
            return psycopg.connect(dsn, autocommit=autocommit, application_name="newsthreads",
                                   connect_timeout=10)
        except psycopg.OperationalError as exc:
            reason = first_line(exc)
            if attempt == attempts:
                raise DatabaseError(
                    f"cannot connect to {mask_dsn(dsn)} after {attempts} attempt(s):"
                    f" {mask_dsn(reason)}") from exc
            delay = backoff * 2 ** (attempt - 1) * random.uniform(0.8, 1.2)
            log.warning("cannot connect to %s (%s); retrying in %.1f s (%d/%d)",
                        mask_dsn(dsn), mask_dsn(reason), delay, attempt, attempts)
            time.sleep(delay)
    raise AssertionError("unreachable")
