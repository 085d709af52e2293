"""Rows threading reads, apart from the statements that read them: the analysis worker
(``stories.prefetch``) receives them without importing psycopg (a quarter of a second of its
start, which the first batches wait for)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ArticleRow:
    """The columns of ``articles`` that threading reads."""

    id: int
    source: str
    source_key: str
    title: str | None
    lead: str | None
    body: str
    language: str | None
    published_at: datetime | None
    published_end: datetime | None
    published_precision: str | None
    published_source: str | None
    agency: str | None
    kicker: str | None
