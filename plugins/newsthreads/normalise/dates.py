"""Publication dates: a raw string becomes a UTC interval with a precision, never an invented day.

Decisions (the reasons are the point; change them only with better ones):

- **An interval, not a point.** ``2019-04`` is every instant of April 2019; storing 2019-04-01
  would claim a day nobody wrote. ``PublishedDate`` holds [start, end) in UTC and a precision
  (``year|month|day|minute|second``).
- **Coarse intervals are computed in the date's local zone**: the zone written in the string,
  else ``default_tz`` (Europe/Oslo, DST-aware). ``25. april 2019`` means the Norwegian day, so it
  is [2019-04-24T22:00Z, 2019-04-25T22:00Z); ``april 2019`` is [2019-03-31T22:00Z,
  2019-04-30T22:00Z). A UTC day would start at 02:00 Oslo time and cut articles off their day.
  ``minute``/``second`` dates are [t, t+1 min) / [t, t+1 s); fractional seconds are dropped.
- **Strict patterns, compiled once.** ISO 8601 and the written forms feeds and Norwegian sites
  use (RFC 822/2822 with its sloppy variants, ``25. april 2019 kl. 06.10``,
  ``April 25, 2019 6:10 pm``...) are read by a few anchored regexes compiled at import: ~10 us a
  date, and every field we return was in the string. A last, order-free reader takes what is
  left when it holds exactly one month name, one four-digit year, at most one day and one time.
- **Libraries checked and not used.** ``email.utils.parsedate_to_datetime`` reads an unknown
  zone (``JST``, even ``CEST``) as "no zone" and returns a naive time: a silent shift.
  ``dateutil.parser`` fills missing fields from a default (an invented day) and, given fuzzed
  input, read ``99.2019 April`` as April 1999; guarding it needed a vocabulary check as strict
  as the reader that replaced it.
- **Refuse rather than guess.** Ambiguous numeric dates (``04/05/2019``), unknown zone names, a
  time without a day, a day without a year all raise ``DateError``. A wrong weekday is ignored
  (feeds get it wrong often; the numbers are more reliable).
- A local time inside a DST gap or overlap is read with Python's ``fold=0`` rule (the offset in
  force before the transition); a sloppy clock is likelier than a fabricated date.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from newsthreads.errors import DateError
from newsthreads.model import DateSource, Precision, PublishedDate

__all__ = [
    "DEFAULT_TZ",
    "MIN_DATE",
    "PRECISIONS",
    "check_bounds",
    "date_interval",
    "from_datetime",
    "interval_end",
    "parse_date",
]

DEFAULT_TZ = "Europe/Oslo"
PRECISIONS: tuple[Precision, ...] = ("year", "month", "day", "minute", "second")
MIN_DATE = datetime(1990, 1, 1, tzinfo=UTC)  # earlier dates are epoch-zero or typos
FUTURE_SLACK = timedelta(days=1)  # clocks and zones disagree by hours, not days
MAX_RAW_CHARS = 200  # longer input is not a date; also bounds regex work

_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    [
        ("january", "januar", "jan"),
        ("february", "februar", "feb", "febr"),
        ("march", "mars", "mar"),
        ("april", "apr"),
        ("may", "mai"),
        ("june", "juni", "jun"),
        ("july", "juli", "jul"),
        ("august", "aug"),
        ("september", "sep", "sept"),
        ("october", "oktober", "oct", "okt"),
        ("november", "nov"),
        ("december", "desember", "dec", "des"),
    ],
    start=1,
):
    for _name in _names:
        _MONTHS[_name] = _number

_WEEKDAYS = (
    "monday tuesday wednesday thursday friday saturday sunday "
    "mon tue tues wed thu thur thurs fri sat sun "
    "mandag tirsdag onsdag torsdag fredag lørdag søndag lordag sondag "
    "måndag tysdag laurdag sundag "  # nynorsk
    "man tir tirs ons tor tors fre lør søn"
).split()

# Zone abbreviations, minutes east of UTC. RFC 822 names the US zones; the European ones are what
# Norwegian sites print. Ambiguous abbreviations (IST: India, Ireland or Israel) are left out on
# purpose, so they raise instead of being guessed.
_ZONES: dict[str, int] = {
    "z": 0, "ut": 0, "utc": 0, "gmt": 0, "wet": 0,
    "west": 60, "bst": 60, "cet": 60, "met": 60, "mez": 60,
    "cest": 120, "mest": 120, "mesz": 120, "eet": 120,
    "eest": 180, "msk": 180,
    "est": -300, "edt": -240, "cst": -360, "cdt": -300,
    "mst": -420, "mdt": -360, "pst": -480, "pdt": -420,
    "akst": -540, "akdt": -480, "hst": -600, "ast": -240, "adt": -180,
    "jst": 540, "kst": 540, "hkt": 480, "sgt": 480,
    "aest": 600, "aedt": 660, "nzst": 720, "nzdt": 780,
}

# --- patterns, compiled once -------------------------------------------------------------------
_D = "[0-9]"
_ZONE_RE = (
    rf"(?P<tz>z|[+-]{_D}{{2}}(?::?{_D}{{2}})?"
    rf"|(?:gmt|utc|ut)\s?[+-]{_D}{{1,2}}(?::?{_D}{{2}})?|[^\W\d_]{{2,5}})"
)
_ISO = re.compile(
    rf"""(?P<y>{_D}{{4}})
    (?:-(?P<m>{_D}{{2}})
      (?:-(?P<d>{_D}{{2}})
        (?:(?:[t\s]\s*)(?P<H>{_D}{{2}}):(?P<M>{_D}{{2}})
          (?::(?P<S>{_D}{{2}})(?:[.,](?P<f>{_D}{{1,9}}))?)?
        )?
        (?:\s*{_ZONE_RE})?
      )?
    )?""",
    re.X,
)
_ISO_BASIC = re.compile(
    rf"""(?P<y>{_D}{{4}})(?P<m>{_D}{{2}})(?P<d>{_D}{{2}})
    (?:t(?P<H>{_D}{{2}})(?P<M>{_D}{{2}})(?:(?P<S>{_D}{{2}})(?:[.,](?P<f>{_D}{{1,9}}))?)?)?
    (?:\s*{_ZONE_RE})?""",
    re.X,
)
_TIME_RE = (
    rf"(?P<H>{_D}{{1,2}})(?:[:.](?P<M>{_D}{{2}})"
    rf"(?:[:.](?P<S>{_D}{{2}})(?:[.,](?P<f>{_D}{{1,9}}))?)?)?"
    r"(?:\s*(?P<ap>[ap]\.?\s?m\.?))?"
)
# What may follow a date: an optional time (after "kl.", "at", a comma...) and an optional zone.
_TAIL_RE = (
    rf"(?:(?:\s*,\s*|\s+|\s*-\s*)(?:(?:kl\.?|klokken|klokka|at|@|um)\s*)?{_TIME_RE})?"
    rf"(?:\s*{_ZONE_RE})?"
)
_WORD = r"[^\W\d_]+"
_YEAR = rf"(?P<y>{_D}{{4}}|{_D}{{2}})(?!{_D})"
_ORD = r"(?:st|nd|rd|th)"
_WRITTEN = [
    # 25. april 2019 | 25 Apr 2019 06:10:00 +0200 | 25-Apr-19 | 25th of April 2019
    ("dmy", re.compile(
        rf"(?P<d>{_D}{{1,2}})(?:\.\s*|{_ORD}?[\s-]+)(?:of\s+)?(?P<mon>{_WORD})(?:\.\s*|[\s,-]+)"
        rf"{_YEAR}"
        + _TAIL_RE)),
    # April 25, 2019 | Apr 25 2019 06:10:00 GMT+0200
    ("mdy", re.compile(
        rf"(?P<mon>{_WORD})(?:\.\s*|[\s-]+)(?P<d>{_D}{{1,2}}){_ORD}?[\s,-]+(?P<y>{_D}{{4}})(?!{_D})"
        + _TAIL_RE)),
    # asctime: Apr 25 06:10:00 2019
    ("mdty", re.compile(
        rf"(?P<mon>{_WORD})\.?\s+(?P<d>{_D}{{1,2}})\s+{_TIME_RE}(?:\s+{_ZONE_RE})?"
        rf"\s+(?P<y>{_D}{{4}})")),
    # april 2019 | apr. 2019 (month precision; a time here would have no day, so none allowed)
    ("my", re.compile(rf"(?P<mon>{_WORD})(?:\.\s*|[\s,-]+)(?P<y>{_D}{{4}})(?!{_D})")),
    # 25.04.2019 kl. 06:10 | 25.04.19
    ("dmy_num", re.compile(
        rf"(?P<d>{_D}{{1,2}})\.\s?(?P<m>{_D}{{1,2}})\.\s?{_YEAR}" + _TAIL_RE)),
    # 2019/04/25 | 2019.04.25
    ("ymd_num", re.compile(
        rf"(?P<y>{_D}{{4}})(?P<sep>[/.])(?P<m>{_D}{{1,2}})(?P=sep)(?P<d>{_D}{{1,2}})"
        + _TAIL_RE)),
    # 25/04/2019 or 04/25/2019: read only when one order is impossible
    ("amb_num", re.compile(
        rf"(?P<a>{_D}{{1,2}})(?P<sep>[/-])(?P<b>{_D}{{1,2}})(?P=sep)(?P<y>{_D}{{4}})(?!{_D})"
        + _TAIL_RE)),
]
_WEEKDAY_PREFIX = re.compile(
    r"(?:" + "|".join(sorted(_WEEKDAYS, key=len, reverse=True)) + r")\.?\s*,?\s*(?:den\s+)?"
)
_PREFIX = re.compile(r"(?:publisert|published|posted|publ\.)\s*:?\s*")
_COMMENT = re.compile(r"\s*\([^()]*\)\s*$")  # RFC 2822 "+0200 (CEST)"
_SPACES = re.compile(r"\s+")
_WEEKDAY_SET = frozenset(_WEEKDAYS)

_SECOND = timedelta(seconds=1)
_MINUTE = timedelta(minutes=1)


# --- public API --------------------------------------------------------------------------------
def parse_date(
    raw: str, *, source: DateSource = "text", default_tz: str = DEFAULT_TZ
) -> PublishedDate:
    """Read ``raw`` into a ``PublishedDate`` ([start, end) in UTC, precision, ``raw`` kept).

    Raises ``DateError`` (and nothing else for any string) when the text is not a date we can
    read without guessing, or names an impossible one (``2019-13``, ``2019-02-30``).
    ``default_tz`` is the zone of a date that names none; an unknown ``default_tz`` is a
    programming error and raises ``ValueError``.
    """
    default_zone = _zone(default_tz)
    if not isinstance(raw, str):
        raise DateError(repr(raw), "not a string")
    if not raw.strip():
        raise DateError(raw, "empty")
    text = _normalise(raw)
    if not text:
        raise DateError(raw, "not a recognised date format")
    if len(text) > MAX_RAW_CHARS:
        raise DateError(raw[:60] + "...", f"longer than {MAX_RAW_CHARS} characters")
    try:
        fields = _read_fields(text, raw)
        if fields is None:
            fields = _read_loose(text, raw)
        return _build(fields, raw, source, default_zone)
    except (ValueError, OverflowError) as exc:  # safety net: datetime arithmetic at the edges
        raise DateError(raw, str(exc)) from exc


def date_interval(
    local: datetime, precision: Precision, tz: tzinfo | str = DEFAULT_TZ
) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the ``precision``-sized period holding ``local``.

    A naive ``local`` is wall time in ``tz``; an aware one is first converted to ``tz``.
    Fields finer than ``precision`` are ignored (``2019-04-25 06:10`` at month precision is
    April 2019), so a coarse date can never carry an invented day.
    """
    zone = _zone(tz) if isinstance(tz, str) else tz
    if local.tzinfo is not None:
        local = local.astimezone(zone).replace(tzinfo=None)
    if precision == "year":
        wall = datetime(local.year, 1, 1)
    elif precision == "month":
        wall = datetime(local.year, local.month, 1)
    elif precision == "day":
        wall = datetime(local.year, local.month, local.day)
    elif precision == "minute":
        wall = local.replace(second=0, microsecond=0)
    elif precision == "second":
        wall = local.replace(microsecond=0)
    else:
        raise ValueError(f"unknown precision {precision!r}")
    start = wall.replace(tzinfo=zone).astimezone(UTC)
    return start, interval_end(start, precision, zone)


def interval_end(start: datetime, precision: Precision, tz: tzinfo | str = DEFAULT_TZ) -> datetime:
    """The UTC end of the interval that begins at ``start`` (aware) with ``precision``.

    Years, months and days are added in wall time of ``tz`` (so an Oslo day in which DST
    starts is 23 hours long); minutes and seconds are plain durations.
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if precision == "second":
        return (start + _SECOND).astimezone(UTC)
    if precision == "minute":
        return (start + _MINUTE).astimezone(UTC)
    zone = _zone(tz) if isinstance(tz, str) else tz
    wall = start.astimezone(zone).replace(tzinfo=None)
    if precision == "day":
        nxt = wall + timedelta(days=1)
    elif precision == "month":
        nxt = (wall.replace(year=wall.year + 1, month=1) if wall.month == 12
               else wall.replace(month=wall.month + 1))
    elif precision == "year":
        nxt = wall.replace(year=wall.year + 1)
    else:
        raise ValueError(f"unknown precision {precision!r}")
    return nxt.replace(tzinfo=zone).astimezone(UTC)


def from_datetime(
    value: datetime,
    *,
    precision: Precision = "second",
    source: DateSource = "fetched",
    tz: tzinfo | str = DEFAULT_TZ,
    raw: str | None = None,
) -> PublishedDate:
    """A ``PublishedDate`` from a datetime we already hold (a fetch time, a DB value).

    A naive ``value`` is wall time in ``tz``.
    """
    start, end = date_interval(value, precision, tz)
    return PublishedDate(start=start, end=end, precision=precision, source=source, raw=raw)


def check_bounds(
    date: PublishedDate,
    *,
    now: datetime,
    on_future: Literal["clamp", "drop"] = "clamp",
) -> tuple[PublishedDate | None, str | None]:
    """Sanity bounds: ``(date, None)`` when sane, else the replacement (or None) and a note.

    - Whole interval before 1990-01-01 (UTC): dropped. Such dates are epoch zero, a default
      value or a typo, never a real news date in our archives.
    - Start more than a day after ``now``: clamped to ``now`` (source ``fetched``, precision
      ``second``) or dropped, per ``on_future``. The start is compared, not the end, so a coarse
      date that contains today (``2026``) is not future. A day of slack absorbs zone mistakes.
    The caller keeps the raw string; the note says what happened, for the article's row.
    """
    if on_future not in ("clamp", "drop"):
        raise ValueError(f"on_future must be 'clamp' or 'drop', not {on_future!r}")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    label = _label(date)
    if date.end <= MIN_DATE:
        return None, f"date {label} is before 1990: dropped"
    if date.start > now + FUTURE_SLACK:
        if on_future == "drop":
            return None, f"date {label} is more than a day in the future: dropped"
        start = now.astimezone(UTC).replace(microsecond=0)
        clamped = PublishedDate(start=start, end=start + _SECOND, precision="second",
                                source="fetched", raw=date.raw)
        return clamped, (f"date {label} is more than a day in the future: "
                         f"clamped to fetch time {start.isoformat().replace('+00:00', 'Z')}")
    return date, None


# --- internals ---------------------------------------------------------------------------------
_Fields = dict  # y, m, d, H, M, S (ints or None), tz (tzinfo or None)


@lru_cache(maxsize=64)
def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


@lru_cache(maxsize=256)
def _fixed(minutes: int) -> tzinfo:
    return UTC if minutes == 0 else timezone(timedelta(minutes=minutes))


def _normalise(raw: str) -> str:
    text = raw.strip()
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    text = _SPACES.sub(" ", text.lower())
    text = _COMMENT.sub("", text)
    if m := _PREFIX.match(text):
        text = text[m.end():]
    if m := _WEEKDAY_PREFIX.match(text):
        # only a whole word: "mars 2019" must not lose "mar" as a weekday-like prefix
        rest = text[m.end():]
        if not rest or not rest[0].isalpha() or text[m.end() - 1] in " .,":
            text = rest
    return text.strip(" ,")


def _read_fields(text: str, raw: str) -> _Fields | None:
    """Fields from our strict patterns; None when no pattern matches the whole string."""
    for pattern in (_ISO, _ISO_BASIC):
        m = pattern.fullmatch(text)
        if m:
            g = m.groupdict()
            return _fields(raw, g["y"], g["m"], g["d"], g["H"], g["M"], g["S"], None, g["tz"])
    for kind, pattern in _WRITTEN:
        m = pattern.fullmatch(text)
        if not m:
            continue
        g = m.groupdict()
        if kind == "amb_num":
            a, b = int(g["a"]), int(g["b"])
            if a > 12 >= b:
                day, month = a, b
            elif b > 12 >= a:
                day, month = b, a
            elif a == b:
                day = month = a
            else:
                raise DateError(raw, "day and month order is ambiguous")
            g["d"], g["m"] = str(day), str(month)
        if "mon" in g:
            month_number = _MONTHS.get(g["mon"])
            if month_number is None:
                continue  # not a month name: let another pattern (or the fallback) try
            g["m"] = str(month_number)
        return _fields(raw, g["y"], g["m"], g.get("d"), g.get("H"), g.get("M"), g.get("S"),
                       g.get("ap"), g.get("tz"))
    return None


def _fields(raw: str, y, m, d, hh, mm, ss, ampm, zone) -> _Fields:
    year = int(y)
    if len(y) == 2:  # RFC 2822 section 4.3: 00-49 are 20xx, 50-99 are 19xx
        year += 2000 if year < 50 else 1900
    hour = None if hh is None else int(hh)
    minute = None if mm is None else int(mm)
    if hour is not None and minute is None:
        if ampm is None:
            raise DateError(raw, "an hour without minutes")
        minute = 0  # "6 pm" says 18:00
    if ampm is not None:
        if not 1 <= hour <= 12:
            raise DateError(raw, f"hour {hour} with {ampm.replace(' ', '')}")
        hour = hour % 12 + (12 if ampm.startswith("p") else 0)
    return {
        "y": year,
        "m": None if m is None else int(m),
        "d": None if d is None else int(d),
        "H": hour,
        "M": minute,
        "S": None if ss is None else int(ss),
        "tz": None if zone is None else _parse_zone(zone, raw),
    }


def _parse_zone(token: str, raw: str) -> tzinfo:
    token = token.replace(" ", "")
    if token in _ZONES:
        return _fixed(_ZONES[token])
    body = token
    for prefix in ("gmt", "utc", "ut"):
        if body.startswith(prefix):
            body = body[len(prefix):]
            break
    if body[:1] in ("+", "-") and body[1:].replace(":", "").isdigit():
        digits = body[1:].replace(":", "")
        if len(digits) <= 2:
            hours, minutes = int(digits), 0
        elif len(digits) == 4:
            hours, minutes = int(digits[:2]), int(digits[2:])
        else:
            raise DateError(raw, f"unreadable UTC offset {token!r}")
        if hours > 14 or minutes > 59:
            raise DateError(raw, f"UTC offset {token!r} is out of range")
        total = hours * 60 + minutes
        return _fixed(-total if body[0] == "-" else total)
    raise DateError(raw, f"unknown time zone {token!r}")


def _precision(f: _Fields, raw: str) -> Precision:
    if f["m"] is None:
        if f["d"] is not None or f["H"] is not None:
            raise DateError(raw, "a day or time without a month")
        return "year"
    if f["d"] is None:
        if f["H"] is not None:
            raise DateError(raw, "a time without a day")
        return "month"
    if f["H"] is None:
        return "day"
    return "minute" if f["S"] is None else "second"


def _build(f: _Fields, raw: str, source: DateSource, default_zone: tzinfo) -> PublishedDate:
    precision = _precision(f, raw)
    year = f["y"]
    month = 1 if f["m"] is None else f["m"]
    day = 1 if f["d"] is None else f["d"]
    if year < 1:
        raise DateError(raw, "year 0 does not exist")
    if not 1 <= month <= 12:
        raise DateError(raw, f"month {month} is out of range")
    last = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last:
        raise DateError(raw, f"day {day} is out of range for {year:04d}-{month:02d}")
    hour, minute, second = f["H"] or 0, f["M"] or 0, f["S"] or 0
    if hour > 23 or minute > 59 or second > 59:
        raise DateError(raw, f"time {hour:02d}:{minute:02d}:{second:02d} is out of range")
    zone = f["tz"] or default_zone
    try:
        start, end = date_interval(datetime(year, month, day, hour, minute, second),
                                   precision, zone)
    except (OverflowError, ValueError) as exc:
        raise DateError(raw, "outside the range of representable dates") from exc
    return PublishedDate(start=start, end=end, precision=precision, source=source, raw=raw)


def _label(date: PublishedDate) -> str:
    if date.raw and date.raw.strip():
        text = _SPACES.sub(" ", date.raw.strip())
        return text if len(text) <= 60 else text[:57] + "..."
    return date.start.isoformat().replace("+00:00", "Z")


# --- the loose reader, the last resort --------------------------------------------------------
_LOOSE_TOKEN = re.compile(
    rf"""(?P<time>{_D}{{1,2}}:{_D}{{2}}(?::{_D}{{2}}(?:[.,]{_D}{{1,9}})?)?)(?!{_D})
    |(?<=\s)(?P<offset>[+-]{_D}{{2}}:?{_D}{{2}})(?!{_D})
    |(?<![^\W\d_])(?P<num>{_D}+)(?:\.|{_ORD})?(?![^\W_])
    |(?P<ap>[ap]\.m\.|[ap]m\b)
    |(?<!{_D})(?P<word>{_WORD})\.?
    |(?P<sep>[\s,/-]+)
    |(?P<other>.)""",
    re.X,
)
_FILLER = frozenset({"at", "of", "the", "on", "kl", "klokken", "klokka", "den", "om"})


def _read_loose(text: str, raw: str) -> _Fields:
    """Any order of one month name, one four-digit year, at most one day and one time.

    For what the strict patterns miss (``2019 April 25``, ``18:10, 25. april 2019``). Every
    token must be known; with one number of each kind nothing can be assigned the wrong role.
    dateutil was tried here first and dropped: with fuzzed input it read ``99.2019 April`` as
    April 1999 and ``2019 April06.10,at2019`` as 18:19, guesses no guard can see afterwards.
    """
    month = year = day = time = ampm = zone = None
    for m in _LOOSE_TOKEN.finditer(text):
        kind, value = m.lastgroup, m.group(m.lastgroup)
        if kind == "sep":
            continue
        if kind == "num":
            if len(value) == 4 and year is None:
                year = value
            elif len(value) <= 2 and day is None:
                day = value
            else:
                break
        elif kind == "word":
            if value in _MONTHS and month is None:
                month = _MONTHS[value]
            elif value in _ZONES and zone is None:
                zone = value
            elif value not in _FILLER and value not in _WEEKDAY_SET:
                break
        elif kind == "time" and time is None:
            time = value
        elif kind == "ap" and ampm is None and time is not None:
            ampm = value
        elif kind == "offset" and zone is None and time is not None:
            zone = value
        else:
            break
    else:
        if month is not None and year is not None and (zone is None or time is not None):
            hh = mm = ss = None
            if time is not None:
                hh, mm, *rest = time.replace(",", ".").split(":")
                ss = rest[0].split(".")[0] if rest else None
            return _fields(raw, year, str(month), day, hh, mm, ss, ampm, zone)
    raise DateError(raw, "not a recognised date format")
