"""Self-healing at host start: stale manifests re-pointed, a launcher whose Python has gone
re-pinned, registry values restored; never an exception; and hello tells the extension."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from flattr_host.install import launcher, receipt, selfheal
from flattr_host.install.platform import LINUX, WINDOWS
from flattr_host.install.registry import HKCU, MemoryRegistry
from flattr_host.settings import Settings
from hostproc import CHROME_ID, HostProcess, host_env
from test_install import (
    HOST_FILE,
    LINUX_USER,
    desktop_env,
    install,
    make_platform,
    read,
    say_hello,
)

STORE_ID = "abcdefghijklmnopabcdefghijklmnop"


def test_a_stale_manifest_is_re_pointed_once(tmp_path: Path) -> None:
    platform = make_platform(tmp_path)
    install(platform, "chrome", "firefox")
    chrome = tmp_path / LINUX_USER["chrome"] / HOST_FILE
    good = chrome.read_bytes()
    data = json.loads(good)
    data["path"] = "/old/venv/bin/flattr-host"
    chrome.write_text(json.dumps(data))
    repairs = selfheal.heal(tmp_path / "data", Settings(), platform)
    assert repairs == [f"re-pointed {chrome} at {tmp_path / 'data' / launcher.POSIX_NAME}"]
    assert chrome.read_bytes() == good
    assert selfheal.heal(tmp_path / "data", Settings(), platform) == []


def test_new_store_ids_reach_the_manifests(tmp_path: Path) -> None:
    platform = make_platform(tmp_path)
    install(platform, "chrome", "firefox")
    settings = Settings(store_extension_ids=(STORE_ID,))
    repairs = selfheal.heal(tmp_path / "data", settings, platform)
    assert len(repairs) == 1 and "allowed extensions" in repairs[0]
    origins = read(tmp_path / LINUX_USER["chrome"] / HOST_FILE)["allowed_origins"]
    assert f"chrome-extension://{STORE_ID}/" in origins  # type: ignore[operator]


def test_a_deleted_manifest_comes_back_while_its_browser_folder_exists(tmp_path: Path) -> None:
    platform = make_platform(tmp_path)
    install(platform, "chrome", "firefox")
    (tmp_path / LINUX_USER["chrome"] / HOST_FILE).unlink()
    mozilla = tmp_path / LINUX_USER["firefox"]
    (mozilla / HOST_FILE).unlink()
    mozilla.rmdir()  # the browser's folder itself is gone: leave it gone
    repairs = selfheal.heal(tmp_path / "data", Settings(), platform)
    assert repairs == [f"rewrote {tmp_path / LINUX_USER['chrome'] / HOST_FILE}"]
    assert not mozilla.exists()


def test_a_launcher_whose_python_has_gone_is_re_pinned_and_works(tmp_path: Path) -> None:
    platform = make_platform(tmp_path)
    install(platform, "chrome")
    path = tmp_path / "data" / launcher.POSIX_NAME
    path.write_text(path.read_text().replace(sys.executable, "/gone/venv/bin/python"))
    repairs = selfheal.heal(tmp_path / "data", Settings(), platform)
    assert repairs == [f"re-pinned {path} to {sys.executable}"]
    assert launcher.pinned_interpreter(path.read_text()) == Path(sys.executable)
    record = receipt.load(tmp_path / "data" / receipt.FILE_NAME)
    assert record is not None and record.interpreter == sys.executable
    reply = say_hello(str(path), [f"chrome-extension://{CHROME_ID}/"], desktop_env(platform))
    assert reply["ok"] is True, reply


def test_a_working_launcher_is_never_hijacked(tmp_path: Path) -> None:
    platform = make_platform(tmp_path)
    install(platform, "chrome")
    path = tmp_path / "data" / launcher.POSIX_NAME
    other = tmp_path / "other-python"
    other.write_text("")
    path.write_text(path.read_text().replace(sys.executable, str(other)))
    before = path.read_text()
    assert selfheal.heal(tmp_path / "data", Settings(), platform) == []
    assert path.read_text() == before


def test_windows_registry_values_are_restored(tmp_path: Path) -> None:
    platform = make_platform(tmp_path, WINDOWS)
    registry = platform.registry
    assert isinstance(registry, MemoryRegistry)
    install(platform, "firefox")
    key = "SOFTWARE\\Mozilla\\NativeMessagingHosts\\org.flattr_companion.host"
    right = registry.values(HKCU, key)[""]
    registry.set_default(HKCU, key, "C:\\old\\manifest.json")
    assert selfheal.heal(tmp_path / "data", Settings(), platform) == [
        f"re-registered {HKCU}\\{key}"
    ]
    assert registry.values(HKCU, key)[""] == right


def test_nothing_to_heal_and_broken_states_never_raise(tmp_path: Path) -> None:
    platform = make_platform(tmp_path, LINUX)
    data = tmp_path / "data"
    assert selfheal.heal(data, Settings(), platform) == []  # not installed
    data.mkdir()
    (data / receipt.FILE_NAME).write_text("{not json")
    assert selfheal.heal(data, Settings(), platform) == []
    (data / receipt.FILE_NAME).write_text(json.dumps({"format": "something else"}))
    assert selfheal.heal(data, Settings(), platform) == []
    (data / receipt.FILE_NAME).unlink()
    install(platform, "chrome", "firefox")
    chrome = tmp_path / LINUX_USER["chrome"] / HOST_FILE
    chrome.unlink()
    chrome.mkdir()  # cannot be replaced by a file, even by root
    firefox = tmp_path / LINUX_USER["firefox"] / HOST_FILE
    firefox.write_text("{}")
    repairs = selfheal.heal(data, Settings(), platform)
    assert repairs == [f"rewrote {firefox}"], "one failure does not stop the other repairs"
    assert chrome.is_dir() and list(chrome.iterdir()) == []
    assert [p.name for p in chrome.parent.iterdir()] == [HOST_FILE], "no temporary file left"


def test_hello_reports_the_repairs_the_host_made_at_start(tmp_path: Path) -> None:
    platform = make_platform(tmp_path)
    install(platform, "chrome")
    chrome = tmp_path / LINUX_USER["chrome"] / HOST_FILE
    data = json.loads(chrome.read_text())
    data["path"] = "/old/place/flattr-host"
    chrome.write_text(json.dumps(data))
    with HostProcess(tmp_path / "data", env=host_env(tmp_path / "data")) as host:
        reply = host.request("hello")
        assert reply["ok"] is True
        assert reply["result"]["repairs"] == [
            f"re-pointed {chrome} at {tmp_path / 'data' / launcher.POSIX_NAME}"
        ]
        assert host.close() == 0
    assert read(chrome)["path"] == str(tmp_path / "data" / launcher.POSIX_NAME)
    with HostProcess(tmp_path / "data", env=host_env(tmp_path / "data")) as host:
        assert host.request("hello")["result"]["repairs"] == []
        assert host.close() == 0


def test_the_receipt_name_native_checks_is_the_one_install_writes() -> None:
    from flattr_host import native

    assert native.RECEIPT_FILE == receipt.FILE_NAME
