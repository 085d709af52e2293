"""Core sub-commands: migrate, ingest-files, ingest-jsonl, threads, export-threads, db."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from newsthreads.pipeline import IngestResult, ingest_files, ingest_jsonl
from newsthreads.store.connection import connect, mask_dsn, resolve_dsn
from newsthreads.store.export import export_assignments, list_threads
from newsthreads.store.migrate import migrate


def _json_default(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def cmd_migrate(args: argparse.Namespace) -> int:
    with connect() as conn:
        applied = migrate(conn)
    print(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))
    return 0


def _print_result(result: IngestResult, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.as_dict(), default=_json_default))
        return
    c = result.counts
    print(f"run {result.run_id} {result.status}: read {c.read}, new {c.new}, updated {c.updated},"
          f" unchanged {c.unchanged}, failed {c.failed}, warnings {c.warnings}")
    for err in result.errors:
        where = err["input"] + (f":{err['line']}" if err["line"] else "")
        print(f"  {err['severity']}: {where}: {err['reason']}")


def _maybe_cluster(conn: Any, args: argparse.Namespace) -> None:
    if getattr(args, "cluster", False):
        from newsthreads.tasks import cluster_logged

        run_id, stats = cluster_logged(conn)
        _print_cluster(run_id, stats, args.json)


def _print_cluster(run_id: int, stats: Any, as_json: bool) -> None:
    if not as_json:
        print(f"cluster run {run_id}: {stats.assigned} articles threaded,"
              f" {stats.new_threads} new threads, {stats.duplicates} near-duplicates,"
              f" {stats.imputed} dates imputed")


def cmd_ingest_files(args: argparse.Namespace) -> int:
    with connect() as conn:
        migrate(conn)
        result = ingest_files(conn, args.paths, pattern=args.pattern, source=args.source)
        _print_result(result, args.json)
        _maybe_cluster(conn, args)
    return 0


def cmd_ingest_jsonl(args: argparse.Namespace) -> int:
    with connect() as conn:
        migrate(conn)
        if args.cluster_concurrently:
            from newsthreads.tasks import ingest_and_thread

            result, run_id, stats = ingest_and_thread(conn, args.files, source=args.source)
            _print_result(result, args.json)
            _print_cluster(run_id, stats, args.json)
            return 0
        result = ingest_jsonl(conn, args.files, source=args.source)
        _print_result(result, args.json)
        _maybe_cluster(conn, args)
    return 0


def format_span(first: datetime | None, end: datetime | None) -> str:
    """First and last day of a thread in the display zone (NEWS_DISPLAY_TZ, default Oslo).

    The stored end is exclusive, so the last day is the one just before it: April 2019 is
    [2019-04-01, 2019-05-01) and shows as 2019-04-01 – 2019-04-30.
    """
    if first is None:
        return "undated"
    zone = ZoneInfo(os.environ.get("NEWS_DISPLAY_TZ", "Europe/Oslo"))
    last = (end - timedelta(microseconds=1)).astimezone(zone).date().isoformat() if end else "?"
    return f"{first.astimezone(zone).date().isoformat()} – {last}"


def format_threads(rows: list[dict[str, Any]]) -> str:
    """A plain table; the label is cut to keep one line per thread."""
    header = ("thread", "label", "first – last", "articles", "sources")
    lines = []
    for r in rows:
        span = format_span(r["first_published"], r["last_published_end"])
        label = r["label"] if len(r["label"]) <= 70 else r["label"][:69] + "…"
        lines.append((str(r["thread_id"]), label, span, str(r["article_count"]),
                      str(r["source_count"])))
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h)
              for i, h in enumerate(header)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    return "\n".join(out)


def cmd_threads(args: argparse.Namespace) -> int:
    with connect() as conn:
        rows = list_threads(conn, limit=args.limit)
    if args.json:
        print(json.dumps(rows, default=_json_default, ensure_ascii=False))
    else:
        print(format_threads(rows) if rows else "no threads yet: ingest and cluster first")
    return 0


def cmd_export_threads(args: argparse.Namespace) -> int:
    with connect() as conn:
        rows = export_assignments(conn)
    for row in rows:
        sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    if args.action == "url":
        dsn = resolve_dsn()
        print(dsn if args.show_password else mask_dsn(dsn))
    elif args.action == "stop":
        import pgserver

        from newsthreads.paths import data_dir

        pgdata = data_dir() / "pg"
        if (pgdata / "postmaster.pid").exists():
            pgserver.get_server(pgdata, cleanup_mode="stop").cleanup()
            print(f"stopped the embedded PostgreSQL in {pgdata}")
        else:
            print("the embedded PostgreSQL is not running")
    return 0


def _positive_int(text: str) -> int:
    value = int(text) if text.lstrip("-").isdigit() else 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, not {text!r}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("migrate", help="apply pending SQL migrations from sql/")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("ingest-files", help="ingest article files (seed format)")
    p.add_argument("paths", nargs="+", help="files or directories")
    p.add_argument("--pattern", default="*.txt", help="glob for files in directories")
    p.add_argument("--source", help="source name (default: the directory's name)")
    p.add_argument("--cluster", action="store_true", help="thread new articles afterwards")
    p.add_argument("--json", action="store_true", help="machine-readable summary")
    p.set_defaults(func=cmd_ingest_files)

    p = sub.add_parser("ingest-jsonl", help="ingest JSONL archives, one article a line")
    p.add_argument("files", nargs="+")
    p.add_argument("--source", help="source for lines that name none (default: file stem)")
    p.add_argument("--cluster", action="store_true", help="thread new articles afterwards")
    p.add_argument("--cluster-concurrently", action="store_true",
                   help="thread articles while they are being stored (a second connection:"
                        " faster on two cores; an archive not in publication order is"
                        " threaded as runs every few seconds would thread it)")
    p.add_argument("--json", action="store_true", help="machine-readable summary")
    p.set_defaults(func=cmd_ingest_jsonl)

    p = sub.add_parser("threads", help="print the story threads, newest first")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=_positive_int, default=None, help="at most this many")
    p.set_defaults(func=cmd_threads)

    p = sub.add_parser("export-threads", help="one line per article: source, id, thread, copy")
    p.add_argument("--format", choices=["jsonl"], default="jsonl")
    p.set_defaults(func=cmd_export_threads)

    p = sub.add_parser("db", help="the news database: show its URL or stop the embedded one")
    p.add_argument("action", choices=["url", "stop"])
    p.add_argument("--show-password", action="store_true")
    p.set_defaults(func=cmd_db)
