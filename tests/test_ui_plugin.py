"""The plugin registration as Airflow loads it from the plugins/ folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fastapi import FastAPI

REPO = Path(__file__).resolve().parents[1]
PLUGINS = REPO / "plugins"


def _load():
    from airflow._shared.plugins_manager import _load_plugins_from_plugin_directory

    return _load_plugins_from_plugin_directory(plugins_folder=str(PLUGINS))


def test_airflow_finds_exactly_our_plugin_and_no_import_errors() -> None:
    plugins, errors = _load()
    assert errors == {}
    assert [p.name for p in plugins] == ["newsthreads"]  # .airflowignore skips the package


def test_plugin_mounts_the_app_and_a_nav_entry() -> None:
    from airflow.api_fastapi.app import RESERVED_URL_PREFIXES

    (plugin,), _ = _load()
    (app,) = plugin.fastapi_apps
    assert isinstance(app["app"], FastAPI)
    assert app["url_prefix"] == "/newsthreads"
    assert not any(app["url_prefix"].startswith(p) for p in RESERVED_URL_PREFIXES)
    assert plugin.fastapi_apps[0]["app"] is app["app"]  # built once, not per access
    (view,) = plugin.external_views
    assert view["name"] == "Story threads" and view["destination"] == "nav"
    assert view["href"] == "newsthreads/"  # relative: works under an [api] base_url sub-path
    assert view["url_route"] == "story-threads"


def test_loading_the_plugin_imports_nothing_heavy() -> None:
    """Scheduler, dag-processor and task runners load plugins too: keep them lean."""
    probe = f"""
import json, sys
import airflow.plugins_manager
before = set(sys.modules)
from airflow._shared.plugins_manager import _load_plugins_from_plugin_directory
plugins, errors = _load_plugins_from_plugin_directory(plugins_folder={str(PLUGINS)!r})
print(json.dumps({{"errors": errors, "new": sorted(set(sys.modules) - before)}}))
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, env={"AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                                          "PATH": "/usr/bin:/bin"})
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["errors"] == {}
    heavy = [m for m in result["new"]
             if m.split(".")[0] in {"fastapi", "jinja2", "psycopg", "newsthreads", "sqlalchemy"}]
    assert heavy == []
