"""A small threaded HTTP server for feeds: the demo's sample feeds, the tests' bad servers.

It serves a directory (with ETag / Last-Modified and 304s, like a well-behaved feed host) and
any number of scripted routes (``Reply``): a status, headers, a delay before answering, a body
dripped a byte at a time, a generated body of any length. Bound to 127.0.0.1 on a free port;
fetching from it needs ``NEWS_ALLOW_PRIVATE_NETWORKS=1`` (the SSRF guard refuses loopback).
"""

from __future__ import annotations

import hashlib
import mimetypes
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CONTENT_TYPES = {
    ".xml": "application/xml", ".rss": "application/rss+xml", ".atom": "application/atom+xml",
    ".json": "application/feed+json", ".html": "text/html; charset=utf-8",
    ".opml": "text/x-opml",
}


@dataclass
class Reply:
    """One scripted answer. ``body`` may be bytes or an iterable of chunks (for huge bodies)."""

    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the status line
    drip: float = 0.0  # seconds between single bytes of the body
    length: int | None = None  # Content-Length to declare; default: len(body) for bytes


Handler = Callable[["Request"], Reply]


@dataclass
class Request:
    path: str
    headers: dict[str, str]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as separate writes; without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every keep-alive response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - quiet by default
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0]
        self.server.hits[path] = self.server.hits.get(path, 0) + 1
        request = Request(self.path, {k.lower(): v for k, v in self.headers.items()})
        route = self.server.routes.get(path) or self.server.routes.get(self.path)
        if route is not None:
            reply = route(request) if callable(route) else route
        else:
            reply = self.server.from_directory(path, request)
        try:
            self._send(reply)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send(self, reply: Reply) -> None:
        if reply.delay:
            time.sleep(reply.delay)
        self.send_response(reply.status)
        body = reply.body
        headers = dict(reply.headers)
        if isinstance(body, bytes):
            length = reply.length if reply.length is not None else len(body)
            chunks: Iterable[bytes] = [body]
        else:
            length = reply.length
            chunks = body
        if length is not None:
            headers.setdefault("Content-Length", str(length))
        else:
            self.close_connection = True  # body ends when the connection does
            headers["Connection"] = "close"
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if reply.status in (204, 304) or self.command == "HEAD":
            return
        for chunk in chunks:
            if reply.drip:
                for i in range(len(chunk)):
                    self.wfile.write(chunk[i:i + 1])
                    self.wfile.flush()
                    time.sleep(reply.drip)
            else:
                self.wfile.write(chunk)
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address, directory: Path | None) -> None:
        super().__init__(address, _Handler)
        self.delay = 0.0  # added before every directory response (the bench's slow servers)
        self.routes: dict[str, Reply | Handler] = {}
        self.hits: dict[str, int] = {}
        self.directory = directory
        self.cache: dict[Path, tuple[float, bytes, str]] = {}

    def handle_error(self, request, client_address) -> None:
        pass  # a client that hung up mid-body (as the fetcher does on purpose) is not news

    def from_directory(self, path: str, request: Request) -> Reply:
        if self.directory is None:
            return Reply(404, b"not found\n", {"Content-Type": "text/plain"})
        target = (self.directory / path.lstrip("/")).resolve()
        if self.directory.resolve() not in target.parents or not target.is_file():
            return Reply(404, b"not found\n", {"Content-Type": "text/plain"})
        mtime = target.stat().st_mtime
        cached = self.cache.get(target)
        if cached is None or cached[0] != mtime:
            data = target.read_bytes()
            cached = (mtime, data, '"' + hashlib.sha1(data).hexdigest()[:16] + '"')
            self.cache[target] = cached
        _, data, etag = cached
        modified = formatdate(mtime, usegmt=True)
        headers = {"ETag": etag, "Last-Modified": modified,
                   "Content-Type": CONTENT_TYPES.get(target.suffix, None)
                   or mimetypes.guess_type(target.name)[0] or "application/octet-stream"}
        if request.headers.get("if-none-match") == etag:
            return Reply(304, b"", {"ETag": etag}, delay=self.delay)
        since = request.headers.get("if-modified-since")
        if since and "if-none-match" not in request.headers:
            try:
                if parsedate_to_datetime(since).timestamp() >= int(mtime):
                    return Reply(304, b"", {"Last-Modified": modified})
            except (TypeError, ValueError):
                pass
        return Reply(200, data, headers, delay=self.delay)


class FeedServer:
    """``with FeedServer(directory) as srv: srv.url("/feed.xml")``; ``srv.routes[path] = Reply``."""

    def __init__(self, directory: str | Path | None = None, *, host: str = "127.0.0.1",
                 port: int = 0, delay: float = 0.0) -> None:
        self._server = _Server((host, port), Path(directory) if directory else None)
        self._server.delay = delay
        self._thread: threading.Thread | None = None

    @property
    def routes(self) -> dict[str, Reply | Handler]:
        return self._server.routes

    @property
    def hits(self) -> dict[str, int]:
        return self._server.hits

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + "/" + path.lstrip("/")

    def start(self) -> FeedServer:
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="feed-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m newsthreads.demo_server DIR [--port N] [--delay S]``: serve DIR until killed."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m newsthreads.demo_server")
    parser.add_argument("directory")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args(argv)
    server = FeedServer(args.directory, port=args.port, delay=args.delay)
    print(server.base_url, flush=True)
    try:
        server._server.serve_forever(0.05)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
