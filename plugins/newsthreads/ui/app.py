"""The Story threads FastAPI app: server-rendered pages over the news database.

Airflow's API server mounts it under ``/newsthreads`` (see ``plugins/newsthreads_plugin.py``)
and shows it in an iframe from the "Story threads" navigation entry. Every route requires an
Airflow login (``newsthreads.ui.auth``). Pages are plain HTML with relative links built from
the mount's ``root_path``, so they work behind a proxy or an ``[api] base_url`` sub-path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import psycopg
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from newsthreads.errors import DatabaseError
from newsthreads.store import reads
from newsthreads.store.connection import resolve_dsn
from newsthreads.ui import display
from newsthreads.ui.auth import login_url, require_user

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).with_name("templates")
PER_PAGE = 25

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals.update(span=display.span_text, published=display.published_text,
                    snippet=display.snippet_html)
_env.filters["link_url"] = display.link_url


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = _env.get_template(name).render(root=_root(request), **context)
    return HTMLResponse(html, status_code=status_code)


def _page_url(request: Request, path: str, **params: str) -> Callable[[int], str]:
    def url(page: int) -> str:
        return f"{_root(request)}{path}?{urlencode({**params, 'page': page})}"

    return url


def _db(request: Request) -> Iterator[psycopg.Connection]:
    """A read-only connection per request; the DSN is resolved once, on first use."""
    state = request.app.state
    if state.resolved_dsn is None:
        dsn = state.dsn
        if dsn is None:
            state.resolved_dsn = resolve_dsn()
        else:
            state.resolved_dsn = dsn if isinstance(dsn, str) else dsn()
    with reads.connect_reader(state.resolved_dsn) as conn:
        yield conn


Conn = Annotated[psycopg.Connection, Depends(_db)]
PageNo = Annotated[int, Query(ge=1, le=100_000)]
SearchText = Annotated[str, Query(max_length=500)]


def create_app(dsn: str | Callable[[], str] | None = None) -> FastAPI:
    """The app; ``dsn`` (a DSN or a function giving one) defaults to the shared resolver.

    The DSN is resolved on the first request, not at import, so loading the plugin never
    touches a database.
    """
    app = FastAPI(
        title="newsthreads: Story threads",
        dependencies=[Depends(require_user)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.dsn = dsn
    app.state.resolved_dsn = None

    @app.get("/", response_class=HTMLResponse, name="threads")
    def threads(request: Request, conn: Conn, page: PageNo = 1) -> HTMLResponse:
        result = reads.list_threads(conn, page=page, per_page=PER_PAGE)
        return _render(request, "threads.html", page=result,
                       page_url=_page_url(request, "/"))

    @app.get("/threads/{thread_id}", response_class=HTMLResponse, name="thread")
    def thread(request: Request, thread_id: int, conn: Conn, page: PageNo = 1) -> HTMLResponse:
        summary = reads.get_thread(conn, thread_id)
        if summary is None:
            raise HTTPException(404, f"There is no story thread {thread_id}.")
        result = reads.thread_articles(conn, thread_id, page=page)
        return _render(request, "thread.html", thread=summary, page=result,
                       page_url=_page_url(request, f"/threads/{thread_id}"))

    @app.get("/search", response_class=HTMLResponse, name="search")
    def search(request: Request, conn: Conn, q: SearchText = "",
               page: PageNo = 1) -> HTMLResponse:
        query = q.strip()
        result = reads.search_articles(conn, query, page=page, per_page=PER_PAGE)
        return _render(request, "search.html", query=query, page=result,
                       page_url=_page_url(request, "/search", q=query))

    _add_error_pages(app)
    return app


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _add_error_pages(app: FastAPI) -> None:
    """Errors as a short page a person can act on (JSON for API clients); no internals shown."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 401:
            headers.setdefault("WWW-Authenticate", "Bearer")
        if not _wants_html(request):
            return JSONResponse({"detail": exc.detail}, exc.status_code, headers=headers)
        heading, login = {
            401: ("Log in to see the story threads", login_url(str(request.url))),
            403: ("Not allowed", None),
            404: ("Not found", None),
        }.get(exc.status_code, ("Request refused", None))
        response = _render(request, "error.html", exc.status_code, heading=heading,
                           message=str(exc.detail), login=login, query=None)
        response.headers.update(headers)
        return response

    @app.exception_handler(DatabaseError)
    async def database_down(request: Request, exc: DatabaseError) -> Response:
        log.error("Story threads: %s", exc)  # already masked by the resolver
        return _render(request, "error.html", 503, heading="The news database is unavailable",
                       message=str(exc), login=None, query=None)

    @app.exception_handler(psycopg.Error)
    async def query_failed(request: Request, exc: psycopg.Error) -> Response:
        log.exception("Story threads: query failed on %s", request.url.path)
        return _render(request, "error.html", 503, heading="The query failed",
                       message="The news database did not answer in time or refused the query;"
                               " try again, or ask an administrator to check the API server log.",
                       login=None, query=None)
