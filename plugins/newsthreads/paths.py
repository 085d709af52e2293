"""Where the project's files live: the SQL migrations and the local data directory.

The package runs from a checkout (Airflow's plugins/ folder or an editable install), so the
repository root is two levels above this file; ``NEWS_SQL_DIR`` and ``NEWS_DATA_DIR`` override
it for other layouts (a container that mounts sql/ elsewhere).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def sql_dir() -> Path:
    return Path(os.environ.get("NEWS_SQL_DIR") or REPO_ROOT / "sql")


def data_dir() -> Path:
    """The directory for the embedded database and the local Airflow home (created on use)."""
    path = Path(os.environ.get("NEWS_DATA_DIR") or REPO_ROOT / ".data")
    path.mkdir(parents=True, exist_ok=True)
    return path
