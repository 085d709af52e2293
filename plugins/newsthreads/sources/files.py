"""File drops: every matching file under the given paths becomes one raw item.

The source name is the directory's name unless given (``seeds`` for seeds/), and the item's
key is its path relative to that directory, so the same drop read twice has the same keys.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from newsthreads.errors import InputError
from newsthreads.model import RawItem
from newsthreads.sources.text import NotText, decode_text

MAX_FILE_BYTES = int(os.environ.get("NEWS_MAX_FILE_BYTES", 10 * 1024 * 1024))


def _expand(paths: Iterable[str | Path], pattern: str) -> Iterator[tuple[Path, Path]]:
    """(root, file) pairs in a stable order; a missing path is reported, not skipped."""
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for file in sorted(p for p in path.rglob(pattern) if p.is_file()):
                yield path, file
        elif path.is_file():
            yield path.parent, path
        else:
            yield path, path  # reported as missing by read_file_item


def read_file_item(root: Path, file: Path, source: str | None = None) -> RawItem | InputError:
    """One file as a RawItem, or an InputError naming the file and why."""
    key = file.relative_to(root).as_posix() if file != root else file.name
    name = source or root.name or "files"
    where = str(file)
    try:  # a file can vanish, or be unreadable, between the listing and the read
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            with file.open("rb") as fh:
                head = fh.read(64 * 1024)
            return InputError(
                where,
                f"file is {size / 1e6:.1f} MB, over the {MAX_FILE_BYTES / 1e6:.0f} MB limit"
                " (NEWS_MAX_FILE_BYTES); not read",
                key=key, raw=head,
            )
        data = file.read_bytes()
    except OSError as exc:
        return InputError(where, f"cannot read: {exc.strerror or exc}", key=key)
    if not data.strip():
        return InputError(where, "empty file", key=key, raw=data)
    try:
        text, warning = decode_text(data)
    except NotText as exc:
        return InputError(where, str(exc), key=key, raw=data)
    return RawItem(
        source=name, key=key, fields={"text": text}, location=where, kind="file",
        warnings=[warning] if warning else [],
    )


def iter_files(
    paths: Iterable[str | Path], pattern: str = "*.txt", source: str | None = None
) -> Iterator[RawItem | InputError]:
    for root, file in _expand(paths, pattern):
        if not file.exists():
            yield InputError(str(file), "no such file or directory")
            continue
        yield read_file_item(root, file, source)
