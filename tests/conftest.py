"""Fixtures shared by the suites that need the local Flattr server (helpers are in helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flattr_host import logs
from flattr_sim import SimProcess


def _dedupe(request: pytest.FixtureRequest) -> bool:
    # A module sets SIM_DEDUPE = False where a flattr sent twice must show up twice.
    return bool(getattr(request.module, "SIM_DEDUPE", True))


@pytest.fixture(scope="module")
def sim(request: pytest.FixtureRequest) -> Iterator[SimProcess]:
    """One local Flattr server process for the module."""
    with SimProcess(dedupe=_dedupe(request)) as process:
        yield process


@pytest.fixture()
def fresh_sim(sim: SimProcess, request: pytest.FixtureRequest) -> SimProcess:
    """The module's server, with its flattrs and faults cleared."""
    sim.control.reset()
    sim.control.set_faults(script=[], reject_urls=[], dedupe=_dedupe(request))
    return sim


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    """Tokens a test registered for redaction (some are one letter) must not redact the texts of
    the tests after it: every answer's message is redacted when it is read."""
    yield
    logs._secrets.clear()


@pytest.fixture()
def users_sim(sim: SimProcess) -> SimProcess:
    """The module's server with its flattrs and users cleared."""
    sim.control.reset(users=True)
    return sim
