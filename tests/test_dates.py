"""Dates: raw strings to UTC intervals with a precision; bounds; no invented days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from newsthreads.errors import DateError
from newsthreads.model import PublishedDate
from newsthreads.normalise.dates import (
    PRECISIONS,
    check_bounds,
    date_interval,
    from_datetime,
    interval_end,
    parse_date,
)


def z(text: str) -> datetime:
    """'2019-04-25T04:10:00' -> aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# input -> (start UTC, end UTC, precision). Europe/Oslo is the default zone: CEST (+02) from
# 2019-03-31 01:00Z to 2019-10-27 01:00Z, CET (+01) otherwise.
CASES = [
    # ISO 8601, full and partial
    ("2019", "2018-12-31T23:00", "2019-12-31T23:00", "year"),
    ("2019-04", "2019-03-31T22:00", "2019-04-30T22:00", "month"),
    ("2019-04-25", "2019-04-24T22:00", "2019-04-25T22:00", "day"),
    ("2019-04-25T06:10:00+02:00", "2019-04-25T04:10:00", "2019-04-25T04:10:01", "second"),
    ("2019-04-25T04:10:00Z", "2019-04-25T04:10:00", "2019-04-25T04:10:01", "second"),
    ("2019-04-25T06:10", "2019-04-25T04:10", "2019-04-25T04:11", "minute"),
    ("2019-04-25T06:10+02:00", "2019-04-25T04:10", "2019-04-25T04:11", "minute"),
    ("2019-04-25 06:10:00", "2019-04-25T04:10:00", "2019-04-25T04:10:01", "second"),
    ("2019-04-25 06:10:00.123456+0200", "2019-04-25T04:10:00", "2019-04-25T04:10:01", "second"),
    ("2019-04-25T06:10:00,5-04:00", "2019-04-25T10:10:00", "2019-04-25T10:10:01", "second"),
    ("2019-04-25T06:10:00 UTC", "2019-04-25T06:10:00", "2019-04-25T06:10:01", "second"),
    ("20190425T041000Z", "2019-04-25T04:10:00", "2019-04-25T04:10:01", "second"),
    # RFC 822 / 2822 and what feeds make of it
    ("Thu, 25 Apr 2019 06:10:00 +0200", "2019-04-25T04:10:00", "2019-04-25T04:10:01", "second"),
    ("Thu, 25 Apr 2019 06:10:00 GMT", "2019-04-25T06:10:00", "2019-04-25T06:10:01", "second"),
    ("Thu, 25 Apr 2019 04:10:00 UT", "2019-04-25T04:10:00", "2019-04-25T04:10:01", "second"),
    ("Thu, 25 Apr 2019 00:10:00 EDT", "2019-04-25T04:10:00", "2019-04-25T04:10:01", "second"),
    ("Thu, 25 Apr 2019 21:10:00 PST", "2019-04-26T05:10:00", "2019-04-26T05:10:01", "second"),
    ("Thu, 25 Apr 2019 06:10 +0200", "2019-04-25T04:10", "2019-04-25T04:11", "minute"),
    ("Thu, 25 Apr 2019 06:10:00 -0000", "2019-04-25T06:10:00", "2019-04-25T06:10:01", "second"),
    ("25 Apr 2019 06:10:00 +0200", "2019-04-25T04:10:00", "2019-04-25T04:10:01", "second"),
    ("Mon, 25 Apr 2019 06:10:00 +0200", "2019-04-25T04:10:00", "2019-04-25T04:10:01", "second"),
    ("Thu, 25 Apr 19 06:10:00 +0200", "2019-04-25T04:10:00", "2019-04-25T04:10:01", "second"),
    ("Fri, 5 Apr 2019 06:10:00 +0200", "2019-04-05T04:10:00", "2019-04-05T04:10:01", "second"),
    ("Thu,25 Apr 2019 06:10:00 +0200 (CEST)", "2019-04-25T04:10:00", "2019-04-25T04:10:01",
     "second"),
    ("Thu Apr 25 06:10:00 2019", "2019-04-25T04:10:00", "2019-04-25T04:10:01", "second"),
    ("Thu Apr 25 2019 06:10:00 GMT+0200 (Central European Summer Time)",
     "2019-04-25T04:10:00", "2019-04-25T04:10:01", "second"),
    # zone names and DST: CET in winter, CEST in summer, whatever the default zone says
    ("25 Jan 2019 06:10 CET", "2019-01-25T05:10", "2019-01-25T05:11", "minute"),
    ("25 Apr 2019 06:10 CEST", "2019-04-25T04:10", "2019-04-25T04:11", "minute"),
    ("2019-01-25 06:10", "2019-01-25T05:10", "2019-01-25T05:11", "minute"),  # Oslo winter
    ("2019-04-25 06:10", "2019-04-25T04:10", "2019-04-25T04:11", "minute"),  # Oslo summer
    ("2019-03-31", "2019-03-30T23:00", "2019-03-31T22:00", "day"),  # 23-hour day
    ("2019-10-27", "2019-10-26T22:00", "2019-10-27T23:00", "day"),  # 25-hour day
    ("2019-03", "2019-02-28T23:00", "2019-03-31T22:00", "month"),
    ("2019-10", "2019-09-30T22:00", "2019-10-31T23:00", "month"),
    # Norwegian written forms
    ("25. april 2019", "2019-04-24T22:00", "2019-04-25T22:00", "day"),
    ("torsdag 25. april 2019 kl. 06.10", "2019-04-25T04:10", "2019-04-25T04:11", "minute"),
    ("Torsdag 25. april 2019 klokken 06:10", "2019-04-25T04:10", "2019-04-25T04:11", "minute"),
    ("25.04.2019", "2019-04-24T22:00", "2019-04-25T22:00", "day"),
    ("25.04.2019 kl. 06:10", "2019-04-25T04:10", "2019-04-25T04:11", "minute"),
    ("25.04.2019 06:10:30", "2019-04-25T04:10:30", "2019-04-25T04:10:31", "second"),
    ("april 2019", "2019-03-31T22:00", "2019-04-30T22:00", "month"),
    ("25. apr. 2019", "2019-04-24T22:00", "2019-04-25T22:00", "day"),
    ("17. mai 2019", "2019-05-16T22:00", "2019-05-17T22:00", "day"),
    ("mai 2019", "2019-04-30T22:00", "2019-05-31T22:00", "month"),
    ("okt. 2019", "2019-09-30T22:00", "2019-10-31T23:00", "month"),
    ("5. des 2019", "2019-12-04T23:00", "2019-12-05T23:00", "day"),
    ("mandag 1. juli 2019", "2019-06-30T22:00", "2019-07-01T22:00", "day"),
    ("tirsdag 2. juli 2019", "2019-07-01T22:00", "2019-07-02T22:00", "day"),
    ("onsdag 3. juli 2019", "2019-07-02T22:00", "2019-07-03T22:00", "day"),
    ("fredag 5. juli 2019", "2019-07-04T22:00", "2019-07-05T22:00", "day"),
    ("lørdag 6. juli 2019", "2019-07-05T22:00", "2019-07-06T22:00", "day"),
    ("søndag 7. juli 2019", "2019-07-06T22:00", "2019-07-07T22:00", "day"),
    ("Publisert: 25.04.2019 kl. 06.10", "2019-04-25T04:10", "2019-04-25T04:11", "minute"),
    # English written forms
    ("April 25, 2019", "2019-04-24T22:00", "2019-04-25T22:00", "day"),
    ("25 April 2019 6:10 pm", "2019-04-25T16:10", "2019-04-25T16:11", "minute"),
    ("25 April 2019 12:05 am", "2019-04-24T22:05", "2019-04-24T22:06", "minute"),
    ("April 25th, 2019 at 6:10 p.m. EDT", "2019-04-25T22:10", "2019-04-25T22:11", "minute"),
    ("Thursday, April 25, 2019", "2019-04-24T22:00", "2019-04-25T22:00", "day"),
    ("sept 2019", "2019-08-31T22:00", "2019-09-30T22:00", "month"),
    ("Sept. 9, 2019", "2019-09-08T22:00", "2019-09-09T22:00", "day"),
    ("25-Apr-2019", "2019-04-24T22:00", "2019-04-25T22:00", "day"),
    ("25th of April, 2019", "2019-04-24T22:00", "2019-04-25T22:00", "day"),
    ("2019 April 25", "2019-04-24T22:00", "2019-04-25T22:00", "day"),
    ("18:10, 25. april 2019", "2019-04-25T16:10", "2019-04-25T16:11", "minute"),
    # numeric with slashes: only when the order is certain
    ("2019/04/25", "2019-04-24T22:00", "2019-04-25T22:00", "day"),
    ("25/04/2019", "2019-04-24T22:00", "2019-04-25T22:00", "day"),
    ("04/25/2019", "2019-04-24T22:00", "2019-04-25T22:00", "day"),
]


@pytest.mark.parametrize(("raw", "start", "end", "precision"), CASES, ids=[c[0] for c in CASES])
def test_parse_date_table(raw: str, start: str, end: str, precision: str) -> None:
    date = parse_date(raw, source="feed")
    assert (date.start, date.end, date.precision) == (z(start), z(end), precision)
    assert date.start.tzinfo is UTC and date.end.tzinfo is UTC
    assert date.raw == raw
    assert date.source == "feed"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("2019-13", "month 13"),
        ("2019-02-30", "day 30"),
        ("2019-00", "month 0"),
        ("2019-04-00", "day 0"),
        ("2019-04-25T24:00", "out of range"),
        ("2019-04-25T06:10+25:00", "offset"),
        ("30. februar 2019", "day 30"),
        ("Sat, 29 Feb 2019 10:00:00 +0000", "day 29"),
        ("", "empty"),
        ("   ", "empty"),
        ("garbage", "not a recognised"),
        ("not a date at all", "not a recognised"),
        ("25. april", "not a recognised"),  # no year: never guess one
        ("6 pm", "not a recognised"),
        ("04/05/2019", "ambiguous"),  # 4 May or April 5: refuse
        ("25 April 2019 06:10 XYZ", "unknown time zone"),
        ("25 April 2019 06:10 IST", "unknown time zone"),  # India, Ireland or Israel
        ("25 April 2019 13:10 pm", "hour 13"),
        ("mandag", "not a recognised"),
        ("9999", "range"),
    ],
)
def test_parse_date_refuses(raw: str, reason: str) -> None:
    with pytest.raises(DateError) as info:
        parse_date(raw)
    assert reason in info.value.reason
    assert info.value.raw == raw


def test_non_string_raises_date_error() -> None:
    with pytest.raises(DateError):
        parse_date(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", ["2019", "2019-04", "april 2019", "apr. 2019", "2019 April",
                                 "mai 2019", "Published: sept 2019"])
def test_year_or_month_never_becomes_a_day(raw: str) -> None:
    date = parse_date(raw)
    assert date.precision in ("year", "month")
    assert date.end - date.start >= timedelta(days=28)


def test_default_tz_moves_the_interval() -> None:
    oslo = parse_date("2019-04-25")
    utc = parse_date("2019-04-25", default_tz="UTC")
    ny = parse_date("2019-04-25 06:10", default_tz="America/New_York")
    assert (utc.start, utc.end) == (z("2019-04-25T00:00"), z("2019-04-26T00:00"))
    assert oslo.start == utc.start - timedelta(hours=2)
    assert ny.start == z("2019-04-25T10:10")


def test_written_zone_beats_default_tz() -> None:
    date = parse_date("2019-04-25T06:10:00Z", default_tz="America/New_York")
    assert date.start == z("2019-04-25T06:10")


def test_unknown_default_tz_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        parse_date("2019-04-25", default_tz="Mars/Olympus")


def test_interval_end_in_wall_time() -> None:
    # the night DST starts in Oslo: the local day is 23 hours
    start = z("2019-03-30T23:00")
    assert interval_end(start, "day") == z("2019-03-31T22:00")
    assert interval_end(start, "day", "UTC") == z("2019-03-31T23:00")
    assert interval_end(z("2019-12-31T23:00"), "month") == z("2020-01-31T23:00")
    assert interval_end(z("2019-12-31T23:00"), "year") == z("2020-12-31T23:00")
    assert interval_end(z("2019-04-25T04:10"), "minute") == z("2019-04-25T04:11")
    assert interval_end(z("2019-04-25T04:10:05"), "second") == z("2019-04-25T04:10:06")
    with pytest.raises(ValueError):
        interval_end(datetime(2019, 4, 25), "day")


def test_date_interval_ignores_finer_fields() -> None:
    start, end = date_interval(datetime(2019, 4, 25, 6, 10), "month")
    assert (start, end) == (z("2019-03-31T22:00"), z("2019-04-30T22:00"))
    aware = datetime(2019, 4, 25, 4, 10, 59, 999, tzinfo=UTC)
    assert date_interval(aware, "minute", "UTC") == (z("2019-04-25T04:10"), z("2019-04-25T04:11"))


def test_from_datetime() -> None:
    fetched = from_datetime(datetime(2026, 11, 23, 12, 0, 1, 500, tzinfo=UTC))
    assert fetched.source == "fetched" and fetched.precision == "second"
    assert (fetched.start, fetched.end) == (z("2026-11-23T12:00:01"), z("2026-11-23T12:00:02"))


NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


def test_check_bounds_drops_before_1990() -> None:
    date = parse_date("1970-01-01")
    kept, note = check_bounds(date, now=NOW, on_future="clamp")
    assert kept is None
    assert note == "date 1970-01-01 is before 1990: dropped"


def test_check_bounds_keeps_1990() -> None:
    date = parse_date("1990")
    assert check_bounds(date, now=NOW, on_future="clamp") == (date, None)


@pytest.mark.parametrize("raw", ["2090-01-01", "Sun, 01 Jan 2090 00:00:00 GMT", "2090"])
def test_check_bounds_clamps_the_future(raw: str) -> None:
    date = parse_date(raw, source="feed")
    clamped, note = check_bounds(date, now=NOW, on_future="clamp")
    assert clamped == PublishedDate(start=NOW, end=NOW + timedelta(seconds=1),
                                    precision="second", source="fetched", raw=raw)
    assert note is not None and raw in note and "clamped" in note and "2026-11-23T12:00:00Z" in note


def test_check_bounds_drops_the_future_when_asked() -> None:
    date = parse_date("2090-01-01")
    dropped, note = check_bounds(date, now=NOW, on_future="drop")
    assert dropped is None
    assert note == "date 2090-01-01 is more than a day in the future: dropped"


def test_check_bounds_allows_a_day_of_slack_and_coarse_dates_holding_now() -> None:
    tomorrow = parse_date("2026-11-24T11:00:00Z")
    this_year = parse_date("2026")
    for date in (tomorrow, this_year):
        assert check_bounds(date, now=NOW, on_future="drop") == (date, None)
    later = parse_date("2026-11-24T12:00:01Z")
    assert check_bounds(later, now=NOW, on_future="drop")[0] is None


def test_check_bounds_needs_an_aware_now() -> None:
    with pytest.raises(ValueError):
        check_bounds(parse_date("2019"), now=datetime(2026, 1, 1), on_future="clamp")


_DATEISH = st.text(alphabet="0123456789-:.,/ TZtz+apmkl()", max_size=30)
_WORDISH = st.lists(
    st.sampled_from(["2019", "04", "25", "31", "99", "-", ":", " ", "T", "Z", "+02:00", "apr",
                     "april", "mai", "kl.", "06.10", "06:10", "pm", "GMT", "CEST", "(", ")",
                     ".", ",", "/", "Thu,", "mandag", "of", "th", "GMT+2", "jst"]),
    max_size=8,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=60), _DATEISH, _WORDISH))
def test_parse_date_only_raises_date_error(raw: str) -> None:
    try:
        date = parse_date(raw)
    except DateError:
        return
    assert date.start < date.end
    assert date.precision in PRECISIONS
    assert date.start.tzinfo is UTC and date.end.tzinfo is UTC


def test_fixed_offset_day_interval() -> None:
    # a written offset also defines the day: 25 April in UTC-05:00
    date = parse_date("2019-04-25-05:00")
    assert date.precision == "day"
    assert (date.start, date.end) == (datetime(2019, 4, 25, tzinfo=timezone(timedelta(hours=-5))),
                                      datetime(2019, 4, 26, tzinfo=timezone(timedelta(hours=-5))))
