"""One end-to-end rig: a run folder, the local Flattr server (TLS), the content sites, the host
installed into the throwaway profile, and a browser with the extension loaded.

close() shuts the browser down gracefully, then checks that no process of the run is left (the
browser, its children, the hosts it launched) — a stray is killed by PID and reported.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from flattr_sim import SimProcess

from . import hostinstall, procs, stubext
from .browser import Browser
from .network import Network
from .run import RunDir
from .sites import ContentSites

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "e2e"
# A second flattr.com user whose token hostile pages try to plant.
MALLORY = "mallory"
MALLORY_TOKEN = "mallory-token-0123456789abcdef"
# The browser's children (and the hosts) get this long to exit after the browser did.
EXIT_GRACE_SECONDS = 8.0


class StrayProcesses(AssertionError):
    pass


def start_browser(name: str, run: RunDir, extension: Path, network: Network) -> Browser:
    if name == "chromium":
        from .chromium import ChromiumBrowser

        return ChromiumBrowser(run, extension, network)
    from .firefox import FirefoxBrowser

    return FirefoxBrowser(run, extension, network)


class Rig:
    def __init__(
        self,
        browser_name: str,
        label: str,
        extension: Callable[[Path], Path],
        settings: dict[str, Any] | None = None,
        install_host: bool = True,
    ) -> None:
        self.browser_name = browser_name
        self.label = label
        self.timings: dict[str, float] = {}
        started = time.monotonic()
        self.run = RunDir.create(f"{label}-{browser_name}")
        self.sim: SimProcess | None = None
        self.sites: ContentSites | None = None
        self.browser: Browser | None = None
        try:
            self.sim = SimProcess(tls=True, dedupe=True, log_path=self.run.root / "sim.log")
            self.sim.start()
            self.sim.control.add_user(MALLORY, token=MALLORY_TOKEN)
            self.sites = ContentSites(MALLORY_TOKEN)
            assert self.sim.spki, "the local Flattr server gave no SPKI hash"
            self.network = Network(self.sim_port, self.sites.port, self.sim.spki)
            (self.run.host_home / "settings.json").write_text(json.dumps(settings or {}))
            hostinstall.write_launcher(
                self.run.launcher,
                host_home=self.run.host_home,
                api_base=self.sim.base,
                ca_bundle=self.sim.ca,
                pid_file=self.run.host_pid_file,
            )
            self.manifest: Path | None = None
            if install_host:
                self.install_host()
            self.extension_dir = extension(self.run.root / "extension")
            self.timings["setup"] = time.monotonic() - started
            launched = time.monotonic()
            self.browser = start_browser(browser_name, self.run, self.extension_dir, self.network)
            self.timings["browser_start"] = time.monotonic() - launched
        except BaseException:
            self.close(check=False)
            raise

    @property
    def sim_port(self) -> int:
        assert self.sim is not None
        return int(self.sim.base.rsplit(":", 1)[1])

    @property
    def b(self) -> Browser:
        assert self.browser is not None
        return self.browser

    @property
    def control(self) -> Any:
        assert self.sim is not None
        return self.sim.control

    # --- the host -----------------------------------------------------------------------------
    def install_host(self) -> Path:
        self.manifest = hostinstall.install(
            self.browser_name,
            launcher=self.run.launcher,
            user_data_dir=self.run.profile,
            home=self.run.home,
        )
        return self.manifest

    def uninstall_host(self) -> None:
        if self.manifest is not None:
            self.manifest.unlink(missing_ok=True)
            self.manifest = None

    def host_pids(self) -> list[int]:
        return hostinstall.host_pids(self.run.host_pid_file)

    def live_host_pids(self) -> list[int]:
        return [pid for pid in self.host_pids() if procs.alive(pid)]

    def host_log(self) -> str:
        try:
            return self.run.host_log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        """Rows from the host's database, read-only (the host may be writing meanwhile)."""
        if not self.run.database.exists():
            return []
        conn = sqlite3.connect(f"file:{self.run.database}?mode=ro", uri=True, timeout=5)
        try:
            conn.row_factory = sqlite3.Row
            return [dict(row) for row in conn.execute(sql, params)]
        finally:
            conn.close()

    def accounts(self) -> list[dict[str, Any]]:
        return self.query(
            "SELECT id, username, token, subscription_active, signed_out_reason FROM accounts"
        )

    def stored_tokens(self) -> list[str]:
        return [a["token"] for a in self.accounts() if a["token"]]

    # --- teardown -----------------------------------------------------------------------------
    def keep_logs(self, reason: str) -> Path:
        """Copy the run's logs under artifacts/e2e/ (kept after a failure)."""
        target = ARTIFACTS / "logs" / f"{self.label}-{self.browser_name}"
        target.mkdir(parents=True, exist_ok=True)
        for source in (self.run.root / "sim.log", self.run.root / "firefox.log", self.run.host_log):
            if source.exists():
                shutil.copy(source, target / source.name)
        (target / "REASON.txt").write_text(reason + "\n")
        return target

    def close(self, check: bool = True, keep_logs: str | None = None) -> None:
        """Stop everything; with keep_logs (the reason), first save the logs as artifacts."""
        strays: list[int] = []
        try:
            if self.browser is not None:
                closing = time.monotonic()
                try:
                    self.browser.close()
                finally:
                    self.timings["browser_stop"] = time.monotonic() - closing
                # Hosts get end of input when the browser goes; give them a moment to finish.
                procs.wait_gone(procs.marked_pids(self.run.marker), EXIT_GRACE_SECONDS)
            strays = procs.stop_marked(self.run.marker)
        finally:
            if keep_logs:
                self.keep_logs(keep_logs)
            if self.sites is not None:
                self.sites.close()
            if self.sim is not None:
                self.sim.close()
            self.run.remove()
        if check and strays:
            raise StrayProcesses(f"processes of the run outlived the browser: {strays}")


# The host's figures for the scenarios (settings.json in FLATTR_HOST_HOME): thresholds a test can
# cross in seconds, quick submission and retries. The product's defaults stay untouched.
E2E_SETTINGS: dict[str, Any] = {
    "thresholds": [3, 6],
    "audio_thresholds": [4, 8],
    "submit_delay": 0.2,
    "backoff_base": 0.3,
    "backoff_factor": 2.0,
    "backoff_max": 1.0,
    "request_timeout": 5.0,
}
# What each module's rig cost, for the summary at the end of the run.
TIMINGS: list[dict[str, Any]] = []


def stub_extension(browser: str) -> Callable[[Path], Path]:
    return lambda directory: stubext.write_stub(directory, browser)


@contextmanager
def open_rig(
    request: pytest.FixtureRequest,
    browser: str,
    extension: Callable[[Path], Path],
    **options: Any,
) -> Iterator[Rig]:
    """A rig for the requesting module; its logs are kept as artifacts when a test failed."""
    label = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    failed_before = request.session.testsfailed
    started = time.monotonic()
    rig = Rig(browser, label, extension, **options)
    try:
        yield rig
    finally:
        failed = request.session.testsfailed > failed_before
        try:
            rig.close(keep_logs=f"a test of {label} failed in {browser}" if failed else None)
        finally:
            TIMINGS.append(
                {
                    "module": label,
                    "browser": browser,
                    **{k: round(v, 2) for k, v in rig.timings.items()},
                    "total": round(time.monotonic() - started, 2),
                }
            )
