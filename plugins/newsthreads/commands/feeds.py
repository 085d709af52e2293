"""Feed sub-commands: ``feeds add|list|remove|import|export`` and ``ingest-feeds``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from newsthreads.errors import FetchError, InputError
from newsthreads.store.connection import connect
from newsthreads.store.migrate import migrate


def _json_default(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _ago(when: datetime | None) -> str:
    if when is None:
        return "never"
    seconds = (datetime.now(UTC) - when).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            text = f"{int(seconds // size)}{unit}"
            break
    else:
        text = f"{int(seconds)}s"
    return f"in {text}" if future else f"{text} ago"


def feed_state(row: dict[str, Any]) -> str:
    if row["disabled_at"]:
        return "retired"
    if row["consecutive_failures"]:
        return f"failing x{row['consecutive_failures']}"
    return {"ok": "ok", "not_modified": "ok (304)", None: "new"}.get(row["last_status"],
                                                                     row["last_status"])


def cmd_add(args: argparse.Namespace) -> int:
    from newsthreads.feeds_registry import register_feed

    with connect() as conn:
        migrate(conn)
        try:
            done = register_feed(conn, args.url, title=args.title, source=args.source,
                                 full_text=args.full_text, poll_seconds=args.every,
                                 check=not args.no_check)
        except (InputError, FetchError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    verb = "added" if done.created else "already registered; re-enabled and due now:"
    print(f"{verb} feed {done.feed.id} {done.feed.url} (source {done.feed.source})")
    for note in done.notes:
        print(f"  {note}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from newsthreads.store.feeds import list_feeds

    with connect() as conn:
        migrate(conn)
        rows = list_feeds(conn)
    if args.json:
        for row in rows:
            row["state"] = feed_state(row)
        print(json.dumps(rows, default=_json_default, indent=1))
        return 0
    if not rows:
        print("no feeds; add one with `newsthreads feeds add URL`")
        return 0
    header = ("id", "state", "articles", "last success", "next fetch", "url / last error")
    table = [header]
    for r in rows:
        tail = r["url"]
        if r["disabled_reason"]:
            tail += f"\n      {r['disabled_reason']}"
        elif r["last_error"]:
            tail += f"\n      last error: {r['last_error']}"
        table.append((str(r["id"]), feed_state(r), str(r["articles"]),
                      _ago(r["last_success_at"]),
                      "-" if r["disabled_at"] else _ago(r["next_fetch_at"]), tail))
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:5], widths, strict=True))
              + "  " + row[5])
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from newsthreads.store.feeds import get_feed, remove_feed

    with connect() as conn:
        migrate(conn)
        feed = get_feed(conn, args.feed)
        if feed is None:
            print(f"error: no feed {args.feed!r} (give an id, URL or source)", file=sys.stderr)
            return 1
        remove_feed(conn, feed.id)
    print(f"removed feed {feed.id} {feed.url}; its articles stay in the archive")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from newsthreads.feeds_registry import import_opml

    data = Path(args.file).read_bytes()
    with connect() as conn:
        migrate(conn)
        try:
            results = import_opml(conn, data, where=args.file, check=args.check)
        except InputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    added = sum(1 for _, r in results if not isinstance(r, str) and r.created)
    bad = [(item, r) for item, r in results if isinstance(r, str)]
    print(f"{len(results)} feeds in {args.file}: {added} added, "
          f"{len(results) - added - len(bad)} already registered, {len(bad)} refused")
    for item, reason in bad:
        print(f"  refused {item.url}: {reason}")
    return 1 if bad and len(bad) == len(results) else 0


def cmd_export(args: argparse.Namespace) -> int:
    from newsthreads.feeds_registry import export_opml

    with connect() as conn:
        migrate(conn)
        data = export_opml(conn)
    if args.output and args.output != "-":
        Path(args.output).write_bytes(data)
    else:
        sys.stdout.write(data.decode("utf-8"))
    return 0


def format_summary(summary: dict[str, Any]) -> str:
    c = summary["counts"]
    lines = [
        f"run {summary['run_id']} {summary['status']}: {summary['feeds']} feeds: "
        f"{summary['ok']} ok, {summary['not_modified']} not modified, {summary['failed']} failed;"
        f" articles: {c['new']} new, {c['updated']} updated, {c['unchanged']} unchanged,"
        f" {c['duplicates']} duplicates skipped, {c['warnings']} warnings"]
    for o in summary["outcomes"]:
        if o["status"] in ("failed", "gone"):
            lines.append(f"  {o['status']}: feed {o['feed_id']} {o['url']}: {o['error']}")
        for warning in o["warnings"]:
            lines.append(f"  warning: feed {o['feed_id']} {o['url']}: {warning}")
    return "\n".join(lines)


def cmd_ingest(args: argparse.Namespace) -> int:
    from newsthreads.feeds_run import ingest_feeds
    from newsthreads.sources.fetch import DEFAULT_PER_HOST

    if args.per_host is not None and args.per_host < 1:
        print("newsthreads: --per-host must be at least 1", file=sys.stderr)
        return 2
    if args.reader_processes is not None and args.reader_processes < 0:
        print("newsthreads: --reader-processes must be 0 or more", file=sys.stderr)
        return 2
    with connect() as conn:
        migrate(conn)
    summary = ingest_feeds(feed_ids=args.feed or None, concurrency=args.concurrency,
                           per_host=args.per_host or DEFAULT_PER_HOST,
                           processes=args.reader_processes)
    data = summary.as_dict()
    print(json.dumps(data, default=_json_default) if args.json else format_summary(data))
    return 0  # the run completed; per-feed failures are in the summary and ingest_errors


def register(subparsers: argparse._SubParsersAction) -> None:
    feeds = subparsers.add_parser("feeds", help="manage the feed registry")
    sub = feeds.add_subparsers(dest="feeds_command", required=True, metavar="ACTION")

    p = sub.add_parser("add", help="add a feed, or a site page that announces one")
    p.add_argument("url")
    p.add_argument("--title")
    p.add_argument("--source", help="name for its articles' source (default: host/path)")
    p.add_argument("--full-text", action="store_true",
                   help="fetch each new entry's page and extract the article text")
    p.add_argument("--every", type=int, metavar="SECONDS", help="poll interval (default 900)")
    p.add_argument("--no-check", action="store_true", help="add without fetching it first")
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("list", help="feeds with status, failures, last error, next fetch")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("remove", help="forget a feed (its articles stay)")
    p.add_argument("feed", help="id, URL or source")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("import", help="add the feeds of an OPML file")
    p.add_argument("file")
    p.add_argument("--check", action="store_true", help="fetch each feed while adding it")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("export", help="write the feed list as OPML")
    p.add_argument("-o", "--output", help="file (default: stdout)")
    p.set_defaults(func=cmd_export)

    p = subparsers.add_parser("ingest-feeds", help="poll the due feeds and store new articles")
    p.add_argument("--feed", type=int, action="append", metavar="ID",
                   help="poll this feed now, due or not (repeatable)")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--per-host", type=int, metavar="N",
                   help="requests in flight to one host at a time (default 2)")
    p.add_argument("--reader-processes", type=int, metavar="N",
                   help="processes that parse the documents (default: one per core; 0: this "
                        "process parses them)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ingest)
