"""The main text of an article page, for feeds that carry only summaries (``--full-text``).

The page is fetched under the same limits and SSRF guard as the feed; trafilatura extracts the
text. Any failure returns None with a reason: the summary is still a good article.
"""

from __future__ import annotations

import logging

import httpx

from newsthreads.errors import FetchError
from newsthreads.sources.fetch import PAGE_ACCEPT, FetchLimits, fetch

log = logging.getLogger(__name__)

MIN_CHARS = 200  # less than this is a cookie banner or a paywall teaser, not the article


def fetch_full_text(
    client: httpx.Client, url: str, limits: FetchLimits | None = None
) -> tuple[str | None, str | None]:
    """(text, None) or (None, why not)."""
    import trafilatura  # heavy import: only for feeds that ask for full text

    try:
        page = fetch(client, url, limits=limits, accept=PAGE_ACCEPT)
    except FetchError as exc:
        return None, f"full text of {url}: {exc.reason}"
    try:
        text = trafilatura.extract(page.body, url=page.final_url, include_comments=False,
                                   include_tables=False, favor_precision=True)
    except Exception as exc:  # noqa: BLE001 - extraction bugs must not lose the entry
        return None, f"full text of {url}: extraction failed ({type(exc).__name__}: {exc})"
    if not text or len(text.strip()) < MIN_CHARS:
        return None, f"full text of {url}: no article text found on the page"
    return text.strip(), None
