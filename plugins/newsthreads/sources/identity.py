"""Which entry is which: the dedup key of a feed entry, per feed.

Key order: the GUID, else the canonical link (tracking parameters such as ``utm_*`` removed),
else a hash of title and content. Real feeds break each rung: some repeat one GUID for every
entry, some mint a new GUID on every fetch, some point every entry at the home page. A feed's
*strategy* (``guid``, ``link`` or ``hash``) is stored with the feed and moves down a rung when
one fetch shows the current rung cannot tell its entries apart; ``assign_keys`` says when.
GUID churn (same link and title, a new GUID each fetch) needs the stored articles to see and is
handled by the ingest core with ``store.feeds.lookup_entries``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from newsthreads.sources.entry import FeedEntry

Strategy = Literal["guid", "link", "hash"]
STRATEGIES: tuple[Strategy, ...] = ("guid", "link", "hash")

TRACKING_PARAMS = {
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "mc_cid", "mc_eid",
    "igshid", "_ga", "_gl", "ocid", "cmpid", "ncid", "sr_share", "at_medium", "at_campaign",
    "xtor", "__twitter_impression", "s_cid",
}
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "at_", "hsa_")


@lru_cache(maxsize=8192)
def canonical_url(url: str | None) -> str | None:
    """The link without tracking parameters, fragment, default port or host case."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return url
    host = parts.hostname.lower()
    if port and not ((parts.scheme == "http" and port == 80)
                     or (parts.scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)
    ]
    return urlunsplit((parts.scheme.lower(), host, parts.path or "/", urlencode(query), ""))


def _digest(*parts: str | None) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update((part or "").encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


def content_key(entry: FeedEntry) -> str:
    title = entry.title.value if entry.title else ""
    body = (entry.content or entry.summary)
    return "hash:" + _digest(title, body.value if body else "")[:32]


def entry_hash(entry: FeedEntry) -> str:
    """Hash of everything the feed says about an entry: unchanged hash, nothing to do."""
    return _digest(
        entry.guid, entry.link,
        entry.title.value if entry.title else None,
        entry.summary.value if entry.summary else None,
        entry.content.value if entry.content else None,
        entry.published_raw, entry.updated_raw,
        "|".join(entry.authors), "|".join(entry.categories),
    )[:32]


def entry_key(entry: FeedEntry, strategy: Strategy) -> str:
    if strategy == "guid" and entry.guid:
        return entry.guid
    if strategy in ("guid", "link"):
        link = canonical_url(entry.link)
        if link:
            return link
    return content_key(entry)


@dataclass
class KeyedEntries:
    keyed: list[tuple[str, FeedEntry]]
    strategy: Strategy  # the strategy the keys were made with (may be lower than asked)
    duplicates: int = 0  # entries dropped because an identical one came first
    notes: list[str] = field(default_factory=list)


def _same(a: FeedEntry, b: FeedEntry) -> bool:
    return entry_hash(a) == entry_hash(b) or (
        canonical_url(a.link) == canonical_url(b.link)
        and (a.title.value if a.title else None) == (b.title.value if b.title else None))


def _collides(entries: list[FeedEntry], strategy: Strategy) -> int:
    """How many entries share a key with a *different* entry under ``strategy``."""
    seen: dict[str, FeedEntry] = {}
    clashes = 0
    for e in entries:
        key = entry_key(e, strategy)
        other = seen.get(key)
        if other is None:
            seen[key] = e
        elif not _same(other, e):
            clashes += 1
    return clashes


def assign_keys(entries: list[FeedEntry], strategy: Strategy = "guid") -> KeyedEntries:
    """Key every entry; move down a rung when this fetch shows the keys are not unique."""
    notes: list[str] = []
    start = STRATEGIES.index(strategy)
    chosen: Strategy = STRATEGIES[-1]
    for candidate in STRATEGIES[start:]:
        clashes = _collides(entries, candidate)
        if clashes == 0:
            chosen = candidate
            break
        notes.append(f"{clashes} entries share a {candidate} with a different entry; "
                     f"{candidate} cannot identify this feed's entries")
    keyed: list[tuple[str, FeedEntry]] = []
    seen: set[str] = set()
    duplicates = 0
    for e in entries:
        key = entry_key(e, chosen)
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        keyed.append((key, e))
    return KeyedEntries(keyed, chosen, duplicates, notes)
