"""Story sub-commands: ``cluster``, ``rethread`` and ``eval``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date

from newsthreads.store.connection import connect, resolve_dsn
from newsthreads.store.migrate import migrate

DEFAULT_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def cmd_cluster(args: argparse.Namespace) -> int:
    from newsthreads.tasks import cluster_logged

    with connect() as conn:
        migrate(conn)
        run_id, stats = cluster_logged(conn, limit=args.limit)
    if args.json:
        print(json.dumps({"run_id": run_id, **vars(stats)}))
    else:
        print(f"clustered {stats.assigned} articles: {stats.new_threads} new threads, "
              f"{stats.duplicates} near-duplicates, {stats.imputed} dates imputed, "
              f"{stats.late} late arrivals ({stats.seconds:.2f}s)")
    return 0


def _day(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def cmd_rethread(args: argparse.Namespace) -> int:
    # The same task the news_rethread DAG runs: days in the display zone, both included,
    # logged in ingest_runs as kind 'rethread'.
    from newsthreads.tasks import rethread_task

    if args.end < args.start:
        print(f"rethread: --to ({args.end}) is before --from ({args.start})", file=sys.stderr)
        return 2
    summary = rethread_task(args.start, args.end, args.dry_run)
    if args.json:
        print(json.dumps(summary))
    else:
        what = "would re-cluster" if args.dry_run else "re-clustered"
        print(f"{what} {summary['articles']} articles from {args.start} to {args.end}: "
              f"{summary['threads_before']} threads before, {summary['threads_after']} after, "
              f"{summary['moved']} articles change company, {summary['duplicates']} "
              f"near-duplicates (run {summary['run_id']})")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from newsthreads.stories.evaluate import evaluate_db, evaluate_in_memory

    missing = [f for f in args.files if not os.path.exists(f)]
    if missing:
        print(f"eval: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    reports = []
    for group in ([[f] for f in args.files] if args.each else [args.files]):
        if args.in_memory:
            reports.append(evaluate_in_memory(group))
        else:
            admin = args.admin_url or os.environ.get("NEWS_EVAL_ADMIN_URL") or _admin_dsn()
            reports.append(evaluate_db(group, admin))
    if args.json:
        print(json.dumps([r.as_dict() for r in reports], ensure_ascii=False))
    else:
        print("\n\n".join(r.format() for r in reports))
    return 0


def _admin_dsn() -> str:
    """Where throwaway evaluation databases are created: the resolved server's maintenance
    database (``postgres``), so eval never touches the real one."""
    import psycopg

    dsn = resolve_dsn()
    return psycopg.conninfo.make_conninfo(dsn, dbname="postgres")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cluster", help="thread every article not yet in a story thread")
    p.add_argument("--limit", type=int, default=None, help="stop after this many articles")
    p.add_argument("--json", action="store_true", help="machine-readable summary")
    p.set_defaults(func=cmd_cluster)

    p = sub.add_parser("rethread", help="re-cluster a date window from scratch")
    p.add_argument("--from", dest="start", type=_day, required=True, metavar="DATE",
                   help="first day of the window (YYYY-MM-DD, Europe/Oslo)")
    p.add_argument("--to", dest="end", type=_day, required=True, metavar="DATE",
                   help="last day of the window (YYYY-MM-DD, included)")
    p.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_rethread)

    p = sub.add_parser("eval", help="score threading on labelled JSONL (ingest + cluster into a "
                                    "throwaway database)")
    p.add_argument("files", nargs="+", metavar="FILE.jsonl")
    p.add_argument("--each", action="store_true", help="score each file on its own")
    p.add_argument("--in-memory", action="store_true",
                   help="skip the database: same normalisation and clustering, faster")
    p.add_argument("--admin-url", help="server to create the throwaway database on "
                                       "(default: NEWS_EVAL_ADMIN_URL, else the resolved server)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)
