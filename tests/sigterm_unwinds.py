"""A pytest plugin: SIGTERM unwinds the session like Ctrl-C.

By default SIGTERM (a CI job's timeout, ``kill``) ends pytest at once: no fixture teardown
runs, so the Airflow scheduler, API server and PostgreSQL servers the session started keep
running, and taking CPU from whatever runs next (seen: a benchmark slowed by a leftover
Airflow). Raised as KeyboardInterrupt instead, pytest stops the run and tears every fixture
down, as it does for Ctrl-C. Loaded by ``conftest.py``.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import pytest


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def pytest_sessionstart(session: pytest.Session) -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
