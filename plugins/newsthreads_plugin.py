"""The newsthreads Airflow plugin: a "Story threads" page in the Airflow UI.

Airflow imports this file in every process that loads plugins (API server, scheduler,
dag-processor, task runners), so it imports nothing but Airflow's plugin base: the FastAPI
app (and with it Jinja2 and psycopg) is built only when the API server asks for
``fastapi_apps``. The page requires an Airflow login; see ``newsthreads.ui.auth``.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/newsthreads"  # where the API server mounts the app (kept in step with ui.app)

# A newspaper icon, inline so the navigation needs no extra request.
_ICON = (
    "data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24' "
    "fill='none' stroke='%23666' stroke-width='2' stroke-linecap='round' "
    "stroke-linejoin='round'><path d='M4 4h13v16H6a2 2 0 0 1-2-2z'/>"
    "<path d='M17 8h3v10a2 2 0 0 1-2 2'/><path d='M8 8h5M8 12h5M8 16h5'/></svg>"
)

STORY_THREADS_VIEW: dict[str, Any] = {
    "name": "Story threads",
    # Relative (no leading slash): resolved against the UI's base URL, so a sub-path works.
    "href": URL_PREFIX.lstrip("/") + "/",
    "destination": "nav",
    "url_route": "story-threads",  # shown inside the UI at /plugin/story-threads
    "nav_top_level": True,
    "icon": _ICON,
}


class NewsthreadsPlugin(AirflowPlugin):
    """Registers the Story threads app and its navigation entry."""

    name = "newsthreads"
    external_views = [STORY_THREADS_VIEW]

    @cached_property
    def fastapi_apps(self) -> list[dict[str, Any]]:  # type: ignore[override]
        from newsthreads.ui.app import create_app

        return [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Story threads"}]
