"""Where the host keeps its database and logs."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "flattr-companion"
HOME_ENV = "FLATTR_HOST_HOME"


def data_home() -> Path:
    """``FLATTR_HOST_HOME`` (tests, portable installs) or the platform's user data dir."""
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override).expanduser().resolve()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override).expanduser().resolve() / "logs"
    import platformdirs

    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def database_path(home: Path) -> Path:
    return home / "companion.sqlite3"
