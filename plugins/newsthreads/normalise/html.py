"""HTML from a feed entry -> clean text, with photo captions kept apart from the body.

Feeds put markup in descriptions and ``content:encoded``; the threading and the full-text index
want words. Block elements become paragraph breaks (``\\n\\n``), ``<br>`` a line break, scripts,
styles and embedded objects disappear, entities are decoded, and ``<figcaption>`` text goes to
``captions`` so a photo credit does not read as the article's first sentence. The HTML itself
is kept by the caller in ``Article.html``.

Most feed HTML is plain, well-formed markup (feedparser has already sanitised it): quoted
attributes, no comments, no scripts. Such a fragment is split into tags and text with one
regular expression and fed to the same handlers, a few times faster than ``HTMLParser``'s
tokenizer; anything else (a comment, a declaration, a script, a stray ``<``, an unquoted
attribute that is not plainly delimited) goes through ``HTMLParser`` itself, so both paths give
the same text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser

BLOCK = {
    "p", "div", "section", "article", "header", "footer", "aside", "main", "nav",
    "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd", "blockquote",
    "pre", "table", "tr", "figure", "hr", "address", "details", "summary",
}
SKIP = {"script", "style", "noscript", "template", "iframe", "object", "embed", "svg",
        "head", "title", "button", "form", "select", "textarea"}
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n\s*")
_TAGLIKE = re.compile(r"<[A-Za-z!/]")
# A start tag whose attributes are quoted, bare, or unquoted and plainly delimited, or a bare end
# tag; only ASCII whitespace inside (HTMLParser reads other spaces differently). ``end`` is "/"
# for an end tag, ``empty`` is "/" for "<br/>".
_WS = r"[ \t\n\r\f]"
_PLAIN_TAG = re.compile(
    rf"<(?:(?P<end>/)(?P<closed>[a-zA-Z][a-zA-Z0-9]*){_WS}*"
    rf"|(?P<name>[a-zA-Z][a-zA-Z0-9]*)"
    rf"(?:{_WS}+[a-zA-Z_:][-a-zA-Z0-9_:.]*"
    rf"(?:{_WS}*={_WS}*(?:\"[^\"]*\"|'[^']*'|[^\s\"'=<>`/]+(?=[ \t\n\r\f>])))?)*"
    rf"{_WS}*(?P<empty>/?))>")
# Elements whose content HTMLParser reads as raw text (and newer Pythons' RCDATA ones): rare in
# feeds, left to HTMLParser.
_RAW_TEXT = frozenset({"script", "style", "textarea", "title", "xmp", "iframe", "noembed",
                       "noframes", "noscript", "plaintext"})


@dataclass
class HtmlText:
    text: str
    captions: list[str] = field(default_factory=list)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.captions: list[str] = []
        self.caption: list[str] | None = None
        self.skip = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in SKIP:
            self.skip += 1
        elif tag == "figcaption":
            self.caption = []
        elif tag == "br":
            self._emit("\n")
        elif tag in BLOCK:
            self._emit("\n\n")
        elif tag in ("td", "th"):
            self._emit(" ")

    def handle_startendtag(self, tag: str, attrs) -> None:
        if tag == "br":
            self._emit("\n")
        elif tag in BLOCK:
            self._emit("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag == "figcaption" and self.caption is not None:
            text = _SPACES.sub(" ", " ".join(self.caption)).strip()
            if text:
                self.captions.append(text)
            self.caption = None
        elif tag in BLOCK:
            self._emit("\n\n")

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.caption is not None:
            self.caption.append(data)
        else:
            self.parts.append(data)

    def _emit(self, text: str) -> None:
        if not self.skip and self.caption is None:
            self.parts.append(text)


def _tidy(raw: str) -> str:
    paragraphs = []
    for block in _BLANK_LINE.split(raw):
        if "\n" in block:
            text = "\n".join(filter(None, [" ".join(line.split()) for line in block.split("\n")]))
        else:  # the usual paragraph: one line
            text = " ".join(block.split())
        if text:
            paragraphs.append(text)
    return "\n\n".join(paragraphs)


def _plain_markup(html: str, parser: _TextExtractor) -> bool:
    """Feed ``html`` to the handlers if it is plain markup (see the module's note); False,
    having called no handler, when it is not."""
    tokens = []
    pos = 0
    for m in _PLAIN_TAG.finditer(html):
        text = html[pos:m.start()]
        if "<" in text:
            return False
        name = (m["closed"] or m["name"]).lower()
        if name in _RAW_TEXT:
            return False
        tokens.append((text, 2 if m["end"] else 1 if m["empty"] else 0, name))
        pos = m.end()
    tail = html[pos:]
    if "<" in tail:
        return False
    data, start, startend, endtag = (parser.handle_data, parser.handle_starttag,
                                     parser.handle_startendtag, parser.handle_endtag)
    for text, kind, name in tokens:
        if text:
            data(unescape(text) if "&" in text else text)
        if kind == 0:
            start(name, [])
        elif kind == 1:
            startend(name, [])
        else:
            endtag(name)
    if tail:
        data(unescape(tail) if "&" in tail else tail)
    return True


def html_to_text(html: str) -> HtmlText:
    """Clean text of an HTML fragment: paragraphs separated by a blank line, captions apart."""
    if not _TAGLIKE.search(html) and "&" not in html:
        return HtmlText(_tidy(html))
    parser = _TextExtractor()
    if _plain_markup(html, parser):
        return HtmlText(_tidy("".join(parser.parts)), parser.captions)
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # noqa: BLE001 - keep what was read from broken markup
        pass
    return HtmlText(_tidy("".join(parser.parts)), parser.captions)


def one_line(text: str) -> str:
    """Collapse all whitespace: for titles and other single-line fields."""
    return " ".join(text.split())
