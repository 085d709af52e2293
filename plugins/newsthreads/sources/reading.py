"""Reading a fetched feed document: parse, key and normalise its entries (``read_feed``).

This is the CPU of a feed poll, and feedparser is pure Python: threads cannot spread it over
cores. ``Readers`` runs it in a few reader processes instead, so a run's threads can fetch and
store other feeds meanwhile (plain subprocesses over pipes, see ``newsthreads.childproc``
for why not ``multiprocessing``). Each reader
gets its next document while it is still reading the current one, so it never waits for the
caller's threads between documents.

The module imports only the parser and the normaliser (no HTTP, no database), so a reader
process starts in about a tenth of a second.
"""

from __future__ import annotations

import logging
import pickle
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from newsthreads import childproc
from newsthreads.errors import InputError
from newsthreads.model import Article
from newsthreads.normalise.feed_entry import entry_to_article
from newsthreads.sources.entry import FeedEntry
from newsthreads.sources.feeds import parse_feed
from newsthreads.sources.identity import assign_keys, canonical_url, entry_hash

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ReadItem:
    """One keyed entry of a feed document: what the database step needs to decide about it."""

    key: str
    link: str | None  # the canonical link (GUID churn is recognised by it)
    title: str | None  # stripped title text
    position: int
    entry: FeedEntry | None = None  # kept when read lazily (in the caller's process)
    article: Article | None = None  # normalised up front (in a reader process)
    error: str | None = None  # why it could not be normalised
    known_hash: str | None = None  # ``entry_hash``, once computed

    def hash(self) -> str:
        """``entry_hash`` of the entry: the same hash as stored means nothing to store."""
        if self.known_hash is None:
            if self.article is not None:
                self.known_hash = self.article.raw["entry_hash"]
            else:
                assert self.entry is not None
                self.known_hash = entry_hash(self.entry)
        return self.known_hash


@dataclass(slots=True)
class ReadFeed:
    """A feed document parsed, keyed and (when asked) normalised."""

    title: str | None = None
    link: str | None = None
    language: str | None = None
    warnings: list[str] = field(default_factory=list)
    strategy: str = "guid"
    notes: list[str] = field(default_factory=list)
    duplicates: int = 0
    items: list[ReadItem] = field(default_factory=list)
    error: str | None = None  # no feed in the document: the reason (an InputError's)


def read_feed(body: bytes, headers: dict[str, str], url: str, *, max_bytes: int,
              id_strategy: str, normalise: dict[str, Any] | None = None) -> ReadFeed:
    """Parse and key a fetched document; with ``normalise`` (``entry_to_article``'s
    ``source``, ``fetched_at`` and ``feed_url``), also normalise every entry now, keeping the
    articles instead of the parsed entries.

    Never raises for the document's faults (``error`` says why there is no feed): the result
    may cross a process boundary, where an exception would have to survive pickling.
    """
    try:
        parsed = parse_feed(body, headers, url, max_bytes=max_bytes)
    except InputError as exc:
        return ReadFeed(error=exc.reason)
    keyed = assign_keys(parsed.entries, id_strategy)  # type: ignore[arg-type]
    doc = ReadFeed(title=parsed.title, link=parsed.link, language=parsed.language,
                   warnings=parsed.warnings, strategy=keyed.strategy, notes=keyed.notes,
                   duplicates=keyed.duplicates)
    for key, entry in keyed.keyed:
        item = ReadItem(key=key, link=canonical_url(entry.link),
                        title=entry.title.value.strip() if entry.title else None,
                        position=entry.position)
        if normalise is None:
            item.entry = entry
        else:
            try:
                item.article = entry_to_article(entry, key=key, feed_language=parsed.language,
                                                **normalise)
            except Exception as exc:  # noqa: BLE001 - recorded against the entry by the caller
                item.error = f"{type(exc).__name__}: {exc}"
                item.known_hash = entry_hash(entry)
        doc.items.append(item)
    return doc


# --- reader processes --------------------------------------------------------------------------
# One message is its length (8 bytes, big-endian), then a pickle. A job is (args, kwargs) for
# ``read_feed``; an answer ("ok", ReadFeed) or ("error", "TypeName: message").

_READER = "from newsthreads.sources.reading import serve; serve()"


def serve() -> None:
    """A reader process: ``read_feed`` jobs on stdin, answers on stdout, until EOF."""
    childproc.serve(lambda job: read_feed(*job[0], **job[1]))


class ReaderDied(RuntimeError):
    """A reader process exited (killed, out of memory) before answering."""


class _Process:
    """One reader process: jobs written in order, answers read in order by a thread."""

    def __init__(self) -> None:
        self.popen = childproc.start(_READER)
        self._write = threading.Lock()
        self._state = threading.Lock()
        self._pending: deque[Future] = deque()
        self.dead = False
        self._thread = threading.Thread(target=self._answers, name="feed-reader", daemon=True)
        self._thread.start()

    @property
    def load(self) -> int:
        return len(self._pending)

    def submit(self, args: tuple, kw: dict[str, Any]) -> Future:
        future: Future = Future()
        with self._write:
            with self._state:
                if self.dead:
                    raise ReaderDied("the reader process has exited")
                self._pending.append(future)
            try:
                assert self.popen.stdin is not None
                childproc.send(self.popen.stdin, (args, kw))
            except OSError as exc:  # it died; its answer thread fails what it owed
                self._die(exc)
        return future

    def _answers(self) -> None:
        assert self.popen.stdout is not None
        while True:
            try:
                answer = childproc.receive(self.popen.stdout)
            except (OSError, EOFError, pickle.UnpicklingError) as exc:
                self._die(exc)
                return
            with self._state:
                future = self._pending.popleft()
            future.set_result(answer)

    def _die(self, exc: BaseException) -> None:
        with self._state:
            self.dead = True
            owed, self._pending = list(self._pending), deque()
        for future in owed:
            if not future.done():
                future.set_exception(ReaderDied(f"the reader process exited ({exc})"))

    def close(self) -> None:
        childproc.stop(self.popen)
        self._thread.join(timeout=10)


class Readers:
    """``processes`` reader processes shared by a run's threads; call it like ``read_feed``.

    A document goes to the least busy reader. A reader that dies is replaced and the document
    read once more; if that reader dies too, the call raises ``ReaderDied``.
    """

    def __init__(self, processes: int) -> None:
        self._lock = threading.Lock()
        self._procs = [_Process() for _ in range(processes)]  # importing meanwhile

    def _pick(self) -> _Process:
        with self._lock:
            for i, proc in enumerate(self._procs):
                if proc.dead or proc.popen.poll() is not None:
                    proc.close()
                    self._procs[i] = _Process()
            return min(self._procs, key=lambda p: p.load)

    def __call__(self, *args: Any, **kw: Any) -> ReadFeed:
        for attempt in (1, 2):
            try:
                status, value = self._pick().submit(args, kw).result()
            except ReaderDied:
                if attempt == 2:
                    raise
                log.warning("a feed reader process died; reading the document again")
                continue
            if status != "ok":
                raise RuntimeError(f"reading the document failed: {value}")
            return value
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            procs, self._procs = self._procs, []
        for proc in procs:
            proc.close()


Reader = Callable[..., ReadFeed]
