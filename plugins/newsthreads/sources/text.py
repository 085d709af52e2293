"""Turn input bytes into text without losing any: UTF-8 first, then the usual suspects.

A file that is not text at all (NUL bytes, mostly control characters) is refused with a clear
reason; a file in Windows-1252 or Latin-1 is read and a warning says so, since a wrong guess
there garbles letters rather than losing the article.
"""

from __future__ import annotations

import codecs

_CONTROL = frozenset(range(32)) - {9, 10, 12, 13}


class NotText(ValueError):
    pass


def decode_text(data: bytes) -> tuple[str, str | None]:
    """Return (text, warning) for ``data``; raise NotText for binary input."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", errors="replace"), None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), None
        except UnicodeDecodeError as exc:  # a torn last byte, a lone surrogate
            return (data.decode("utf-16", errors="replace"),
                    f"invalid UTF-16 at byte {exc.start}; unreadable bytes replaced by U+FFFD")
    if b"\x00" in data[:8192]:
        raise NotText("binary data (NUL bytes), not a text file")
    sample = data[:8192]
    if sample and sum(b in _CONTROL for b in sample) / len(sample) > 0.05:
        raise NotText("binary data (control bytes), not a text file")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        position = exc.start
    try:
        text = data.decode("cp1252")
        return text, f"not valid UTF-8 (byte {position}); read as Windows-1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), f"not valid UTF-8 (byte {position}); read as Latin-1"
