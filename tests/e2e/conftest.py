"""End-to-end tests in real Chromium and Firefox (marker `e2e`).

Each test module gets one rig per browser (module-scoped, parametrised), so a browser starts once
per module and browser. Timings of every rig are printed at the end and saved under
artifacts/e2e/timings.json.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from . import chromium, extbuild, firefox
from .companion import Companion
from .rig import ARTIFACTS, E2E_SETTINGS, TIMINGS, Rig, open_rig

BROWSERS = ("chromium", "firefox")
E2E_DIR = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: end to end in real Chromium and Firefox (tests/e2e; slow-ish)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.e2e)


def require_browser(name: str) -> None:
    """Skip loudly, naming the fix, when the browser is not installed — and for no other reason."""
    binary, command = {
        "chromium": (chromium.EXECUTABLE, chromium.INSTALL_COMMAND),
        "firefox": (firefox.EXECUTABLE, firefox.INSTALL_COMMAND),
    }[name]
    if not binary.exists():
        pytest.skip(f"{name} is NOT INSTALLED ({binary} missing): run `{command}`")


@pytest.fixture(scope="module", params=BROWSERS)
def browser_name(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    require_browser(name)
    return name


@pytest.fixture(scope="session")
def built_extension() -> Iterator[dict[str, Path]]:
    """The real extension, built once per session by scripts/build-extension."""
    with tempfile.TemporaryDirectory(prefix="flattr-e2e-build-") as out:
        yield extbuild.build(Path(out))


@pytest.fixture(scope="module")
def real_extension(built_extension: dict[str, Path], browser_name: str) -> Callable[[Path], Path]:
    return lambda directory: built_extension[browser_name]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not TIMINGS:
        return
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "timings.json").write_text(json.dumps(TIMINGS, indent=2) + "\n")
    terminalreporter.section("e2e timings (seconds)")
    for row in TIMINGS:
        rest = ", ".join(f"{k} {v}" for k, v in row.items() if k not in ("module", "browser"))
        terminalreporter.write_line(f"{row['module']:>14} {row['browser']:<9} {rest}")


@pytest.fixture(scope="module")
def rig(
    request: pytest.FixtureRequest, browser_name: str, real_extension: Callable[[Path], Path]
) -> Iterator[Rig]:
    """One rig per test module and browser; a module tunes it with ``RIG_OPTIONS``."""
    options = {"settings": E2E_SETTINGS, **getattr(request.module, "RIG_OPTIONS", {})}
    with open_rig(request, browser_name, real_extension, **options) as rig:
        yield rig


@pytest.fixture(scope="module")
def companion(rig: Rig) -> Companion:
    """The extension in the module's browser, as a person drives it."""
    return Companion(rig)


@pytest.fixture(scope="module")
def signed_in(companion: Companion) -> Companion:
    """Signed in once for the module: ``pytestmark = pytest.mark.usefixtures("signed_in")``."""
    companion.sign_in()
    return companion


@pytest.fixture(scope="module")
def host_ready(companion: Companion) -> Companion:
    companion.wait_host_ready()
    return companion
