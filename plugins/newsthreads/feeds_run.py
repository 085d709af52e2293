"""The feed-ingest core that ``newsthreads ingest-feeds`` and the ``news_ingest_feeds`` DAG call.

One feed is one unit of work (``ingest_feed``): fetch, parse, key, normalise, store, and record
the poll's outcome on the feed, in its own transaction on its own connection. A feed's failure
is a result (an ``ingest_errors`` row, ``feeds.last_error``, a backoff), never an exception for
the others. ``ingest_feeds`` runs many feeds with bounded concurrency; the DAG maps
``ingest_feed_by_id`` over the claimed feeds instead, one task per feed.

Reading a document (``sources.reading.read_feed``: parse, key, normalise) is pure CPU, and
feedparser is pure Python: the threads overlap one feed's reading with other feeds' fetches and
database writes, but cannot spread the reading itself over cores. So a run of more than one
feed hands the documents to reader processes, one per core by default (``processes``); the
database work stays in the threads, one transaction per feed as before. On the two-core machine
of bench/results.md (500 feeds, 25,000 items) a first poll took 36 s read in-process, 25 s with
one reader and 20 s with two; read in-process the run also took more CPU in all (34-35 s
against 30 s), likely its 8 threads contending for the interpreter. A run keeps
at most ``per_host`` requests in flight to any one host and interleaves its feeds by host, so
one busy host does not hold up the others.
"""

from __future__ import annotations

import logging
import os
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from newsthreads.errors import FetchError, InputError
from newsthreads.model import RawItem
from newsthreads.normalise.feed_entry import entry_to_article
from newsthreads.pipeline import upsert_batch
from newsthreads.sources.fetch import (
    DEFAULT_PER_HOST,
    FetchLimits,
    backoff_seconds,
    fetch,
    host_of,
    make_client,
)
from newsthreads.sources.fulltext import fetch_full_text
from newsthreads.sources.reading import Reader, Readers, read_feed
from newsthreads.store import feeds as feed_store
from newsthreads.store.connection import connect
from newsthreads.store.runs import RunCounts, finish_run, record_error, start_run

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 8
LEASE_SECONDS = 600
MAX_RETRY_AFTER = 24 * 3600.0
BACKOFF_BASE = 300.0
BACKOFF_CAP = 6 * 3600.0
MAX_FULL_TEXT_PER_POLL = 20  # pages fetched per poll; the rest keep their summary this time


@dataclass
class FeedOutcome:
    """What one poll of one feed did; JSON-able (it travels through XCom)."""

    feed_id: int
    url: str
    status: str  # ok | not_modified | failed | gone
    http_status: int | None = None
    error: str | None = None
    counts: dict[str, int] = field(default_factory=lambda: RunCounts().as_dict())
    warnings: list[str] = field(default_factory=list)
    moved_to: str | None = None
    next_fetch_at: str | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FeedsSummary:
    run_id: int
    status: str
    feeds: int = 0
    ok: int = 0
    not_modified: int = 0
    failed: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    outcomes: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _next_after_success(feed: feed_store.FeedRow, now: datetime) -> datetime:
    return now + timedelta(seconds=feed.poll_seconds * random.uniform(0.9, 1.1))


def _next_after_failure(feed: feed_store.FeedRow, now: datetime, exc: FetchError) -> datetime:
    if exc.retry_after is not None and exc.status in (429, 503):
        return now + timedelta(seconds=min(max(exc.retry_after, 1.0), MAX_RETRY_AFTER))
    delay = backoff_seconds(feed.consecutive_failures + 1, base=BACKOFF_BASE, cap=BACKOFF_CAP,
                            rand=random.random())
    return now + timedelta(seconds=delay)


def ingest_feed(
    conn: Any,
    client: httpx.Client,
    feed: feed_store.FeedRow,
    *,
    run_id: int | None,
    limits: FetchLimits | None = None,
    now: datetime | None = None,
    reader: Reader | None = None,
) -> FeedOutcome:
    """Poll one feed and store what is new; never raises for the feed's own faults.

    ``reader`` reads the fetched document, normalising every entry up front (``read_feed``'s
    signature; ``ingest_feeds`` passes its reader processes); by default the document is read
    here, and only the new or changed entries are normalised.
    """
    limits = limits or FetchLimits()
    fetched_at = now or datetime.now(UTC)
    started = datetime.now(UTC)
    outcome = FeedOutcome(feed_id=feed.id, url=feed.url, status="failed")
    try:
        _poll(conn, client, feed, run_id, limits, fetched_at, outcome, reader)
    except Exception as exc:  # a bug or a database fault: keep it to this feed
        try:
            conn.rollback()
        except Exception:  # noqa: BLE001
            pass
        log.exception("feed %s (%s): unexpected failure", feed.id, feed.url)
        outcome.status, outcome.error = "failed", f"internal error: {type(exc).__name__}: {exc}"
        try:
            record_error(conn, run_id, input=feed.url, reason=outcome.error)
            feed_store.save_poll(
                conn, feed.id, fetched_at=fetched_at, status="failed", error=outcome.error,
                next_fetch_at=fetched_at + timedelta(seconds=BACKOFF_BASE))
            conn.commit()
        except Exception:  # noqa: BLE001 - the database itself is gone; the lease expires
            log.exception("feed %s: could not record the failure", feed.id)
            conn.rollback()
    outcome.seconds = round((datetime.now(UTC) - started).total_seconds(), 3)
    level = logging.WARNING if outcome.status in ("failed", "gone") else logging.INFO
    log.log(level, "feed %s %s: %s%s (%s)", feed.id, feed.url, outcome.status,
            f": {outcome.error}" if outcome.error else "",
            ", ".join(f"{k} {v}" for k, v in outcome.counts.items() if v) or "nothing stored")
    return outcome


def _fail(conn, feed, run_id, fetched_at, outcome, exc: FetchError | InputError,
          raw: bytes | None = None) -> None:
    reason = exc.reason
    status = getattr(exc, "status", None) or outcome.http_status
    retire = None
    if isinstance(exc, FetchError) and status == 410:
        retire = (f"HTTP 410 Gone on {fetched_at:%Y-%m-%d %H:%M}Z: the publisher retired this "
                  "feed; `newsthreads feeds add URL` brings it back")
        outcome.status = "gone"
    if isinstance(exc, FetchError):
        next_at = _next_after_failure(feed, fetched_at, exc)
    else:
        next_at = fetched_at + timedelta(seconds=backoff_seconds(
            feed.consecutive_failures + 1, base=BACKOFF_BASE, cap=BACKOFF_CAP,
            rand=random.random()))
    outcome.http_status, outcome.error = status, reason
    outcome.counts["failed"] += 1
    outcome.next_fetch_at = next_at.isoformat()
    record_error(conn, run_id, input=feed.url, reason=reason, raw=raw)
    feed_store.save_poll(conn, feed.id, fetched_at=fetched_at, status=outcome.status,
                         http_status=status, error=reason, next_fetch_at=next_at,
                         retire_reason=retire)
    conn.commit()


def _poll(conn, client, feed, run_id, limits, fetched_at, outcome: FeedOutcome,
          reader: Reader | None) -> None:
    counts = RunCounts()
    try:
        res = fetch(client, feed.url, etag=feed.etag, last_modified=feed.last_modified,
                    limits=limits)
    except FetchError as exc:
        _fail(conn, feed, run_id, fetched_at, outcome, exc)
        return
    outcome.http_status = res.status
    moved = None
    if res.permanent_url and res.permanent_url != feed.url:
        if feed_store.url_taken(conn, res.permanent_url, feed.id):
            outcome.warnings.append(f"moved permanently to {res.permanent_url}, which another "
                                    "feed already polls; URL kept")
        else:
            moved = outcome.moved_to = res.permanent_url
            outcome.warnings.append(f"moved permanently to {moved}; stored URL updated")
        conn.commit()  # end the read: the document may take a while to read below
    if res.not_modified:
        outcome.status = "not_modified"
        next_at = _next_after_success(feed, fetched_at)
        outcome.next_fetch_at = next_at.isoformat()
        _warn(conn, run_id, feed, outcome, counts)
        feed_store.save_poll(conn, feed.id, fetched_at=fetched_at, status="not_modified",
                             http_status=304, next_fetch_at=next_at, etag=res.etag,
                             last_modified=res.last_modified, url=moved)
        conn.commit()
        outcome.counts = counts.as_dict()
        return
    if reader is None or feed.full_text:  # full text needs the entries: read them here
        doc = read_feed(res.body, res.headers, res.final_url, max_bytes=limits.max_bytes,
                        id_strategy=feed.id_strategy)
    else:
        doc = reader(res.body, res.headers, res.final_url, max_bytes=limits.max_bytes,
                     id_strategy=feed.id_strategy,
                     normalise={"source": feed.source, "fetched_at": fetched_at,
                                "feed_url": feed.url})
    if doc.error is not None:
        _fail(conn, feed, run_id, fetched_at, outcome, InputError(res.final_url, doc.error),
              raw=res.body)
        return
    outcome.warnings.extend(doc.warnings)
    strategy, strategy_note = None, None
    if doc.strategy != feed.id_strategy:
        strategy, strategy_note = doc.strategy, "; ".join(doc.notes)
        outcome.warnings.append(f"entry identity moved from {feed.id_strategy} to "
                                f"{doc.strategy}: {strategy_note}")
    counts.duplicates += doc.duplicates
    if doc.duplicates:
        outcome.warnings.append(f"{doc.duplicates} repeated entries in the feed skipped")
    known = feed_store.lookup_entries(
        conn, feed.source, [item.key for item in doc.items],
        [item.link or "" for item in doc.items])
    conn.commit()  # end the read; full-text fetches below must not hold a transaction open
    churned = 0
    pending = []
    for item in doc.items:
        key = item.key
        counts.read += 1
        stored_hash = known.by_key.get(key)
        if stored_hash is None:
            hit = known.by_url.get(item.link) if item.link else None
            title = item.title
            if hit and hit[0] != key and (hit[1] or None) == (title or None) and title:
                key = hit[0]  # the same entry under a new GUID: GUID churn
                churned += 1
                stored_hash = ""
        if stored_hash is not None and stored_hash == item.hash():
            counts.unchanged += 1
            continue
        pending.append((key, item, stored_hash is None))
    if churned and (strategy or feed.id_strategy) == "guid":
        strategy = "link"
        strategy_note = (f"GUIDs changed between fetches for {churned} entries with the same "
                         "link and title")
        outcome.warnings.append(f"entry identity moved from guid to link: {strategy_note}")
    _store_entries(conn, client, feed, run_id, limits, fetched_at, doc, pending, counts,
                   outcome)
    next_at = _next_after_success(feed, fetched_at)
    outcome.status = "ok"
    outcome.next_fetch_at = next_at.isoformat()
    _warn(conn, run_id, feed, outcome, counts, raw=res.body if doc.warnings else None)
    feed_store.save_poll(
        conn, feed.id, fetched_at=fetched_at, status="ok", http_status=res.status,
        next_fetch_at=next_at, etag=res.etag, last_modified=res.last_modified, url=moved,
        title=doc.title, site_url=doc.link, id_strategy=strategy,
        id_strategy_note=strategy_note)
    conn.commit()
    outcome.counts = counts.as_dict()


def _warn(conn, run_id, feed, outcome: FeedOutcome, counts: RunCounts,
          raw: bytes | None = None) -> None:
    """Feed-level warnings, one row each; the feed's bytes go with the first, for replay."""
    for i, text in enumerate(outcome.warnings):
        record_error(conn, run_id, input=feed.url, reason=text, severity="warning",
                     raw=raw if i == 0 else None)
        counts.warnings += 1


def _store_entries(conn, client, feed, run_id, limits, fetched_at, doc, pending, counts,
                   outcome) -> None:
    """Normalise and upsert; one bad entry costs only itself (a savepoint on the slow path)."""
    articles = []
    page_warnings: list[tuple[str, str]] = []  # recorded after the fetches: no open transaction
    full_text_budget = MAX_FULL_TEXT_PER_POLL
    for key, item, is_new in pending:
        entry = item.entry
        full_text = None
        if feed.full_text and is_new and entry and entry.link and full_text_budget > 0:
            full_text_budget -= 1
            full_text, why = fetch_full_text(client, entry.link, limits)
            if why:
                page_warnings.append((key, why))
        if item.article is not None and not full_text:  # normalised by a reader process
            item.article.source_key = key  # a churned GUID keeps the stored key
            articles.append(item.article)
            continue
        reason = item.error
        if entry is not None:
            try:
                articles.append(entry_to_article(
                    entry, source=feed.source, key=key, fetched_at=fetched_at,
                    feed_url=feed.url, feed_language=doc.language, full_text=full_text))
                continue
            except Exception as exc:  # noqa: BLE001 - one entry's oddity must not cost the feed
                reason = f"{type(exc).__name__}: {exc}"
        record_error(conn, run_id, input=feed.url, item_key=key, line=item.position,
                     reason=f"entry {item.position} could not be normalised: {reason}")
        counts.failed += 1
    for key, why in page_warnings:
        record_error(conn, run_id, input=feed.url, reason=why, severity="warning", item_key=key)
        counts.warnings += 1
    batch = [(RawItem(feed.source, a.source_key, a.raw, feed.url, kind="feed",
                      line=a.raw.get("position")), a) for a in articles]
    results = upsert_batch(conn, batch, run_id)  # a refused row is recorded there
    counts.failed += results.count(None)
    for article, result in zip(articles, results, strict=True):
        if result is None:
            continue
        setattr(counts, result, getattr(counts, result) + 1)
        for text in article.warnings:
            record_error(conn, run_id, input=feed.url, item_key=article.source_key,
                         reason=text, severity="warning")
            counts.warnings += 1


# --- many feeds --------------------------------------------------------------------------------

def claim(conn: Any, *, feed_ids: list[int] | None = None, now: datetime | None = None,
          limit: int = 1000) -> list[feed_store.FeedRow]:
    return feed_store.claim_feeds(conn, now=now or datetime.now(UTC),
                                  lease_seconds=LEASE_SECONDS, ids=feed_ids, limit=limit)


def summarise(run_id: int, outcomes: list[FeedOutcome | dict[str, Any]]) -> FeedsSummary:
    total = RunCounts()
    summary = FeedsSummary(run_id=run_id, status="ok")
    for item in outcomes:
        data = item.as_dict() if isinstance(item, FeedOutcome) else dict(item)
        summary.outcomes.append(data)
        summary.feeds += 1
        if data["status"] == "ok":
            summary.ok += 1
        elif data["status"] == "not_modified":
            summary.not_modified += 1
        else:
            summary.failed += 1
        total.add(RunCounts(**data["counts"]))
    summary.counts = total.as_dict()
    return summary


def finish(conn: Any, run_id: int, outcomes: list[FeedOutcome | dict[str, Any]]) -> FeedsSummary:
    summary = summarise(run_id, outcomes)
    summary.status = finish_run(conn, run_id, RunCounts(**summary.counts),
                                "partial" if summary.failed else "ok")
    return summary


def by_host(feeds: list[feed_store.FeedRow]) -> list[feed_store.FeedRow]:
    """The feeds interleaved by host (round robin, first-seen host first), so the workers
    spread over hosts instead of queueing behind one host's politeness limit."""
    queues: dict[str, list[feed_store.FeedRow]] = {}
    for feed in feeds:
        queues.setdefault(host_of(feed.url), []).append(feed)
    out: list[feed_store.FeedRow] = []
    lanes = [iter(q) for q in queues.values()]
    while lanes:
        alive = []
        for lane in lanes:
            feed = next(lane, None)
            if feed is not None:
                out.append(feed)
                alive.append(lane)
        lanes = alive
    return out


def reader_processes(feeds: int) -> int:
    """The default number of reader processes for ``feeds`` feeds: one per core this process
    may run on, at most one per feed; none for a single feed (nothing to read alongside it,
    the process would only add its start) or on one core (reading in-process saves the
    pickling)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)
    return 0 if cores < 2 or feeds < 2 else min(cores, feeds)


def ingest_feeds(
    *,
    dsn: str | None = None,
    feed_ids: list[int] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    per_host: int = DEFAULT_PER_HOST,
    processes: int | None = None,
    limits: FetchLimits | None = None,
    connect_fn: Callable[[], Any] | None = None,
) -> FeedsSummary:
    """Poll the due feeds (or ``feed_ids``) with at most ``concurrency`` at a time.

    Each worker thread has its own database connection; one shared httpx client keeps
    connections alive across feeds of the same host and holds at most ``per_host`` requests
    to one host at a time. ``processes`` reader processes read the documents (None: see
    ``reader_processes``; 0: this process reads them). Outcomes come back in the
    claimed feeds' order.
    """
    open_conn = connect_fn or (lambda: connect(dsn))
    limits = limits or FetchLimits()
    with open_conn() as conn:
        run_id = start_run(conn, "feeds", {"feed_ids": feed_ids, "concurrency": concurrency,
                                           "per_host": per_host, "processes": processes})
        feeds = claim(conn, feed_ids=feed_ids)
        if not feeds:
            return finish(conn, run_id, [])
        if processes is None:
            processes = reader_processes(len(feeds))
        local = threading.local()
        opened: list[Any] = []
        lock = threading.Lock()
        readers = Readers(min(processes, len(feeds))) if processes > 0 else None

        def work(feed: feed_store.FeedRow) -> FeedOutcome:
            if not hasattr(local, "conn"):
                local.conn = open_conn()
                with lock:
                    opened.append(local.conn)
            return ingest_feed(local.conn, client, feed, run_id=run_id, limits=limits,
                               reader=readers)

        workers = max(1, min(concurrency, len(feeds)))
        order = by_host(feeds)
        try:
            with make_client(limits, max_connections=workers, per_host=per_host) as client, \
                    ThreadPoolExecutor(max_workers=workers, thread_name_prefix="feed") as pool:
                done = dict(zip(map(id, order), pool.map(work, order), strict=True))
            outcomes = [done[id(feed)] for feed in feeds]
        finally:
            if readers is not None:
                readers.close()
            for c in opened:
                c.close()
        return finish(conn, run_id, outcomes)


def ingest_feed_by_id(feed_id: int, run_id: int | None, *, dsn: str | None = None,
                      limits: FetchLimits | None = None) -> dict[str, Any]:
    """One feed, for one mapped DAG task: its own connection and client."""
    limits = limits or FetchLimits()
    with connect(dsn) as conn:
        feed = feed_store.get_feed(conn, feed_id)
        if feed is None:
            return FeedOutcome(feed_id=feed_id, url="", status="failed",
                               error=f"feed {feed_id} no longer exists").as_dict()
        with make_client(limits, max_connections=2) as client:
            return ingest_feed(conn, client, feed, run_id=run_id, limits=limits).as_dict()


# --- the DAG's steps ---------------------------------------------------------------------------

def open_feeds_run(feed_ids: list[int] | None = None, *, dsn: str | None = None) -> int:
    """Open a feeds run (migrating first: the DAG may be the first thing ever to run)."""
    from newsthreads.store.migrate import migrate

    with connect(dsn) as conn:
        migrate(conn)
        # Its tasks use connections of their own: not bound to this session's liveness.
        return start_run(conn, "feeds", {"feed_ids": feed_ids, "via": "dag"},
                         session_bound=False)


def claim_feed_ids(feed_ids: list[int] | None = None, *, dsn: str | None = None) -> list[int]:
    """Lease the due feeds (or exactly ``feed_ids``); their ids, one mapped task each."""
    with connect(dsn) as conn:
        feeds = claim(conn, feed_ids=feed_ids)
    log.info("%d feeds to poll: %s", len(feeds), ", ".join(f"{f.id} {f.url}" for f in feeds))
    return [f.id for f in feeds]


def finish_feeds_run(run_id: int, outcomes: list[dict[str, Any] | None], *,
                     dsn: str | None = None) -> dict[str, Any]:
    """Close the run; a mapped task that crashed (no outcome) counts as a failed feed."""
    clean = [o for o in outcomes if o]
    missing = len(outcomes) - len(clean)
    if missing:
        log.warning("feeds run %s: %d feed tasks left no result", run_id, missing)
        counts = RunCounts(failed=1).as_dict()
        clean += [FeedOutcome(feed_id=0, url="?", status="failed", counts=dict(counts),
                              error="the feed's task crashed; see its task log").as_dict()
                  for _ in range(missing)]
    with connect(dsn) as conn:
        summary = finish(conn, run_id, clean)
    log.info("feeds run %s %s: %d ok, %d not modified, %d failed; %s", run_id, summary.status,
             summary.ok, summary.not_modified, summary.failed, summary.counts)
    return summary.as_dict()
