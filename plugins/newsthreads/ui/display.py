"""How dates, spans and search snippets read on the page: never more precise than the data."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from newsthreads.normalise.dates import DEFAULT_TZ
from newsthreads.store.reads import MATCH_START, MATCH_STOP

# Coarse dates are stored as intervals computed in this zone (see normalise.dates), so they
# read right in it: "april 2019" starts 2019-03-31T22:00Z, which is 2019-04-01 in Oslo.
DISPLAY_TZ = ZoneInfo(DEFAULT_TZ)


def _local(value: datetime) -> datetime:
    return value.astimezone(DISPLAY_TZ)


def _is_midnight_first(value: datetime) -> bool:
    return value.day == 1 and (value.hour, value.minute, value.second) == (0, 0, 0)


def published_text(start: datetime | None, end: datetime | None,
                   precision: str | None) -> str:
    """A date as precise as it is known: '2019-04' for a month, '2019-04-25 14:03 CEST'...

    A coarse interval is named by its middle, so a day or month computed in another zone
    (a US feed's "April 25") still shows as that day or month here.
    """
    if start is None:
        return "undated"
    if precision in ("year", "month", "day") and end is not None and end > start:
        middle = _local(start + (end - start) / 2)
        return f"{middle:%Y}" if precision == "year" else (
            f"{middle:%Y-%m}" if precision == "month" else f"{middle:%Y-%m-%d}")
    if precision == "minute":
        return f"{_local(start):%Y-%m-%d %H:%M %Z}"
    if precision == "second":
        return f"{_local(start):%Y-%m-%d %H:%M:%S %Z}"
    return span_text(start, end)  # an interval of unknown precision


def span_text(start: datetime | None, end: datetime | None) -> str:
    """A date interval [start, end): whole months as '2019-04' or '2019-03 – 2019-04'."""
    if start is None:
        return "undated"
    first = _local(start)
    if end is None or end <= start:
        return f"{first:%Y-%m-%d}"
    stop = _local(end)
    last_day = _local(end - timedelta(microseconds=1)).date()
    if _is_midnight_first(first) and _is_midnight_first(stop):
        first_month, last_month = f"{first:%Y-%m}", f"{last_day:%Y-%m}"
        return first_month if first_month == last_month else f"{first_month} – {last_month}"
    if last_day == first.date():
        return f"{first:%Y-%m-%d}"
    return f"{first:%Y-%m-%d} – {last_day:%Y-%m-%d}"


def snippet_html(snippet: str) -> Markup:
    """Escape the article text, then mark the matched words (the markers never reach the page)."""
    text = str(escape(snippet))
    text = text.replace(MATCH_START, "<mark>").replace(MATCH_STOP, "</mark>")
    return Markup(text)


def link_url(url: str | None) -> str | None:
    """Only http(s) links reach an href: a feed's ``javascript:`` URL must not run here."""
    if url and url.lower().startswith(("http://", "https://")):
        return url
    return None
