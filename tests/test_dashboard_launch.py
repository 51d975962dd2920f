"""Opening the dashboard: from the extension's ``open_dashboard`` (the host starts the window as a
separate process and answers at once; a second request focuses it), from the CLI, and what both
say when the gui extra is missing."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboardproc import offscreen_env
from flattr_host import cli, days
from flattr_host.dashboard import instance, launch
from helpers import queue_flattr
from hostproc import HostProcess

# Upper bound for a window process to come up (a limit for a clear failure, not a timing check).
START_LIMIT_SECONDS = 60.0


def _wait_for_window(home: Path) -> dict[str, int]:
    deadline = time.monotonic() + START_LIMIT_SECONDS
    while time.monotonic() < deadline:
        info = instance.running(home)
        if info is not None:
            return info
        time.sleep(0.1)
    log = home / "logs" / launch.LOG_FILE
    raise AssertionError(f"no dashboard window came up; its log:\n{_read(log)}")


def _read(path: Path) -> str:
    try:
        return path.read_text("utf-8", "replace")
    except OSError:
        return "(none)"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    return True


@pytest.fixture
def window_pids() -> Iterator[list[int]]:
    """Window processes a test started; stopped (by their own pid) at the end."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


@pytest.mark.skipif(launch.gui_installed() is False, reason="needs the gui extra")
def test_open_dashboard_starts_one_window_and_then_focuses_it(
    tmp_path: Path, window_pids: list[int]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with HostProcess(home, env=offscreen_env(home)) as host:
        first = host.request("open_dashboard", page="queue")
        assert first["ok"], first
        assert first["result"] == {"started": True, "focused": False}
        info = _wait_for_window(home)
        window_pids.append(info["pid"])
        # "started" came once the window was on screen, and the host answers while it runs.
        assert info.get("shown") is True
        assert host.request("status")["ok"]
        second = host.request("open_dashboard")
        assert second["result"] == {"started": False, "focused": True}
        assert instance.running(home) == info  # the same window, no second one
        assert _alive(info["pid"])
    # The window outlives the host that started it (the browser may close the host any time).
    assert _alive(info["pid"])
    os.kill(info["pid"], signal.SIGTERM)


@pytest.mark.skipif(launch.gui_installed() is False, reason="needs the gui extra")
def test_a_second_cli_dashboard_focuses_the_first(tmp_path: Path, window_pids: list[int]) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = offscreen_env(home)
    argv = [sys.executable, "-m", "flattr_host", "dashboard"]
    first = subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True
    )
    window_pids.append(first.pid)
    try:
        info = _wait_for_window(home)
        assert info["pid"] == first.pid
        second = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 0
        assert "already open" in second.stderr
        assert first.poll() is None
    finally:
        first.terminate()
        first.wait(30)


def test_without_the_gui_extra_the_cli_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLATTR_HOST_HOME", str(tmp_path))
    monkeypatch.setattr(launch, "gui_installed", lambda: False)
    assert cli.main(["dashboard"]) == 1
    err = capsys.readouterr().err
    assert launch.INSTALL_COMMAND in err
    assert '-m pip install "flattr-companion[gui]"' in err


def test_without_the_gui_extra_open_dashboard_answers_the_command(tmp_path: Path) -> None:
    # The host's Python without pywebview: a sitecustomize marks the module as absent.
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "sitecustomize.py").write_text("import sys\nsys.modules['webview'] = None\n")
    home = tmp_path / "home"
    home.mkdir()
    with HostProcess(home, env=offscreen_env(home, PYTHONPATH=str(shadow))) as host:
        reply = host.request("open_dashboard")
    assert not reply["ok"]
    assert reply["error"]["code"] == "gui_unavailable"
    assert reply["error"]["command"] == launch.INSTALL_COMMAND
    assert launch.INSTALL_COMMAND in reply["error"]["message"]
    assert instance.running(home) is None


@pytest.mark.skipif(launch.gui_installed() is False, reason="needs the gui extra")
def test_a_window_that_dies_at_start_is_reported_not_started(tmp_path: Path) -> None:
    # Qt cannot load the platform it is told to use: the window process ends before any window,
    # as it does when a system library is missing.
    home = tmp_path / "home"
    home.mkdir()
    env = {**offscreen_env(home), "QT_QPA_PLATFORM": "no-such-platform"}
    with HostProcess(home, env=env) as host:
        reply = host.request("open_dashboard")
        assert host.request("status")["ok"]  # and the host carries on
    assert not reply["ok"], reply
    error = reply["error"]
    assert error["code"] == "gui_unavailable"
    assert "could not start (This application failed to start" in error["message"]
    assert str(home / "logs" / launch.LOG_FILE) in error["message"]
    assert error["command"] == "flattr-host dashboard"
    assert not instance.focus(home)  # no window is left to answer


def test_stats_prints_the_figures_the_dashboard_draws(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from flattr_host import figures, paths, store
    from flattr_host.settings import Settings

    monkeypatch.setenv("FLATTR_HOST_HOME", str(tmp_path))
    settings = Settings()
    conn = store.connect(paths.database_path(tmp_path), settings)
    now = time.time()
    with store.transaction(conn):
        for days_ago, site in ((0, "a.example.org"), (0, "a.example.org"), (3, "b.example.net")):
            at = now - days_ago * 86_400
            queue_flattr(
                conn,
                f"https://{site}/",
                site=site,
                day=days.attention_day(at, settings),
                reason="manual",
                account_id=None,
                now=at,
            )
    expected = figures.history(conn, now, settings)
    conn.close()
    assert cli.main(["stats", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["per_day"] == expected["per_day"]
    assert sum(p["count"] for p in shown["per_day"]) == 3
    assert cli.main(["stats"]) == 0
    assert "a.example.org" in capsys.readouterr().out
