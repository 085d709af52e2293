"""JSONL archives: one article object a line, for backfills and evaluation.

Shape: ``{"id", "title", "text", "published", "lang", "source", "url"}``; ``id`` and ``text``
are required, the rest may be null or absent. A bad line is reported with its number and the
raw line kept; the other lines go through.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from newsthreads.errors import InputError
from newsthreads.model import RawItem
from newsthreads.sources.files import MAX_FILE_BYTES

MAX_LINE_BYTES = MAX_FILE_BYTES  # one article a line: a longer line is not read into memory
_KEEP_BYTES = 64 * 1024  # of an oversized line, kept in its error row
_OPTIONAL_STR = ("title", "published", "lang", "url", "story")


def parse_line(line: bytes, where: str, number: int, default_source: str) -> RawItem | InputError:
    try:
        obj = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return InputError(where, f"not JSON: {exc}", line=number, raw=line)
    except RecursionError:
        return InputError(where, "not JSON we can read: nested too deeply", line=number,
                          raw=line)
    if not isinstance(obj, dict):
        return InputError(where, f"a JSON {type(obj).__name__}, not an object", line=number,
                          raw=line)
    ident = obj.get("id")
    if ident is None or ident == "" or isinstance(ident, (dict, list, bool)):
        return InputError(where, "missing 'id'", line=number, raw=line)
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        return InputError(where, "missing or empty 'text'", line=number, key=str(ident), raw=line)
    fields = {"text": text}
    for name in _OPTIONAL_STR:
        value = obj.get(name)
        if value is not None and not isinstance(value, str):
            value = str(value)
        fields[name] = value
    source = obj.get("source")
    source = str(source) if source not in (None, "") else default_source
    return RawItem(source=source, key=str(ident), fields=fields, location=where, kind="jsonl",
                   line=number)


def iter_jsonl(path: str | Path, source: str | None = None) -> Iterator[RawItem | InputError]:
    """Items of one JSONL file; ``source`` fills in lines that name none (default: file stem)."""
    path = Path(path)
    where = str(path)
    default_source = source or path.stem
    try:
        fh = path.open("rb")
    except OSError as exc:
        yield InputError(where, f"cannot read: {exc.strerror or exc}")
        return
    with fh:
        number = 0
        while line := fh.readline(MAX_LINE_BYTES + 1):
            number += 1
            if len(line) > MAX_LINE_BYTES:
                head = line[: min(_KEEP_BYTES, MAX_LINE_BYTES)]
                size = len(line) + _skip_rest_of_line(fh, line)
                yield InputError(where, f"line is {size:,} bytes, over the {MAX_LINE_BYTES:,}"
                                 " bytes limit (NEWS_MAX_FILE_BYTES); is this a JSON array"
                                 " rather than JSONL? Not read", line=number, raw=head)
                continue
            if not line.strip():
                continue
            yield parse_line(line, where, number, default_source)


def _skip_rest_of_line(fh: BinaryIO, read: bytes) -> int:
    """Read past the end of an oversized line without holding it; the bytes skipped."""
    skipped = 0
    while not read.endswith(b"\n"):
        read = fh.readline(1024 * 1024)
        if not read:
            break
        skipped += len(read)
    return skipped
