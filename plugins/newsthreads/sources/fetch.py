"""Fetch one URL the way a long-running poller must: bounded in time, bytes and hops.

feedparser's own HTTP has no timeout and no size cap, so every byte comes through here:

- connect and read timeouts, and a total deadline enforced on every socket read (a server
  that drips one byte a second cannot hold a worker for longer than the deadline);
- a byte cap applied *after* decompression, decompressing with ``max_length`` so a gzip bomb
  fails after ``max_bytes`` of output, not after filling memory;
- redirects followed by hand (at most ``max_redirects``, loops named), each hop checked by the
  SSRF guard; ``permanent_url`` is set when every hop was a 301/308, so the caller can move the
  stored URL;
- conditional GET (``If-None-Match`` / ``If-Modified-Since``); a 304 is a result, not an error;
- HTTP errors raise ``FetchError`` with the status and the ``Retry-After`` delay in seconds;
- politeness: a client made with ``per_host`` has at most that many requests in flight to one
  host (by name, any port), whichever thread sends them; a request waits for a free slot, and
  the wait does not count against its deadline.
"""

from __future__ import annotations

import email.utils
import math
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from newsthreads.errors import FetchError
from newsthreads.sources.netguard import GuardedBackend, check_url

USER_AGENT = "newsthreads/0.1 (feed poller; +https://github.com/newsthreads)"
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml,"
    " application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
REDIRECTS = (301, 302, 303, 307, 308)
PERMANENT = (301, 308)
CHUNK = 64 * 1024
DEFAULT_PER_HOST = 2  # requests in flight to one host, for clients that poll many feeds


@dataclass(frozen=True)
class FetchLimits:
    """How long and how much one fetch may take. The defaults suit news feeds."""

    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    deadline: float = 60.0  # seconds for the whole fetch, redirects included
    max_bytes: int = 10 * 1024 * 1024  # after decompression
    max_redirects: int = 5
    user_agent: str = USER_AGENT


@dataclass
class FetchResult:
    url: str  # what was asked for
    final_url: str  # after redirects
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names
    permanent_url: str | None = None  # set when every redirect hop was permanent
    elapsed: float = 0.0

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")


# --- the total deadline, checked on every socket read and write -------------------------------

_local = threading.local()


def _remaining(timeout: float | None) -> float | None:
    deadline = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("total deadline exceeded")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _remaining(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _remaining(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        return _DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, _remaining(timeout))
        )

    def get_extra_info(self, info: str):
        return self._inner.get_extra_info(info)


class _Backend(GuardedBackend):
    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        stream = super().connect_tcp(host, port, _remaining(timeout), local_address,
                                     socket_options)
        return _DeadlineStream(stream)


# --- politeness: requests in flight per host ---------------------------------------------------

def host_of(url: str) -> str:
    """The host name a politeness limit counts by: lower case, without the port."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


class HostSlots:
    """At most ``per_host`` holders per host at a time, across threads."""

    def __init__(self, per_host: int) -> None:
        if per_host < 1:
            raise ValueError(f"per_host must be at least 1, not {per_host}")
        self.per_host = per_host
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}

    def acquire(self, host: str) -> Callable[[], None]:
        """Wait for a slot on ``host``; return the function that gives it back (once)."""
        with self._lock:
            slot = self._slots.setdefault(host, threading.BoundedSemaphore(self.per_host))
        slot.acquire()
        held = [True]

        def release() -> None:
            with self._lock:
                if not held[0]:
                    return
                held[0] = False
            slot.release()

        return release


class _ReleasingStream(httpx.SyncByteStream):
    """A response body that gives its host slot back when it is closed."""

    def __init__(self, inner: httpx.SyncByteStream, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release = release

    def __iter__(self) -> Iterator[bytes]:
        yield from self._inner

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._release()


class _PerHostTransport(httpx.BaseTransport):
    """Holds a host slot from sending a request until its response is closed."""

    def __init__(self, inner: httpx.BaseTransport, slots: HostSlots) -> None:
        self._inner = inner
        self.slots = slots

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        asked = time.monotonic()
        release = self.slots.acquire(request.url.host.lower())
        deadline = getattr(_local, "deadline", None)
        if deadline is not None:  # waiting for a slot is not the server's time
            waited = time.monotonic() - asked
            _local.deadline = deadline + waited
            _local.waited += waited
        try:
            response = self._inner.handle_request(request)
        except BaseException:
            release()
            raise
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _ReleasingStream(response.stream, release)
        return response

    def close(self) -> None:
        self._inner.close()


def make_client(limits: FetchLimits | None = None, *, max_connections: int = 16,
                per_host: int | None = None) -> httpx.Client:
    """An httpx client whose every connection goes through the SSRF guard and the deadline;
    with ``per_host``, at most that many requests in flight to one host.

    Thread-safe: one client serves all workers of a run.
    """
    limits = limits or FetchLimits()
    transport = httpx.HTTPTransport(
        limits=httpx.Limits(max_connections=max_connections,
                            max_keepalive_connections=max_connections),
    )
    # httpx does not take a network backend; its pool is rebuilt with ours (httpx 0.28 layout).
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=5.0,
        network_backend=_Backend(),
    )
    return httpx.Client(
        transport=transport if per_host is None
        else _PerHostTransport(transport, HostSlots(per_host)),
        follow_redirects=False,
        timeout=httpx.Timeout(limits.read_timeout, connect=limits.connect_timeout),
        headers={"User-Agent": limits.user_agent, "Accept-Encoding": "gzip, deflate"},
        trust_env=False,
    )


# --- fetching ----------------------------------------------------------------------------------

def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, delta)


def fetch(
    client: httpx.Client,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    limits: FetchLimits | None = None,
    accept: str = FEED_ACCEPT,
) -> FetchResult:
    """GET ``url`` within ``limits``; raise FetchError naming the URL and the reason."""
    limits = limits or FetchLimits()
    started = time.monotonic()
    _local.deadline = started + limits.deadline
    _local.waited = 0.0  # for host slots (make_client's per_host), not counted as taken
    try:
        return _fetch(client, url, etag, last_modified, limits, accept, started)
    finally:
        _local.deadline = None


def _fetch(client, url, etag, last_modified, limits, accept, started) -> FetchResult:
    headers = {"Accept": accept}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    current = url
    hops: list[str] = [url]
    permanent = True
    timeout = httpx.Timeout(limits.read_timeout, connect=limits.connect_timeout)
    while True:
        check_url(current)
        try:
            with client.stream("GET", current, headers=headers, timeout=timeout) as resp:
                status = resp.status_code
                if status in REDIRECTS and resp.headers.get("location"):
                    target = urljoin(current, resp.headers["location"].strip())
                    permanent = permanent and status in PERMANENT
                    if target in hops:
                        chain = " -> ".join([*hops, target])
                        raise FetchError(url, f"redirect loop: {chain}", status=status)
                    if len(hops) > limits.max_redirects:
                        raise FetchError(
                            url, f"too many redirects (more than {limits.max_redirects})",
                            status=status)
                    hops.append(target)
                    current = target
                    continue
                resp_headers = {k.lower(): v for k, v in resp.headers.items()}
                result = FetchResult(
                    url=url, final_url=current, status=status, headers=resp_headers,
                    permanent_url=current if (len(hops) > 1 and permanent) else None,
                )
                if status == 304:
                    result.elapsed = time.monotonic() - started
                    return result
                if status >= 400 or status < 200:
                    raise FetchError(
                        current, _status_reason(status, resp.reason_phrase), status=status,
                        retry_after=retry_after_seconds(resp.headers.get("retry-after")),
                    )
                result.body = _read_capped(resp, current, limits)
                result.elapsed = time.monotonic() - started
                return result
        except httpx.TimeoutException as exc:
            took = time.monotonic() - started - _local.waited
            if took >= limits.deadline - 0.05:
                reason = f"total deadline of {limits.deadline:g}s exceeded"
            elif isinstance(exc, httpx.ConnectTimeout):
                reason = f"connect timed out after {limits.connect_timeout:g}s"
            else:
                reason = f"read timed out after {limits.read_timeout:g}s without data"
            raise FetchError(current, reason) from exc
        except httpx.ConnectError as exc:
            raise FetchError(current, f"cannot connect: {exc}") from exc
        except httpx.HTTPError as exc:
            raise FetchError(current, f"{type(exc).__name__}: {exc}") from exc


def _status_reason(status: int, phrase: str) -> str:
    hint = {
        404: "not found",
        410: "gone for good (the publisher retired this feed)",
        429: "rate limited",
        500: "server error",
        503: "service unavailable",
    }.get(status, phrase or "error")
    return f"HTTP {status}: {hint}"


def _read_capped(resp: httpx.Response, url: str, limits: FetchLimits) -> bytes:
    """The body, decompressed with a cap on the output so a bomb fails fast."""
    cap = limits.max_bytes
    declared = resp.headers.get("content-length", "")
    encoding = resp.headers.get("content-encoding", "identity").strip().lower()
    if declared.isdigit() and int(declared) > cap and encoding in ("", "identity"):
        raise FetchError(url, f"body too large: declares {int(declared):,} bytes, cap is {cap:,}")
    decoder = _Decoder(encoding, url)
    out = bytearray()
    for chunk in resp.iter_raw(CHUNK):
        decoder.feed(chunk, out, cap)
    decoder.finish(out, cap)
    return bytes(out)


class _Decoder:
    """gzip / deflate / identity with a bounded output size."""

    def __init__(self, encoding: str, url: str) -> None:
        self.url = url
        self.encoding = encoding
        self.raw_deflate_tried = False
        if encoding in ("gzip", "x-gzip"):
            self.obj = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif encoding == "deflate":
            self.obj = zlib.decompressobj()
        elif encoding in ("", "identity"):
            self.obj = None
        else:
            raise FetchError(url, f"unsupported Content-Encoding {encoding!r}")

    def _too_large(self, cap: int) -> FetchError:
        what = "decompressed body" if self.obj is not None else "body"
        bomb = " (a compression bomb?)" if self.obj is not None else ""
        return FetchError(self.url, f"{what} exceeds the cap of {cap:,} bytes{bomb}")

    def feed(self, chunk: bytes, out: bytearray, cap: int) -> None:
        if self.obj is None:
            out += chunk
            if len(out) > cap:
                raise self._too_large(cap)
            return
        data = chunk
        while data:
            room = cap - len(out) + 1
            try:
                piece = self.obj.decompress(data, room)
            except zlib.error as exc:
                if self.encoding == "deflate" and not out and not self.raw_deflate_tried:
                    self.raw_deflate_tried = True  # some servers send raw deflate
                    self.obj = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise FetchError(self.url, f"corrupt {self.encoding} stream: {exc}") from exc
            out += piece
            if len(out) > cap:
                raise self._too_large(cap)
            data = self.obj.unconsumed_tail
            if self.obj.eof:
                return

    def finish(self, out: bytearray, cap: int) -> None:
        if self.obj is None:
            return
        try:
            out += self.obj.flush()
        except zlib.error as exc:
            raise FetchError(self.url, f"corrupt {self.encoding} stream: {exc}") from exc
        if len(out) > cap:
            raise self._too_large(cap)


def backoff_seconds(failures: int, *, base: float = 300.0, cap: float = 6 * 3600.0,
                    jitter: float = 0.2, rand: float = 0.5) -> float:
    """Exponential backoff after ``failures`` consecutive failures, capped and jittered.

    ``rand`` in [0, 1) picks where in the +/- ``jitter`` band the delay falls (pass
    ``random.random()``); the cap keeps a long-dead feed polled a few times a day, so it comes
    back by itself when it recovers.
    """
    exponent = min(max(failures - 1, 0), 30)
    delay = min(cap, base * math.pow(2, exponent))
    return delay * (1 - jitter + 2 * jitter * rand)
