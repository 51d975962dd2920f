"""Helpers shared by the test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flattr_host import accounts, flattrs, store
from flattr_host.settings import Settings
from flattr_sim import SimProcess
from hostproc import host_env

# Quick figures for tests that wait for retries; the named settings stay the product's defaults.
FAST_SETTINGS: dict[str, Any] = {
    "backoff_base": 0.2,
    "backoff_factor": 2.0,
    "backoff_max": 1.0,
    "submit_delay": 0.0,
    "request_timeout": 5.0,
}
# How long one `flattr-host` command may take before the test fails instead of hanging.
CLI_TIMEOUT = 120


def make_home(path: Path, **settings: Any) -> Path:
    """A data home whose settings.json holds the quick figures (and ``settings`` over them)."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "settings.json").write_text(json.dumps({**FAST_SETTINGS, **settings}))
    return path


def fast_settings(sim: SimProcess, **overrides: Any) -> Settings:
    """The quick figures as a Settings object, sending to ``sim``."""
    return Settings(**{"api_base": sim.base, **FAST_SETTINGS, **overrides})


@contextmanager
def signed_in_db(
    path: Path, settings: Settings, now: float
) -> Iterator[tuple[sqlite3.Connection, int]]:
    """A new database in ``path`` with an account signed in at ``now``: (connection, account id)."""
    conn = store.connect(path / "host.db", settings)
    try:
        with store.transaction(conn):
            account = accounts.sign_in(conn, "token-for-tests", True, now)
        yield conn, account.id
    finally:
        conn.close()


def queue_flattr(
    conn: sqlite3.Connection,
    url: str,
    *,
    site: str,
    day: str,
    account_id: int | None,
    now: float,
    reason: str = "attention",
    title: str | None = None,
) -> int:
    """Queue a flattr of ``url`` (its own page) as the host does once a visit earned it; call
    inside a transaction. Returns its id."""
    return flattrs.enqueue(
        conn,
        url=url,
        page_url=url,
        site=site,
        title=title,
        day=day,
        reason=reason,
        account_id=account_id,
        now=now,
    )


def sim_env(home: Path, sim: SimProcess) -> dict[str, str]:
    return host_env(home, FLATTR_API_BASE=sim.base)


def firefox_user_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A user with Firefox (a ~/.mozilla) and nothing else, data in tmp_path/data, the system's
    PATH only: what ``flattr-host install`` and ``doctor`` meet on a fresh machine."""
    home = tmp_path / "home"
    (home / ".mozilla").mkdir(parents=True)
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "FLATTR_HOST_HOME": str(tmp_path / "data")}
    return {**env, **extra}


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``flattr-host <args>`` as a person runs it, without a terminal on stdin."""
    return subprocess.run(
        [sys.executable, "-m", "flattr_host", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
