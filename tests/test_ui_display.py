"""Dates on the Story threads pages are never shown more precisely than they are known."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from newsthreads.ui.display import link_url, published_text, snippet_html, span_text

APRIL_OSLO = (datetime(2019, 3, 31, 22, tzinfo=UTC), datetime(2019, 4, 30, 22, tzinfo=UTC))


@pytest.mark.parametrize(("start", "end", "precision", "shown"), [
    (*APRIL_OSLO, "month", "2019-04"),
    (datetime(2019, 4, 1, 4, tzinfo=UTC), datetime(2019, 5, 1, 4, tzinfo=UTC), "month",
     "2019-04"),  # a month computed in New York time is still April
    (datetime(2019, 4, 24, 22, tzinfo=UTC), datetime(2019, 4, 25, 22, tzinfo=UTC), "day",
     "2019-04-25"),
    (datetime(2019, 4, 24, 15, tzinfo=UTC), datetime(2019, 4, 25, 15, tzinfo=UTC), "day",
     "2019-04-25"),  # a Tokyo day: its middle is still the 25th in Oslo
    (datetime(2018, 12, 31, 23, tzinfo=UTC), datetime(2019, 12, 31, 23, tzinfo=UTC), "year",
     "2019"),
    (datetime(2019, 4, 25, 4, 10, tzinfo=UTC), datetime(2019, 4, 25, 4, 11, tzinfo=UTC),
     "minute", "2019-04-25 06:10 CEST"),
    (None, None, None, "undated"),
])
def test_published_text(start, end, precision, shown) -> None:
    assert published_text(start, end, precision) == shown


def test_spans() -> None:
    assert span_text(*APRIL_OSLO) == "2019-04"
    assert span_text(datetime(2019, 2, 28, 23, tzinfo=UTC), APRIL_OSLO[1]) == "2019-03 – 2019-04"
    assert span_text(datetime(2019, 4, 24, 22, tzinfo=UTC),
                     datetime(2019, 4, 26, 22, tzinfo=UTC)) == "2019-04-25 – 2019-04-26"
    assert span_text(None, None) == "undated"


def test_snippets_are_escaped_and_only_our_markers_become_marks() -> None:
    html = str(snippet_html("<b>Kim</b> met \x02Putin\x03 & co"))
    assert html == "&lt;b&gt;Kim&lt;/b&gt; met <mark>Putin</mark> &amp; co"


def test_only_web_links_are_linked() -> None:
    assert link_url("https://nrk.no/a") == "https://nrk.no/a"
    assert link_url("javascript:alert(1)") is None and link_url("data:text/html,x") is None
