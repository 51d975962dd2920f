"""Fixtures shared by the suites that need the local Flattr server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flattr_host import logs
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


@pytest.fixture(scope="module")
def sim() -> Iterator[SimProcess]:
    with SimProcess(["--dedupe"]) as process:
        yield process


@pytest.fixture()
def fresh_sim(sim: SimProcess) -> SimProcess:
    sim.control.reset()
    sim.control.set_faults(script=[], reject_urls=[], dedupe=True)
    return sim


def make_home(path: Path, **settings: Any) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "settings.json").write_text(json.dumps({**FAST_SETTINGS, **settings}))
    return path


def sim_env(home: Path, sim: SimProcess) -> dict[str, str]:
    return host_env(home, FLATTR_API_BASE=sim.base)


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    """Tokens a test registered for redaction (some are one letter) must not redact the texts of
    the tests after it: every answer's message is redacted when it is read."""
    yield
    logs._secrets.clear()
