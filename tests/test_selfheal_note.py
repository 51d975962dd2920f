"""The note that lets a host start skip self-healing while nothing it looked at has changed: it
must never keep a repair from happening."""

from __future__ import annotations

import json
from pathlib import Path

from flattr_host.install import healthy, launcher, selfheal
from flattr_host.settings import Settings
from hostproc import HostProcess, host_env
from test_install import HOST_FILE, LINUX_USER, install, make_platform

IDS = Settings().extension_ids


def clean_heal(tmp_path: Path) -> list[str]:
    platform = make_platform(tmp_path)
    install(platform, "chrome")
    watched: list[str] = []
    assert selfheal.heal(tmp_path / "data", Settings(), platform, watched=watched) == []
    healthy.save(tmp_path / "data", watched, IDS)
    return watched


def hello_repairs(data: Path) -> list[str]:
    with HostProcess(data, env=host_env(data)) as host:
        reply = host.request("hello")
        assert reply["ok"] is True, reply
        assert host.close() == 0
    repairs: list[str] = reply["result"]["repairs"]
    return repairs


def test_a_clean_install_is_noted_and_the_note_holds(tmp_path: Path) -> None:
    watched = clean_heal(tmp_path)
    chrome = tmp_path / LINUX_USER["chrome"] / HOST_FILE
    assert str(chrome) in watched and str(tmp_path / "data" / launcher.POSIX_NAME) in watched
    assert healthy.unchanged(tmp_path / "data", IDS)


def test_any_change_voids_the_note(tmp_path: Path) -> None:
    clean_heal(tmp_path)
    data = tmp_path / "data"
    assert not healthy.unchanged(data, (*IDS, "abcdefghijklmnopabcdefghijklmnop"))
    chrome = tmp_path / LINUX_USER["chrome"] / HOST_FILE
    chrome.write_text(chrome.read_text().replace('"name"', ' "name"'))
    assert not healthy.unchanged(data, IDS)


def test_a_browser_folder_appearing_or_going_voids_the_note(tmp_path: Path) -> None:
    watched = clean_heal(tmp_path)
    chrome_dir = (tmp_path / LINUX_USER["chrome"] / HOST_FILE).parent
    assert f"{chrome_dir}/" in watched
    (chrome_dir / HOST_FILE).unlink()
    chrome_dir.rmdir()
    assert not healthy.unchanged(tmp_path / "data", IDS)


def test_a_manifest_broken_after_a_clean_start_is_still_repaired(tmp_path: Path) -> None:
    platform = make_platform(tmp_path)
    install(platform, "chrome")
    data = tmp_path / "data"
    assert hello_repairs(data) == []
    assert (data / healthy.STAMP_FILE).exists()  # the clean start was noted
    assert hello_repairs(data) == []  # and the note trusted
    chrome = tmp_path / LINUX_USER["chrome"] / HOST_FILE
    stale = json.loads(chrome.read_text())
    stale["path"] = "/old/place/flattr-host"
    chrome.write_text(json.dumps(stale))
    assert hello_repairs(data) == [f"re-pointed {chrome} at {data / launcher.POSIX_NAME}"]
