"""The Story threads app refuses anonymous and forged requests before touching the database.

Airflow does not authenticate plugin apps (they are mounted, not routed), so these tests run
the real ``require_user`` dependency: no override, and a DSN that would fail if it were used.
The live API server is covered by ``test_airflow_browser.py``.
"""

from __future__ import annotations

import asyncio

import httpx
import jwt
import pytest
from newsthreads.ui.app import create_app

UNUSED_DSN = "postgresql://nobody@127.0.0.1:1/never"  # reaching the database would be a bug
SECRET = "s" * 64


def get(app, url: str, **kwargs) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, root_path="/newsthreads")
        async with httpx.AsyncClient(transport=transport, base_url="http://airflow") as client:
            return await client.get(url, **kwargs)

    return asyncio.run(call())


@pytest.fixture(scope="module")
def app():
    return create_app(dsn=UNUSED_DSN)


@pytest.mark.parametrize("path", ["/", "/threads/1", "/search?q=putin"])
def test_anonymous_api_request_is_refused(app, path: str) -> None:
    response = get(app, path)
    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}
    assert response.headers["www-authenticate"] == "Bearer"


def test_anonymous_browser_gets_a_login_link_not_data(app) -> None:
    response = get(app, "/", headers={"accept": "text/html"})
    assert response.status_code == 401
    assert 'id="login"' in response.text and "<table" not in response.text


@pytest.fixture
def simple_auth_manager(monkeypatch, tmp_path):
    """Airflow's simple auth manager, as the API server initialises it."""
    from airflow.api_fastapi import app as airflow_app

    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", SECRET)
    monkeypatch.setenv("AIRFLOW__CORE__AUTH_MANAGER", "airflow.api_fastapi.auth.managers.simple."
                       "simple_auth_manager.SimpleAuthManager")
    airflow_app.purge_cached_app()
    manager = airflow_app.create_auth_manager()
    yield manager
    airflow_app.purge_cached_app()


@pytest.mark.parametrize("where", ["cookie", "header"])
def test_forged_token_is_refused(app, simple_auth_manager, where: str) -> None:
    forged = jwt.encode({"sub": "admin", "role": "ADMIN", "aud": "apache-airflow"},
                        "f" * 64, algorithm="HS512")
    if where == "cookie":
        response = get(app, "/", headers={"cookie": f"_token={forged}"})
    else:
        response = get(app, "/", headers={"authorization": f"Bearer {forged}"})
    assert response.status_code == 403
    assert response.json() == {"detail": "Invalid JWT token"}
