"""Helpers shared by the test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from flattr_host.settings import Settings
from flattr_host.sim.client import SimProcess
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


def sim_env(home: Path, sim: SimProcess) -> dict[str, str]:
    return host_env(home, FLATTR_API_BASE=sim.base)


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
