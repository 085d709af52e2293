"""The structure of a dropped article file (the seeds/ format), recovered from plain text.

Real drops vary: an optional first line `` date 2019-04`` (or ``Dato: 25. april 2019``)
followed on the same line by a section word or a photo caption (``... Foto: NAME / AGENCY``)
or the first paragraph; an optional title line, byline and lead; a kicker glued to a paragraph
(``Krig og konflikter: ...``); short lines inside the body that are subheadings; photo captions
between paragraphs; agency credits such as ``(©NTB)``, ``NTB/AFP`` or a wire dateline
``MOSCOW (AP) —``; tweet placeholders and trailing blank lines. Paragraphs are lines: files use
either blank-line or single-newline separation, and both put one paragraph on a line.

Each rule errs towards leaving text in the body: a part taken wrongly out of the body (a
sentence read as a kicker, a title read as a date) loses words the threading needs, while a
part left in only costs a field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import islice

from newsthreads.errors import DateError
from newsthreads.normalise.dates import parse_date

AGENCIES = {
    "ntb": "NTB", "afp": "AFP", "reuters": "Reuters", "ap": "AP", "anb": "ANB", "tt": "TT",
    "ritzau": "Ritzau", "dpa": "dpa", "bloomberg": "Bloomberg", "efe": "EFE", "ansa": "ANSA",
    "xinhua": "Xinhua", "tass": "TASS", "yonhap": "Yonhap",
}
SECTIONS = frozenset(
    """utenriks innenriks nyheter sport økonomi kultur politikk debatt meninger verden norge
    world news business politics sports culture opinion""".split()
)

_DATE_LINE = re.compile(r"^\s*(?:date|dato)\s*:?\s+(?P<rest>\S.*)$", re.IGNORECASE)
_DATE_TOKENS = 6  # the longest date we look for on a date line, in words
_SECTION = re.compile(r"^[a-zæøåäöü][a-zæøåäöü-]{1,30}$")
_PHOTO_CREDIT = re.compile(r"\b(?:Foto|Photo|Bilde|Fotograf)\s*:\s*(.+?)\s*$", re.IGNORECASE)
# Inside the body a caption must look like one: the credit starts the paragraph or follows a
# sentence, with a capitalised keyword and a short name list after it, no sentence of its own.
_CAPTION_TAIL = re.compile(
    r"(?:^|(?<=[.!?»\"])\s+|\(\s*)(?:Foto|FOTO|Photo|PHOTO|Bilde|Fotograf)\s*:\s*"
    r"[A-ZÆØÅ][^.!?:;]{1,80}?\)?\s*$"
)
_CREDIT_LINE = re.compile(
    r"^\(?\s*(?P<copy>©|\(c\)|copyright)?\s*(?P<name>[A-Za-zÆØÅæøå][\w .&/,+-]{0,30}?)\s*\)?\s*$",
    re.IGNORECASE,
)
_TRAILING_CREDIT = re.compile(r"\s*\(\s*©?\s*(?P<name>[A-Za-z][A-Za-z /+-]{1,30})\s*\)\s*$")
_AGENCY_SPLIT = re.compile(r"\s*(?:[/,+&-]|\bog\b|\band\b)\s*", re.IGNORECASE)
# A wire dateline at the start of the first paragraph: "MOSCOW (AP) —", "Oslo (NTB):".
_DATELINE = re.compile(r"^[A-ZÆØÅ][\w .,'/-]{0,40}?\s*\((?P<name>[^()]{2,30})\)\s*[-–—:]\s")
_BYLINE = re.compile(r"^(?:Av|By|Tekst:?)\s+(?P<names>[^\s].{1,80})$")
_BYLINE_SPLIT = re.compile(r"\s*(?:,|\bog\b|\band\b|&)\s*")
_NAME = re.compile(r"[A-ZÆØÅ][\w.'-]*(?: (?:van |von |de |da )?[A-ZÆØÅ][\w.'-]*){0,3}")
_WIRE_CREDIT = re.compile(
    r"^\(?(?:Additional\s+)?(?:Reporting|Writing|Editing|Compiled)\s+by\s.+$", re.IGNORECASE)
_KICKER = re.compile(r"^(?P<kicker>[A-ZÆØÅ][^.:!?\d«»\"–()]{2,40}?):\s+(?=[A-ZÆØÅ])")
# Words that make a phrase before a colon a clause ("Han sa:", "The reason is simple:"), which
# a kicker (a topic label: "Krig og konflikter") never is: verbs of saying and being, modal
# verbs and personal pronouns, in Norwegian and English.
_CLAUSE_WORDS = frozenset(
    """er var har hadde blir ble bli være vært sa sier skriver skrev mener mente forteller
    fortalte opplyser opplyste uttaler uttalte understreker la legger kan vil skal må kunne
    ville skulle han hun vi jeg du dere de meg oss
    is are was were be been has have had said says say told tells writes wrote added adds
    explained will would can could must should he she they we you it""".split()
)
_TWEET = re.compile(
    r"pic\.twitter\.com/|twitter\.com/\w+/status/|^\s*[—-]\s*.+\(@\w+\)\s+\w+ \d{1,2}, \d{4}\s*$"
    r"|^\s*\[(?:tweet|twitter|embed)[^\]]*\]\s*$"
    r"|^(?:les også|se også|les mer|read more|read also|also read|related|relatert)\s*:",
    re.IGNORECASE,
)  # placeholders and links to other stories: not this article's text
_SENTENCE_END = (".", "!", "?", ",", ";", ":", "…", "»", '"', ")")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class SeedFields:
    body: str
    title: str | None = None
    lead: str | None = None
    section: str | None = None
    kicker: str | None = None
    subheadings: list[str] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    credits: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    agency: str | None = None
    date_raw: str | None = None


def clean_text(text: str) -> str:
    """Unify newlines, drop control characters PostgreSQL text cannot hold or readers trip on."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


def _is_heading(par: str) -> bool:
    words = par.split()
    return 0 < len(words) <= 8 and len(par) <= 70 and not par.rstrip().endswith(_SENTENCE_END)


def _is_title(par: str, following: str) -> bool:
    """A headline: one line, shorter than what follows, not a sentence (a question may be)."""
    words = par.split()
    if par.startswith(("–", "-")) or len(words) > 16 or len(par) > 120:
        return False
    if par.endswith(("?", "!")):
        return len(words) <= 12 and len(following) > len(par)
    return not par.endswith(_SENTENCE_END)


def _agency(name: str) -> str | None:
    """The agency called ``name``. Short names count only as written (``AP``, not ``Ap``,
    which in Norwegian text is the Labour Party: ``sier Støre (Ap)``)."""
    agency = AGENCIES.get(name.lower())
    if agency and (len(name) > 3 or name in (agency, agency.upper())):
        return agency
    return None


def _agencies(name: str) -> list[str] | None:
    """['NTB', 'AFP'] for 'NTB/AFP' or 'NTB-AFP'; None unless every part is a known agency."""
    parts = [p for p in _AGENCY_SPLIT.split(name.strip()) if p]
    found = [_agency(p) for p in parts]
    return [a for a in found if a] if parts and all(found) else None


def _credit(par: str) -> tuple[str, str | None] | None:
    """('©NTB', 'NTB') for a credit line such as '(©NTB)' or 'NTB/AFP', else None."""
    match = _CREDIT_LINE.match(par)
    if not match or len(par) > 40:
        return None
    name = match.group("name").strip()
    agencies = _agencies(name)
    wrapped = par.strip().startswith("(") and par.strip().endswith(")")
    if agencies or (match.group("copy") and wrapped):
        return par.strip().strip("()").strip(), agencies[0] if agencies else name
    return None


def _byline(par: str) -> tuple[list[str], list[str]] | None:
    """(authors, agencies) of a byline such as 'Av Ola Nordmann, NTB', else None."""
    match = _BYLINE.match(par) if len(par) <= 100 else None
    if not match:
        return None
    names = [n for n in _BYLINE_SPLIT.split(match.group("names").strip()) if n]
    if not names or not all(_NAME.fullmatch(n) for n in names):
        return None  # "Av de 300 deltakerne ...": a sentence, not a byline
    authors, agencies = [], []
    for name in names:
        agency = _agency(name)
        (agencies if agency else authors).append(agency or name)
    return authors, agencies


def _is_kicker(phrase: str) -> bool:
    words = phrase.lower().split()
    return len(words) <= 5 and not any(w in _CLAUSE_WORDS for w in words)


def _date_prefix(rest: str) -> tuple[str, str] | None:
    """(date, what follows) when ``rest`` starts with a date; the longest readable one wins.

    An unreadable first word with a digit in it (``2019-13``) is still the date, kept raw so
    the normaliser reports it; a first word without a digit means this is no date line at all
    (``Date set for Kim-Putin summit``).
    """
    spans = [m.span() for m in islice(re.finditer(r"\S+", rest), _DATE_TOKENS)]
    for n in range(len(spans), 0, -1):
        candidate = rest[: spans[n - 1][1]]
        try:
            parse_date(candidate)
        except DateError:
            continue
        return candidate, rest[spans[n - 1][1]:].strip()
    first = rest[: spans[0][1]]
    if any(ch.isdigit() for ch in first):
        return first, rest[spans[0][1]:].strip()
    return None


def _date_line(line: str, out: SeedFields) -> str | None:
    """Read a date line into ``out`` (``out.date_raw`` stays None when ``line`` is none);
    return the paragraph that follows the date on the same line, if any."""
    match = _DATE_LINE.match(line)
    found = _date_prefix(match.group("rest")) if match else None
    if found is None:
        return None
    out.date_raw, rest = found
    if rest and (_SECTION.match(rest) or rest.lower() in SECTIONS):
        out.section = rest
    elif rest and _PHOTO_CREDIT.search(rest):
        out.captions.append(rest)
    elif rest:
        return rest
    return None


def _take_kicker(out: SeedFields, kept: list[str]) -> None:
    """A kicker glued to the lead or one of the first two body paragraphs, if there is one."""
    places: list[tuple[str, int | None]] = [(out.lead, None)] if out.lead else []
    places += [(par, i) for i, par in enumerate(kept[:2])]
    for text, index in places:
        match = _KICKER.match(text)
        if match and _is_kicker(match.group("kicker")):
            out.kicker = match.group("kicker").strip()
            if index is None:
                out.lead = text[match.end():]
            else:
                kept[index] = text[match.end():]
            return


def parse_seed_text(text: str) -> SeedFields:
    """Split one dropped article into its parts; raises ValueError when there is no text."""
    lines = [line.strip() for line in clean_text(text).split("\n")]
    out = SeedFields(body="")
    first = next((i for i, line in enumerate(lines) if line), None)
    if first is None:
        raise ValueError("no text")
    rest = _date_line(lines[first], out)
    pars = [rest] if rest else []
    pars.extend(line for line in lines[first + 1 if out.date_raw else first:] if line)

    kept: list[str] = []
    for par in pars:
        credit = _credit(par)
        if credit:
            out.credits.append(credit[0])
            out.agency = out.agency or credit[1]
        elif _TWEET.search(par):
            continue
        elif _WIRE_CREDIT.match(par) and len(par) < 300:
            out.credits.append(par.strip("()"))
        elif len(par) < 400 and (
                (_PHOTO_CREDIT.search(par) and not kept) or _CAPTION_TAIL.search(par)):
            out.captions.append(par)
        else:
            kept.append(par)
    for caption in out.captions:
        photo = _PHOTO_CREDIT.search(caption)
        if photo:
            out.credits.append(photo.group(0).strip().rstrip(")").strip())
    if kept:
        trailing = _TRAILING_CREDIT.search(kept[-1])
        agencies = _agencies(trailing.group("name")) if trailing else None
        if trailing and agencies and len(kept[-1]) > trailing.end() - trailing.start():
            out.credits.append(trailing.group(0).strip().strip("()").strip())
            out.agency = out.agency or agencies[0]
            kept[-1] = kept[-1][: trailing.start()].rstrip()
    if not kept:
        raise ValueError("no body text (only a date, caption or credit line)")

    if len(kept) >= 3 and _is_title(kept[0], kept[1]):
        out.title = kept.pop(0)
    byline = _byline(kept[0]) if len(kept) >= 2 else None
    if byline:
        out.credits.append(kept.pop(0))
        out.authors, agencies = byline
        out.agency = out.agency or (agencies[0] if agencies else None)
    if len(kept) >= 2 and not _is_heading(kept[0]):
        out.lead = kept.pop(0)
    opening = out.lead or kept[0]
    dateline = _DATELINE.match(opening)
    agencies = _agencies(dateline.group("name")) if dateline else None
    if agencies:
        out.credits.append(dateline.group("name").strip())  # type: ignore[union-attr]
        out.agency = out.agency or agencies[0]
    _take_kicker(out, kept)
    for i, par in enumerate(kept):
        if i < len(kept) - 1 and _is_heading(par):
            out.subheadings.append(par)
    out.credits = list(dict.fromkeys(out.credits))  # "(NTB)" as dateline and as last line
    out.body = "\n\n".join(kept)
    return out
