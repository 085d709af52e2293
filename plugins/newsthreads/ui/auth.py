"""Who may see the Story threads pages: a logged-in Airflow user allowed to use the website.

Airflow mounts plugin apps with ``app.mount()``, so the core API's authentication does not
reach them: without this dependency every page would be public. We reuse Airflow's own
``get_user`` (the JWT from the ``Authorization: Bearer`` header or the ``_token`` cookie the
UI sets at login) and ask the configured auth manager, so any auth manager works unchanged.
"""

from __future__ import annotations

from typing import Annotated

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
from airflow.api_fastapi.core_api.security import get_user
from fastapi import Depends, HTTPException, status


def require_user(user: Annotated[BaseUser, Depends(get_user)]) -> BaseUser:
    """The logged-in user; 401 when anonymous (raised by get_user), 403 when not allowed."""
    if not get_auth_manager().is_authorized_view(access_view=AccessView.WEBSITE, user=user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Not allowed to use the Airflow UI")
    return user


def login_url(next_url: str | None = None) -> str:
    """Where the configured auth manager logs people in (used on the 401 page)."""
    try:
        return get_auth_manager().get_url_login(next_url=next_url)
    except RuntimeError:  # no auth manager initialised (the app served outside Airflow)
        return "/"
