"""The structure of a dropped article file (the seeds/ format), recovered from plain text.

Real drops vary: an optional first line `` date 2019-04`` followed on the same line by a
section word or a photo caption (``... Foto: NAME / AGENCY``) or the first paragraph; an
optional title line and lead; a kicker glued to a paragraph (``Krig og konflikter: ...``);
short lines inside the body that are subheadings; an agency credit such as ``(©NTB)``; tweet
placeholders and trailing blank lines. Paragraphs are lines: files use either blank-line or
single-newline separation, and both put one paragraph on a line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

AGENCIES = {
    "ntb": "NTB", "afp": "AFP", "reuters": "Reuters", "ap": "AP", "anb": "ANB", "tt": "TT",
    "ritzau": "Ritzau", "dpa": "dpa", "bloomberg": "Bloomberg", "efe": "EFE", "ansa": "ANSA",
    "xinhua": "Xinhua", "tass": "TASS", "yonhap": "Yonhap",
}

_DATE_LINE = re.compile(r"^\s*date\s+(\S+)(?:\s+(.*))?$", re.IGNORECASE)
_SECTION = re.compile(r"^[a-zæøåäöü][a-zæøåäöü-]{1,30}$")
_PHOTO_CREDIT = re.compile(r"\b(?:Foto|Photo|Bilde|Fotograf)\s*:\s*(.+?)\s*$", re.IGNORECASE)
_CREDIT_LINE = re.compile(
    r"^\(?\s*(?P<copy>©|\(c\)|copyright)?\s*(?P<name>[A-Za-zÆØÅæøå][\w .&-]{0,30}?)\s*\)?\s*$",
    re.IGNORECASE,
)
_TRAILING_CREDIT = re.compile(r"\s*\(\s*©?\s*(?P<name>[A-Za-z]{2,10})\s*\)\s*$")
_KICKER = re.compile(r"^(?P<kicker>[A-ZÆØÅ][^.:!?\d«»\"–]{2,40}?):\s+(?=[A-ZÆØÅ«\"–])")
_TWEET = re.compile(
    r"pic\.twitter\.com/|twitter\.com/\w+/status/|^\s*[—-]\s*.+\(@\w+\)\s+\w+ \d{1,2}, \d{4}\s*$"
    r"|^\s*\[(?:tweet|twitter|embed)[^\]]*\]\s*$",
    re.IGNORECASE,
)
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
    agency: str | None = None
    date_raw: str | None = None


def clean_text(text: str) -> str:
    """Unify newlines, drop control characters PostgreSQL text cannot hold or readers trip on."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


def _is_heading(par: str) -> bool:
    words = par.split()
    return 0 < len(words) <= 8 and len(par) <= 70 and not par.rstrip().endswith(_SENTENCE_END)


def _credit(par: str) -> tuple[str, str | None] | None:
    """('©NTB', 'NTB') for a credit line such as '(©NTB)', else None."""
    match = _CREDIT_LINE.match(par)
    if not match or len(par) > 40:
        return None
    name = match.group("name").strip()
    agency = AGENCIES.get(name.lower())
    wrapped = par.strip().startswith("(") and par.strip().endswith(")")
    if agency or (match.group("copy") and wrapped):
        return par.strip().strip("()").strip(), agency or name
    return None


def parse_seed_text(text: str) -> SeedFields:
    """Split one dropped article into its parts; raises ValueError when there is no text."""
    lines = [line.strip() for line in clean_text(text).split("\n")]
    out = SeedFields(body="")
    first = next((i for i, line in enumerate(lines) if line), None)
    if first is None:
        raise ValueError("no text")
    pars: list[str] = []
    date_match = _DATE_LINE.match(lines[first])
    if date_match:
        out.date_raw = date_match.group(1)
        rest = (date_match.group(2) or "").strip()
        if rest and _SECTION.match(rest):
            out.section = rest
        elif rest and _PHOTO_CREDIT.search(rest):
            out.captions.append(rest)
        elif rest:
            pars.append(rest)
        lines = lines[first + 1:]
    pars.extend(line for line in lines if line)

    kept: list[str] = []
    for par in pars:
        credit = _credit(par)
        if credit:
            out.credits.append(credit[0])
            out.agency = out.agency or credit[1]
        elif _TWEET.search(par):
            continue
        elif _PHOTO_CREDIT.search(par) and len(par) < 400 and not kept:
            out.captions.append(par)
        else:
            kept.append(par)
    for caption in out.captions:
        photo = _PHOTO_CREDIT.search(caption)
        if photo:
            out.credits.append(photo.group(0).strip())
    if kept:
        trailing = _TRAILING_CREDIT.search(kept[-1])
        if trailing and trailing.group("name").lower() in AGENCIES:
            out.credits.append(trailing.group(0).strip().strip("()").strip())
            out.agency = out.agency or AGENCIES[trailing.group("name").lower()]
            kept[-1] = kept[-1][: trailing.start()].rstrip()
    if not kept:
        raise ValueError("no body text (only a date, caption or credit line)")

    if len(kept) >= 3 and _is_heading(kept[0]) and not kept[0].startswith(("–", "-")):
        out.title = kept.pop(0)
    if len(kept) >= 2 and not _is_heading(kept[0]):
        out.lead = kept.pop(0)
    for index in range(min(2, len(kept))):
        candidates = [out.lead] if index == 0 and out.lead else []
        candidates.append(kept[index] if index < len(kept) else "")
        done = False
        for cand in candidates:
            match = _KICKER.match(cand or "")
            if match and len(match.group("kicker").split()) <= 5:
                out.kicker = match.group("kicker").strip()
                remainder = cand[match.end():]
                if cand is out.lead:
                    out.lead = remainder
                else:
                    kept[index] = remainder
                done = True
                break
        if done:
            break
    for i, par in enumerate(kept):
        if i < len(kept) - 1 and _is_heading(par):
            out.subheadings.append(par)
    out.body = "\n\n".join(kept)
    return out
