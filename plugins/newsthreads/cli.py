"""The `newsthreads` command: a thin face on the core, like the DAGs and the UI.

Each group of sub-commands lives in ``newsthreads.commands.<name>`` and exposes
``register(subparsers)``; the parser sets ``func`` to the function that runs it, which returns
the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import warnings

from newsthreads.errors import NewsthreadsError, first_line

COMMAND_MODULES = ("core", "stories", "feeds")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsthreads",
        description="Ingest news into PostgreSQL and group it into story threads.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"newsthreads.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"newsthreads.commands.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:  # the embedded server's own chatter is debug detail for us
        logging.getLogger("pgserver").setLevel(logging.WARNING)
        warnings.filterwarnings("ignore", module="platformdirs")
    try:
        return int(args.func(args) or 0)
    except NewsthreadsError as exc:
        print(f"newsthreads: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        import psycopg  # only to tell the database's refusals from our own bugs

        if not isinstance(exc, psycopg.Error):
            raise
        hint = ("; has the database been migrated? run `newsthreads migrate`"
                if isinstance(exc, psycopg.errors.UndefinedTable | psycopg.errors.UndefinedColumn)
                else "")
        print(f"newsthreads: database error: {first_line(exc)}{hint}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
