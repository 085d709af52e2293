"""File drops: every matching file under the given paths becomes one raw item.

The source name is the directory's name unless given (``seeds`` for seeds/), and the item's
key is its path relative to that directory, so the same drop read twice has the same keys.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from newsthreads.errors import InputError
from newsthreads.model import RawItem
from newsthreads.sources.text import NotText, decode_text

MAX_FILE_BYTES = int(os.environ.get("NEWS_MAX_FILE_BYTES", 10 * 1024 * 1024))


def _expand(paths: Iterable[str | Path], pattern: str) -> Iterator[tuple[Path, Path | InputError]]:
    """(root, file) pairs in a stable order; a missing path, or a folder that cannot be
    listed, is reported (as an InputError), never silently skipped."""
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files, errors = _walk(path, pattern)
            for error in errors:
                yield path, error
            for file in files:
                yield path, file
        elif path.is_file():
            yield path.parent, path
        else:
            yield path, path  # reported as missing by iter_files


def _walk(root: Path, pattern: str) -> tuple[list[Path], list[InputError]]:
    """Files under ``root`` whose name matches ``pattern``, sorted; and the folders that could
    not be listed (``Path.rglob`` passes over those without a word). Symlinked folders are
    not followed: a link loop cannot make a drop endless."""
    errors: list[InputError] = []

    def unlistable(exc: OSError) -> None:
        errors.append(InputError(str(exc.filename or root), "cannot list folder: "
                                 f"{exc.strerror or exc}; the files in it were not read"))

    files = []
    for folder, subfolders, names in os.walk(root, onerror=unlistable):
        subfolders.sort()
        for name in names:
            if fnmatch.fnmatchcase(name, pattern):
                file = Path(folder, name)
                if file.is_file():
                    files.append(file)
    return sorted(files), errors


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
        if isinstance(file, InputError):
            yield file
            continue
        if not file.exists():
            yield InputError(str(file), "no such file or directory")
            continue
        yield read_file_item(root, file, source)
