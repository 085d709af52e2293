"""Every SQL statement about story threads and the state threading keeps between runs.

``stories.service`` calls these with an open psycopg connection inside its transaction
(thread listing and export for the CLI live in ``store.export``). Statements are
parameterised; lists travel as arrays or JSON parameters, never as SQL text.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import msgspec
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from newsthreads.store.rows import ArticleRow

log = logging.getLogger(__name__)

# pg_advisory_xact_lock key for "story clustering is writing": 'nthr' as an integer.
CLUSTER_LOCK_KEY = 0x6E746872
# Held by a run's batch writer, on its own connection, for as long as that connection is
# open: the run's lock goes with the run's connection, and a batch may still be committing
# on the other one (see ``hold_writer_lock``).
WRITER_LOCK_KEY = CLUSTER_LOCK_KEY + 1

_ARTICLE_COLUMNS = ("a.id, a.source, a.source_key, a.title, a.lead, a.body, a.language, "
                    "a.published_at, a.published_end, a.published_precision, "
                    "a.published_source, a.agency, a.kicker")

# Publication order by the *end* of the date interval (a month-dated article comes after the
# day-dated ones of its month: it cannot be placed earlier than what it might be); undated and
# imputed dates last; then by id. The same order in every run.
_ORDER = ("ORDER BY (a.published_at IS NULL OR a.published_source = 'imputed'), "
          "a.published_end, a.published_at, a.id")
# Article ``a`` is in no thread yet: pending.
_UNTHREADED = "NOT EXISTS (SELECT 1 FROM thread_articles ta WHERE ta.article_id = a.id)"


def lock_clustering(conn: psycopg.Connection) -> None:
    """Serialise clustering runs until the current transaction ends (and wait for the batch
    writer of a run whose own connection has died: ``hold_writer_lock``)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (CLUSTER_LOCK_KEY,))
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK_KEY,))


def hold_writer_lock(conn: psycopg.Connection) -> bool:
    """Take the writer's lock on a run's second connection, until it closes. When the run's
    own connection dies, the server releases the run's lock at once, but a batch in flight
    still commits on this one: the next run (``clustering_session``, ``lock_clustering``)
    waits for this lock too, so it never reads the state while that batch lands. False if
    another connection holds it (the caller writes on its own connection instead)."""
    with conn.transaction():
        got = conn.execute("SELECT pg_try_advisory_lock(%s)", (WRITER_LOCK_KEY,)).fetchone()
    return bool(got and got[0])


@contextlib.contextmanager
def clustering_session(conn: psycopg.Connection) -> Iterator[None]:
    """Hold the clustering lock for a whole run (across its batches' transactions): the run
    keeps its state in memory between batches and writes them from a second connection, so
    no other run or rethread may move the state until it is done. A run that has to wait
    says so. Released at the end, or by the server when the connection dies."""
    with conn.transaction():
        got = conn.execute("SELECT pg_try_advisory_lock(%s)", (CLUSTER_LOCK_KEY,)).fetchone()
    if not (got and got[0]):
        log.info("waiting for another clustering run or rethread to finish")
        with conn.transaction():
            conn.execute("SELECT pg_advisory_lock(%s)", (CLUSTER_LOCK_KEY,))
    with conn.transaction():  # the writer of a run whose connection died may still commit
        got = conn.execute("SELECT pg_try_advisory_xact_lock(%s)",
                           (WRITER_LOCK_KEY,)).fetchone()
        if not (got and got[0]):
            log.info("waiting for the batch writer of a clustering run whose connection "
                     "was lost to finish its commit")
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK_KEY,))
    try:
        yield
    finally:
        if not conn.broken and not conn.closed:
            try:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_unlock(%s)", (CLUSTER_LOCK_KEY,))
            except psycopg.Error as exc:  # the session's end releases it anyway
                log.warning("could not release the clustering lock (%s); it goes with the "
                            "connection", str(exc).strip().splitlines()[0] if str(exc) else exc)


def vacuum_state(conn: psycopg.Connection) -> bool:
    """VACUUM the tables every clustering batch rewrites (each batch updates thousands of
    document-frequency rows and the touched threads' vectors). Without it they bloat when
    autovacuum is off or lags, and each batch's upsert wades through more dead rows: on this
    machine's server (autovacuum off) threading fell from ~300 to ~110 articles/s over 60,000
    articles. Only between transactions; a no-op (False) inside one. SKIP_LOCKED: a
    concurrent run's vacuum is never waited for; a role that does not own them is skipped
    by PostgreSQL with a warning."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        return False
    autocommit = conn.autocommit
    conn.autocommit = True
    try:
        conn.execute("VACUUM (SKIP_LOCKED) thread_term_df, thread_df_journal, thread_vectors, "
                     "thread_state")
    finally:
        conn.autocommit = autocommit
    return True


def pending_ids(conn: psycopg.Connection, limit: int | None = None) -> list[int]:
    """Ids of the articles not in any thread yet, in publication order (undated last): one
    sort per run, not per batch."""
    sql = f"SELECT a.id FROM articles a WHERE {_UNTHREADED} {_ORDER} LIMIT %s"
    return [int(r[0]) for r in conn.execute(sql, (limit,)).fetchall()]  # type: ignore[arg-type]


# Pending articles a run can take while an ingest is still storing more (``follow``): the
# dated ones that end by the latest start of an article dated to the day or better
# (``Item.precise``) that this ingest stored (id above ``since``, the highest id before it
# began). Stored in publication order, anything still to come was published after that
# start, so it ends after it and sorts after them: a month-dated article waits until the
# day-dated ones pass its month's end, undated ones until storing is over (where one run
# over everything takes them too), and articles pending from before the ingest wait behind
# it unless older. Only ids from ``floor`` (the lowest pending when the run began) are read:
# a run polls this while it waits, and on a database of millions a scan of every article
# for the few pending would cost seconds of server time a look.
_PENDING_SETTLED = (
    "WITH p AS (SELECT a.id, a.published_at, a.published_end FROM articles a "
    "WHERE a.id >= %(floor)s AND a.published_at IS NOT NULL "
    "AND a.published_source IS DISTINCT FROM 'imputed' "
    f"AND {_UNTHREADED}) "
    "SELECT id FROM p WHERE published_end <= (SELECT max(published_at) FROM p "
    "WHERE id > %(since)s AND published_end - published_at <= interval '2 days') "
    "ORDER BY published_end, published_at, id")  # ``_ORDER``, all of them dated


def pending_settled_ids(conn: psycopg.Connection, floor: int, since: int) -> list[int]:
    """Ids of the pending articles a run following an ingest can take now, in publication
    order (see ``_PENDING_SETTLED``)."""
    rows = conn.execute(_PENDING_SETTLED, {"floor": floor, "since": since}).fetchall()
    return [int(r[0]) for r in rows]


def follow_bounds(conn: psycopg.Connection) -> tuple[int, int]:
    """(the lowest pending article id, the highest article id) as a following run begins:
    what it reads of ``articles`` starts at the first; its ingest's articles come after
    the second. Both the highest id plus one when nothing is pending (0 for no articles)."""
    row = conn.execute(
        f"SELECT (SELECT min(a.id) FROM articles a WHERE {_UNTHREADED}), "
        "coalesce((SELECT max(id) FROM articles), 0)").fetchone()
    last = int(row[1])
    return (int(row[0]) if row[0] is not None else last + 1), last


_STILL_PENDING = ("FROM unnest(%s::bigint[]) WITH ORDINALITY AS p(id, k) "
                  f"JOIN articles a ON a.id = p.id WHERE {_UNTHREADED} ORDER BY p.k")


def still_pending(conn: psycopg.Connection, ids: Sequence[int]) -> list[ArticleRow]:
    """The given articles that are still in no thread, in the order given."""
    return [row for _, row in still_pending_versioned(conn, ids)]


def still_pending_versioned(conn: psycopg.Connection,
                            ids: Sequence[int]) -> list[tuple[int, ArticleRow]]:
    """``still_pending``, each row with its version (see ``pending_versions``)."""
    sql = f"SELECT a.xmin::text::bigint, {_ARTICLE_COLUMNS} {_STILL_PENDING}"
    with conn.cursor() as cur:
        cur.execute(sql, (list(ids),))  # type: ignore[arg-type]
        return [(row[0], ArticleRow(*row[1:])) for row in cur.fetchall()]


def pending_versions(conn: psycopg.Connection, ids: Sequence[int]) -> list[tuple[int, int]]:
    """(id, version) of the given articles still in no thread, in the order given, without
    their text. The version is the row's ``xmin``: every UPDATE writes a new row version, so
    an equal ``xmin`` means the row read earlier is the row now."""
    with conn.cursor() as cur:
        cur.execute(f"SELECT a.id, a.xmin::text::bigint {_STILL_PENDING}",  # type: ignore[arg-type]
                    (list(ids),))
        return [(int(i), int(v)) for i, v in cur.fetchall()]


def window_articles(conn: psycopg.Connection, start: datetime, end: datetime) -> list[ArticleRow]:
    """Articles a rethread of [start, end) re-clusters: dated ones inside the window, and the
    undated/imputed members of threads that have a dated member inside it."""
    sql = (f"SELECT {_ARTICLE_COLUMNS} FROM articles a "
           "WHERE (a.published_at >= %(s)s AND a.published_at < %(e)s "
           "       AND a.published_source IS DISTINCT FROM 'imputed') "
           "   OR ((a.published_at IS NULL OR a.published_source = 'imputed') AND EXISTS ("
           "       SELECT 1 FROM thread_articles ta JOIN thread_articles tb "
           "         ON tb.thread_id = ta.thread_id JOIN articles b ON b.id = tb.article_id "
           "       WHERE ta.article_id = a.id AND b.published_at >= %(s)s "
           "         AND b.published_at < %(e)s "
           "         AND b.published_source IS DISTINCT FROM 'imputed')) "
           f"{_ORDER}")
    with conn.cursor() as cur:
        cur.execute(sql, {"s": start, "e": end})  # type: ignore[arg-type]
        return [ArticleRow(*row) for row in cur.fetchall()]


# -- state ------------------------------------------------------------------------------------

def read_counters(conn: psycopg.Connection) -> tuple[int, int, datetime | None]:
    """(n_docs, seq, hwm) of the stream."""
    row = conn.execute("SELECT n_docs, seq, hwm FROM thread_state WHERE id = 1").fetchone()
    if row is None:
        return 0, 0, None
    return int(row[0]), int(row[1]), row[2]


def write_counters(conn: psycopg.Connection, n_docs: int, seq: int,
                   hwm: datetime | None) -> None:
    conn.execute(
        "INSERT INTO thread_state (id, n_docs, seq, hwm, updated_at) "
        "VALUES (1, %s, %s, %s, now()) ON CONFLICT (id) DO UPDATE SET "
        "n_docs = EXCLUDED.n_docs, seq = EXCLUDED.seq, hwm = EXCLUDED.hwm, updated_at = now()",
        (n_docs, seq, hwm))


def read_df(conn: psycopg.Connection, terms: Sequence[str]) -> dict[str, int]:
    if not terms:
        return {}
    rows = conn.execute(  # a JSON list, not text[]: see add_df
        "SELECT d.term, d.df FROM jsonb_array_elements_text(%s::jsonb) AS q(term) "
        "JOIN thread_term_df d ON d.term = q.term", (Jsonb(list(terms), dumps=_json),)).fetchall()
    return {t: int(df) for t, df in rows}


def df_params(increments: dict[str, int]) -> bytes:
    """Document-frequency increments as one ``add_df`` parameter."""
    return msgspec.json.encode(increments)


def add_df(conn: psycopg.Connection, params: bytes) -> None:
    """Add document-frequency increments (``params`` from ``df_params``): one statement, rows
    in one fixed order (no lock-order trouble between concurrent runs). The counts travel as
    one JSON object: a batch holds ~100,000 terms, and psycopg builds text[] parameters in
    Python (a third of the batch's save time), msgspec encodes the object in C."""
    _execute_json(
        conn,
        "INSERT INTO thread_term_df (term, df) "
        "SELECT key, value::int FROM jsonb_each_text(%s::jsonb) ORDER BY key COLLATE \"C\" "
        "ON CONFLICT (term) DO UPDATE SET df = thread_term_df.df + EXCLUDED.df",
        params)


def journal_df(conn: psycopg.Connection, seq: int, params: bytes) -> None:
    """Record a batch's increments (``params`` from ``df_params``) in the journal, to be
    added to the counts by a later batch's ``add_df`` (see sql/010_df_journal.sql)."""
    if params != b"{}":
        conn.execute("INSERT INTO thread_df_journal (seq, increments) VALUES (%s, %s)",
                     (seq, params))


def clear_df_journal(conn: psycopg.Connection) -> None:
    """Empty the journal: the caller's transaction has added its increments to the counts."""
    conn.execute("DELETE FROM thread_df_journal")


def fold_df_journal(conn: psycopg.Connection, *, leftover: bool = True) -> int:
    """Add the journal's increments to the counts and empty it; returns the entries folded.
    Under the clustering lock, before any count is read. ``leftover``: they are what a run
    that died between two additions left (said in the log)."""
    rows = conn.execute("SELECT increments FROM thread_df_journal").fetchall()
    if not rows:
        return 0
    total: dict[str, int] = {}
    for (data,) in rows:
        for key, n in msgspec.json.decode(data, type=dict[str, int]).items():
            total[key] = total.get(key, 0) + n
    add_df(conn, df_params(total))
    clear_df_journal(conn)
    if leftover:
        log.info("added the document frequencies an earlier run journalled in %d batch(es) "
                 "but had not added (it stopped between two additions)", len(rows))
    return len(rows)


def allocate_thread_ids(conn: psycopg.Connection, n: int) -> list[int]:
    rows = conn.execute("SELECT nextval(pg_get_serial_sequence('threads', 'id')) "
                        "FROM generate_series(1, %s)", (n,)).fetchall()
    return [int(r[0]) for r in rows]


_VECTOR_COLUMNS = ("thread_id, created_seq, last_seq, n, first_at, last_end, precise_first, "
                   "precise_end, text_tf, ents_tf, xling_tf, langs, display, keys, top_ents, "
                   "norm_text, norm_ents, norm_xling, norm_epoch, title, title_terms, packed")
# A thread's term sums, languages and display forms: one msgpack value (migration 009),
# or the jsonb columns of a row written before it.
_PACKED = ("text_tf", "ents_tf", "xling_tf", "langs", "display")
_pack = msgspec.msgpack.Encoder().encode
_unpack = msgspec.msgpack.Decoder().decode


def _thread_rows(cur: psycopg.Cursor[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of ``_VECTOR_COLUMNS``, the packed values unpacked into their columns."""
    rows = cur.fetchall()
    for row in rows:
        packed = row.pop("packed")
        if packed is not None:
            row.update(zip(_PACKED, _unpack(packed), strict=True))
    return rows


def active_thread_rows(conn: psycopg.Connection, since: datetime | None,
                       min_seq: int) -> list[dict[str, Any]]:
    """Thread states still active: span ending after ``since`` or touched after ``min_seq``."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT {_VECTOR_COLUMNS} FROM thread_vectors "
                    "WHERE last_seq > %s OR (%s::timestamptz IS NOT NULL AND last_end >= %s) "
                    "ORDER BY created_seq", (min_seq, since, since))
        return _thread_rows(cur)


def thread_rows(conn: psycopg.Connection, thread_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Saved states of the given threads, in creation order."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT {_VECTOR_COLUMNS} FROM thread_vectors "
                    "WHERE thread_id = ANY(%s) ORDER BY created_seq", (list(thread_ids),))
        return _thread_rows(cur)


def late_thread_rows(conn: psycopg.Connection, lo: datetime, hi: datetime, keys: list[str],
                     exclude: Iterable[int]) -> list[dict[str, Any]]:
    """Dated threads whose span comes within [lo, hi] and that share an index key: what a
    late article may join. Uses the GIN index on ``keys`` (an inverted index), no scan."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT {_VECTOR_COLUMNS} FROM thread_vectors "
                    "WHERE keys && %s::text[] AND last_end >= %s AND first_at <= %s "
                    "AND NOT (thread_id = ANY(%s)) ORDER BY created_seq",
                    (keys, lo, hi, sorted(exclude)))
        return _thread_rows(cur)


def window_thread_rows(conn: psycopg.Connection, lo: datetime, hi: datetime,
                       exclude: Iterable[int]) -> list[dict[str, Any]]:
    """Every dated thread whose span comes within [lo, hi]: what the late articles of an old
    archive may join over the next weeks (``late_thread_rows`` one article at a time cost a
    query an article). Uses the index on ``last_end``."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT {_VECTOR_COLUMNS} FROM thread_vectors "
                    "WHERE last_end >= %s AND first_at <= %s "
                    "AND NOT (thread_id = ANY(%s)) ORDER BY created_seq",
                    (lo, hi, sorted(exclude)))
        return _thread_rows(cur)


SignatureRow = tuple[int, int, bytes, int, int | None, datetime | None, datetime | None, int]

_SIGNATURES = ("SELECT s.article_id, ta.thread_id, s.minhash, s.shingles, ta.duplicate_of, "
               "s.dated_start, s.dated_end, s.seq FROM article_signatures s "
               "JOIN thread_articles ta ON ta.article_id = s.article_id "
               "WHERE s.minhash IS NOT NULL AND ")


def _signature_rows(rows: list[tuple]) -> list[SignatureRow]:
    return [(int(a), int(t), bytes(m), int(n), d, s, e, int(q))
            for a, t, m, n, d, s, e, q in rows]


def recent_signatures(conn: psycopg.Connection, since: datetime | None,
                      min_seq: int) -> list[SignatureRow]:
    """(article, thread, minhash, shingles, duplicate_of, start, end, seq) of the articles in
    the duplicate window: processed after ``min_seq`` or dated to end after ``since``."""
    rows = conn.execute(_SIGNATURES + "(s.seq > %s OR s.dated_end >= %s) ORDER BY s.seq",
                        (min_seq, since)).fetchall()
    return _signature_rows(rows)


def signatures_between(conn: psycopg.Connection, lo: datetime, hi: datetime) -> list[SignatureRow]:
    """Signatures of articles dated within [lo, hi] (for a late arrival)."""
    rows = conn.execute(_SIGNATURES + "s.dated_end >= %s AND s.dated_start <= %s ORDER BY s.seq",
                        (lo, hi)).fetchall()
    return _signature_rows(rows)


def thread_params(rows: list[dict[str, Any]]) -> bytes:
    """Thread rows (``thread_id`` … ``label``) as one ``save_threads`` parameter, encoded
    now: the clustering goes on changing the dicts while a background writer sends it. The
    sums, languages and display forms (``_PACKED``) travel packed, as base64 (what msgspec
    makes of bytes)."""
    return _json([{**{k: v for k, v in r.items() if k not in _PACKED},
                   "packed": _pack([r[k] for k in _PACKED])}
                  for r in sorted(rows, key=lambda r: r["thread_id"])])


# A batch saves every thread it touched (three term dicts of up to ~1,000 entries each, for
# hundreds of threads) and an assignment and a signature per article. Each travels as one
# JSON array parameter that the server unpacks (jsonb_to_recordset), encoded by msgspec in C:
# one statement a table, no per-row work in Python while clustering holds the interpreter
# (json.dumps was 10x slower, executemany's per-row adaptation and results were most of a
# background writer's time; a bytea[] parameter is built per element in Python too). The
# term dicts go packed (msgpack, base64 in the JSON, ``decode`` on the server: migration
# 009), so the server stores them without parsing them; msgpack keeps floats bit for bit.
# Rows of before 009 hold them as jsonb, whose floats read back the same too (jsonb keeps the
# shortest decimal that round-trips, and numeric → float8 parses it exactly).
_json = msgspec.json.encode
_THREAD_RECORD = """jsonb_to_recordset(%s::jsonb) AS r(
        thread_id bigint, created_seq bigint, last_seq bigint, n integer,
        first_at timestamptz, last_end timestamptz, precise_first timestamptz,
        precise_end timestamptz, packed text, keys text[], top_ents text[],
        norm_text double precision, norm_ents double precision, norm_xling double precision,
        norm_epoch integer, title text, title_terms text[], label text)"""
# One statement, the parameter parsed once: the threads rows (label, span) in a CTE, the
# vectors (which reference them) in the main insert; the foreign key is checked at the end of
# the statement, when both are in.
_UPSERT_VECTORS = f"""
    WITH r AS MATERIALIZED (SELECT * FROM {_THREAD_RECORD}),
    t AS (
        INSERT INTO threads (id, label, first_at, last_end, updated_at)
        SELECT r.thread_id, r.label, r.first_at, r.last_end, now() FROM r ORDER BY r.thread_id
        ON CONFLICT (id) DO UPDATE SET label = EXCLUDED.label, first_at = EXCLUDED.first_at,
            last_end = EXCLUDED.last_end, updated_at = now())
    INSERT INTO thread_vectors (thread_id, created_seq, last_seq, n, first_at, last_end,
        precise_first, precise_end, packed, keys, top_ents, norm_text, norm_ents, norm_xling,
        norm_epoch, title, title_terms)
    SELECT r.thread_id, r.created_seq, r.last_seq, r.n, r.first_at, r.last_end,
        r.precise_first, r.precise_end, decode(r.packed, 'base64'), r.keys, r.top_ents,
        r.norm_text, r.norm_ents, r.norm_xling, r.norm_epoch, r.title, r.title_terms
    FROM r ORDER BY r.thread_id
    ON CONFLICT (thread_id) DO UPDATE SET
        last_seq = EXCLUDED.last_seq, n = EXCLUDED.n, first_at = EXCLUDED.first_at,
        last_end = EXCLUDED.last_end, precise_first = EXCLUDED.precise_first,
        precise_end = EXCLUDED.precise_end, packed = EXCLUDED.packed, text_tf = NULL,
        ents_tf = NULL, xling_tf = NULL, langs = NULL, display = NULL,
        keys = EXCLUDED.keys, top_ents = EXCLUDED.top_ents,
        norm_text = EXCLUDED.norm_text, norm_ents = EXCLUDED.norm_ents,
        norm_xling = EXCLUDED.norm_xling, norm_epoch = EXCLUDED.norm_epoch,
        title = EXCLUDED.title, title_terms = EXCLUDED.title_terms
"""


def _encoded(data: bytes) -> bytes:
    return data


def _execute_json(conn: psycopg.Connection, sql: str, params: bytes) -> None:
    """Run ``sql`` with one JSON parameter already encoded (``*_params``); nothing to do for
    an empty list or object."""
    if params not in (b"[]", b"{}"):
        conn.execute(sql, (Jsonb(params, dumps=_encoded),))  # type: ignore[arg-type]


def save_threads(conn: psycopg.Connection, params: bytes) -> None:
    """Upsert thread rows (label, span) and their vectors: ``params`` from
    ``thread_params``, in thread-id order (one lock order for every run)."""
    _execute_json(conn, _UPSERT_VECTORS, params)


def norm_params(rows: list[tuple[int, float, float, float, int]]) -> bytes:
    """(thread id, norm_text, norm_ents, norm_xling, norm_epoch) of threads whose norms alone
    changed, as one ``save_norms`` parameter."""
    return _json([{"thread_id": t, "norm_text": a, "norm_ents": b, "norm_xling": c,
                   "norm_epoch": e} for t, a, b, c, e in rows])


def save_norms(conn: psycopg.Connection, params: bytes) -> None:
    """Write refreshed norms (``params`` from ``norm_params``) without rewriting the rest of
    the thread's row: a new IDF epoch refreshes every thread it scores, most never joined."""
    _execute_json(
        conn,
        "UPDATE thread_vectors v SET norm_text = r.norm_text, norm_ents = r.norm_ents, "
        "norm_xling = r.norm_xling, norm_epoch = r.norm_epoch "
        "FROM jsonb_to_recordset(%s::jsonb) AS r(thread_id bigint, "
        "norm_text double precision, norm_ents double precision, "
        "norm_xling double precision, norm_epoch integer) "
        "WHERE v.thread_id = r.thread_id",
        params)


def assignment_params(rows: list[dict[str, Any]]) -> bytes:
    """Assignment rows (``article_id``, ``thread_id``, ``score``, ``duplicate_of``,
    ``run_id``, ``seq``, ``minhash`` bytes or None, ``shingles``, ``dated_start``,
    ``dated_end``) as one ``save_assignments`` parameter (bytes travel as base64)."""
    return _json(rows)


_ASSIGNMENT_RECORD = """jsonb_to_recordset(%s::jsonb) AS r(
        article_id bigint, thread_id bigint, score double precision, duplicate_of bigint,
        run_id bigint, seq bigint, minhash text, shingles integer, dated_start timestamptz,
        dated_end timestamptz)"""


def save_assignments(conn: psycopg.Connection, params: bytes) -> None:
    """Write thread_articles and article_signatures rows for newly threaded articles
    (``params`` from ``assignment_params``)."""
    _execute_json(
        conn,
        "INSERT INTO thread_articles (article_id, thread_id, score, duplicate_of, run_id) "
        f"SELECT r.article_id, r.thread_id, r.score, r.duplicate_of, r.run_id FROM "
        f"{_ASSIGNMENT_RECORD}", params)
    _execute_json(
        conn,
        "INSERT INTO article_signatures (article_id, seq, minhash, shingles, dated_start, "
        "dated_end) SELECT r.article_id, r.seq, decode(r.minhash, 'base64'), r.shingles, "
        f"r.dated_start, r.dated_end FROM {_ASSIGNMENT_RECORD} ORDER BY r.article_id "
        "ON CONFLICT (article_id) DO UPDATE SET "
        "seq = EXCLUDED.seq, minhash = EXCLUDED.minhash, shingles = EXCLUDED.shingles, "
        "dated_start = EXCLUDED.dated_start, dated_end = EXCLUDED.dated_end", params)


def member_params(rows: list[dict[str, Any]]) -> bytes:
    """Kept member rows (``article_id``, ``features``) as one ``save_members`` parameter,
    the features packed (base64 in the JSON)."""
    return _json([{"article_id": r["article_id"], "packed": _pack(r["features"])}
                  for r in rows])


def save_members(conn: psycopg.Connection, params: bytes) -> None:
    """Keep the features of members of small threads (``params`` from ``member_params``)."""
    _execute_json(
        conn,
        "INSERT INTO thread_member_features (article_id, packed) "
        "SELECT r.article_id, decode(r.packed, 'base64') FROM jsonb_to_recordset(%s::jsonb) "
        "AS r(article_id bigint, packed text) ORDER BY r.article_id "
        "ON CONFLICT (article_id) DO UPDATE SET packed = EXCLUDED.packed, features = NULL",
        params)


def forget_members(conn: psycopg.Connection, thread_ids: Sequence[int]) -> None:
    """Drop the member features of threads that outgrew the split repair."""
    if thread_ids:
        conn.execute("DELETE FROM thread_member_features f USING thread_articles ta "
                     "WHERE ta.article_id = f.article_id AND ta.thread_id = ANY(%s)",
                     (list(thread_ids),))


def member_rows(conn: psycopg.Connection,
                thread_ids: Sequence[int]) -> list[tuple[int, int, dict[str, Any]]]:
    """(thread_id, article_id, features) of the kept members of the given threads, in
    processing order within each thread."""
    if not thread_ids:
        return []
    rows = conn.execute(
        "SELECT ta.thread_id, f.article_id, f.packed, f.features FROM thread_member_features f "
        "JOIN thread_articles ta ON ta.article_id = f.article_id "
        "JOIN article_signatures s ON s.article_id = f.article_id "
        "WHERE ta.thread_id = ANY(%s) ORDER BY ta.thread_id, s.seq",
        (list(thread_ids),)).fetchall()
    return [(int(t), int(a), _unpack(p) if p is not None else f) for t, a, p, f in rows]


def move_params(moves: dict[int, int]) -> bytes:
    """Article id → thread id, as one ``move_articles`` parameter."""
    return _json({str(a): t for a, t in sorted(moves.items())})


def move_articles(conn: psycopg.Connection, params: bytes) -> None:
    """Rewrite the thread of articles a split moved (``params`` from ``move_params``)."""
    _execute_json(
        conn,
        "UPDATE thread_articles ta SET thread_id = q.value::bigint "
        "FROM jsonb_each_text(%s::jsonb) AS q(key, value) "
        "WHERE ta.article_id = q.key::bigint",
        params)


def counted_articles(conn: psycopg.Connection, article_ids: Sequence[int]) -> set[int]:
    """Which of these articles are already counted in the document frequencies."""
    rows = conn.execute("SELECT article_id FROM article_signatures WHERE article_id = ANY(%s)",
                        (list(article_ids),)).fetchall()
    return {int(r[0]) for r in rows}


# An undated member takes its thread's span of dated articles, at the precision that span has.
_IMPUTE = """
        UPDATE articles a
        SET published_at = t.first_at,
            published_end = t.last_end,
            published_precision = CASE
                WHEN t.last_end - t.first_at <= interval '1 day' THEN 'day'
                WHEN t.last_end - t.first_at <= interval '31 days' THEN 'month'
                ELSE 'year' END,
            published_source = 'imputed',
            published_note = 'imputed from story thread ' || t.thread_id
                || ' (span of its dated articles)'
        FROM thread_articles ta JOIN thread_vectors t ON t.thread_id = ta.thread_id
"""


def impute_dates(conn: psycopg.Connection, thread_ids: Sequence[int] | None = None) -> int:
    """Give undated members of threads (all threads when ``thread_ids`` is None) the span of
    their thread's dated members, marked 'imputed' with a note naming the thread. Returns the
    number of articles whose date was set or changed."""
    sql = _IMPUTE + """
        WHERE ta.article_id = a.id
          AND t.first_at IS NOT NULL
          AND (a.published_at IS NULL OR a.published_source = 'imputed')
          AND (a.published_at IS DISTINCT FROM t.first_at
               OR a.published_end IS DISTINCT FROM t.last_end)
          AND (%(all)s OR ta.thread_id = ANY(%(ids)s))
    """
    cur = conn.execute(sql, {"all": thread_ids is None, "ids": list(thread_ids or [])})
    return cur.rowcount


def impute_missing(conn: psycopg.Connection) -> int:
    """Repair pass: threaded articles that lost their date (an edit re-ingested them without
    one) get their thread's span again. Found through the index on ``published_at``."""
    sql = _IMPUTE + """
        WHERE ta.article_id = a.id AND a.published_at IS NULL AND t.first_at IS NOT NULL
    """
    return conn.execute(sql).rowcount


def clear_assignments(conn: psycopg.Connection, article_ids: Sequence[int]) -> list[int]:
    """Take articles out of their threads (for a rethread); returns the threads they left."""
    rows = conn.execute("DELETE FROM thread_articles WHERE article_id = ANY(%s) "
                        "RETURNING thread_id", (list(article_ids),)).fetchall()
    return sorted({int(r[0]) for r in rows})


def delete_empty_threads(conn: psycopg.Connection, thread_ids: Sequence[int]) -> list[int]:
    rows = conn.execute(
        "DELETE FROM threads t WHERE t.id = ANY(%s) AND NOT EXISTS ("
        "SELECT 1 FROM thread_articles ta WHERE ta.thread_id = t.id) RETURNING id",
        (list(thread_ids),)).fetchall()
    return sorted(int(r[0]) for r in rows)


def thread_member_rows(conn: psycopg.Connection, thread_id: int) -> list[ArticleRow]:
    """A thread's members in processing order (to rebuild its state after a rethread)."""
    sql = (f"SELECT {_ARTICLE_COLUMNS} FROM articles a JOIN thread_articles ta "
           "ON ta.article_id = a.id LEFT JOIN article_signatures s ON s.article_id = a.id "
           "WHERE ta.thread_id = %s ORDER BY s.seq NULLS LAST, a.id")
    with conn.cursor() as cur:
        cur.execute(sql, (thread_id,))  # type: ignore[arg-type]
        return [ArticleRow(*row) for row in cur.fetchall()]


def thread_assignment_rows(conn: psycopg.Connection,
                           article_ids: Sequence[int]) -> list[tuple[int, int, int | None]]:
    """(article_id, thread_id, duplicate_of) for the given articles."""
    rows = conn.execute("SELECT article_id, thread_id, duplicate_of FROM thread_articles "
                        "WHERE article_id = ANY(%s) ORDER BY article_id",
                        (list(article_ids),)).fetchall()
    return [(int(a), int(t), d) for a, t, d in rows]


# -- reads for the CLI and the UI ----------------------------------------------------------------

def thread_members(conn: psycopg.Connection, thread_id: int) -> list[dict[str, Any]]:
    """The articles of one thread (rows of ``thread_articles_v``) in date order."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("SELECT * FROM thread_articles_v WHERE thread_id = %s "
                    "ORDER BY published_at NULLS LAST, article_id", (thread_id,))
        return cur.fetchall()
