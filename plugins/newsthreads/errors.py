"""Error types that name the input and the reason, so a log line is enough to act on."""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (a server's reason without its detail lines),
    or its type's name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class NewsthreadsError(Exception):
    """Base of every error this package raises on purpose."""


class InputError(NewsthreadsError):
    """One input (file, line, feed entry) could not be read; the run goes on without it.

    ``where`` names the input (a path or URL), ``line`` the line in it when there is one,
    ``reason`` says why in words an operator can act on.
    """

    def __init__(
        self,
        where: str,
        reason: str,
        *,
        line: int | None = None,
        key: str | None = None,
        raw: bytes | None = None,
    ) -> None:
        self.where = where
        self.reason = reason
        self.line = line
        self.key = key
        self.raw = raw  # the input as read, kept so it can be replayed
        loc = f"{where}:{line}" if line is not None else where
        super().__init__(f"{loc}: {reason}")


class DateError(NewsthreadsError):
    """A date string could not be read, or is outside the sane range."""

    def __init__(self, raw: str, reason: str) -> None:
        self.raw = raw
        self.reason = reason
        super().__init__(f"date {raw!r}: {reason}")


class DatabaseError(NewsthreadsError):
    """The database could not be reached or migrated; the message never carries a password."""


class FetchError(NewsthreadsError):
    """A feed or page could not be fetched; ``url`` and ``reason`` say which and why."""

    def __init__(self, url: str, reason: str, *, status: int | None = None,
                 retry_after: float | None = None) -> None:
        self.url = url
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        super().__init__(f"{url}: {reason}")
