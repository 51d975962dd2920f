"""`flattr-host doctor`: each broken case caught with its fix, Snap/Flatpak/policy recognised, and
the host started as each browser starts it."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from flattr_host.install import doctor, launcher
from flattr_host.install.platform import MACOS, SYSTEM, WINDOWS, Platform
from flattr_host.install.registry import HKLM, MemoryRegistry
from flattr_host.settings import Settings
from helpers import firefox_user_env, run_cli
from hostproc import CHROME_ID, FIREFOX_ID
from test_install import HOST_FILE, install, make_platform

CHROME_DIR = "xdg-config/google-chrome/NativeMessagingHosts"
FAST = 10.0  # seconds: the timeout for hosts that should answer


def check(platform: Platform, *names: str, timeout: float = FAST) -> tuple[int, str]:
    sections = doctor.run(platform, Settings(), names=list(names) or None, timeout=timeout)
    return doctor.exit_status(sections), "\n".join(doctor.render(sections))


def fail_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("FAIL")]


def test_a_sound_install_passes_and_the_host_answers_as_each_browser_starts_it(
    tmp_path: Path,
) -> None:
    platform = make_platform(tmp_path)
    install(platform, "chrome", "firefox")
    code, text = check(platform, "chrome", "firefox")
    assert code == 0, text
    assert text.count("answered hello") == 2, text
    assert "started as Google Chrome starts it" in text
    assert "started as Firefox starts it" in text
    assert "Everything works." in text


def _break_missing(manifest: Path) -> None:
    manifest.unlink()


def _break_wrong_path(manifest: Path) -> None:
    data = json.loads(manifest.read_text())
    data["path"] = "/nonexistent/old-venv/bin/flattr-host"
    manifest.write_text(json.dumps(data))


def _break_not_executable(manifest: Path) -> None:
    Path(json.loads(manifest.read_text())["path"]).chmod(0o644)


def _break_wrong_id(manifest: Path) -> None:
    data = json.loads(manifest.read_text())
    data["allowed_origins"] = ["chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"]
    manifest.write_text(json.dumps(data))


def _break_bad_json(manifest: Path) -> None:
    manifest.write_text('{"name": "org.flattr_companion.host", "path": ')


def _break_relative_path(manifest: Path) -> None:
    data = json.loads(manifest.read_text())
    data["path"] = "flattr-host-launcher"
    manifest.write_text(json.dumps(data))


BROKEN = {
    "missing": (
        _break_missing,
        "no manifest where Google Chrome looks",
        "install --browser chrome",
    ),
    "wrong path": (_break_wrong_path, "which does not exist", "install --browser chrome"),
    "not executable": (_break_not_executable, "is not executable", "chmod 755 "),
    "wrong id": (_break_wrong_id, f"does not allow chrome-extension://{CHROME_ID}/", "install"),
    "bad JSON": (_break_bad_json, "is not valid JSON", "install --browser chrome"),
    "relative path": (_break_relative_path, "must be absolute", "install --browser chrome"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_doctor_catches_each_broken_case_with_its_fix(tmp_path: Path, case: str) -> None:
    platform = make_platform(tmp_path)
    install(platform, "chrome")
    breaker, message, fix = BROKEN[case]
    breaker(tmp_path / CHROME_DIR / HOST_FILE)
    code, text = check(platform, "chrome")
    assert code == 1, text
    failures = fail_lines(text)
    assert failures, text
    assert any(message in line and fix in line.partition(". Run: ")[2] for line in failures), text
    assert all(". Run: " in line for line in failures), "every failure says what to run"


def test_the_fix_command_works(tmp_path: Path) -> None:
    platform = make_platform(tmp_path)
    install(platform, "chrome")
    _break_wrong_path(tmp_path / CHROME_DIR / HOST_FILE)
    assert check(platform, "chrome")[0] == 1
    install(platform, "chrome")  # what the fix line says to run
    assert check(platform, "chrome")[0] == 0


def test_a_launcher_whose_interpreter_is_gone(tmp_path: Path) -> None:
    platform = make_platform(tmp_path)
    install(platform, "firefox")
    path = tmp_path / "data" / launcher.POSIX_NAME
    text = path.read_text().replace(sys.executable, str(tmp_path / "gone/bin/python"))
    path.write_text(text)
    code, text = check(platform, "firefox")
    assert code == 1
    assert any("no longer exists" in line and "install" in line for line in fail_lines(text))


def test_a_host_that_does_not_answer_or_writes_junk(tmp_path: Path) -> None:
    platform = make_platform(tmp_path)
    install(platform, "chrome")
    path = tmp_path / "data" / launcher.POSIX_NAME
    path.write_text("#!/bin/sh\nexec sleep 30\n")
    code, text = check(platform, "chrome", timeout=0.5)
    assert code == 1 and "no answer to hello within 0.5 s" in text, text
    path.write_text("#!/bin/sh\necho 'Python 3 starting...'\ncat >/dev/null\n")
    code, text = check(platform, "chrome")
    assert code == 1 and "is not native-messaging frames" in text, text
    path.write_text("#!/bin/sh\necho 'boom: no module named flattr_host' >&2\nexit 1\n")
    code, text = check(platform, "chrome")
    assert code == 1 and "exited (status 1)" in text and "boom" in text, text
    assert any("< /dev/null" in line for line in fail_lines(text)), "how to see the error"


def test_policy_that_disables_per_user_hosts(tmp_path: Path) -> None:
    platform = make_platform(tmp_path)
    install(platform, "chrome")
    policies = tmp_path / "root/etc/opt/chrome/policies/managed"
    policies.mkdir(parents=True)
    (policies / "corp.json").write_text(json.dumps({"NativeMessagingUserLevelHosts": False}))
    code, text = check(platform, "chrome")
    assert code == 1
    assert any(
        "disables per-user hosts" in line and "sudo " in line and "--system" in line
        for line in fail_lines(text)
    ), text
    install(platform, "chrome", scope=SYSTEM)  # the fix
    code, text = check(platform, "chrome")
    assert code == 0, text


def test_policy_that_blocks_every_host_unless_allowed(tmp_path: Path) -> None:
    platform = make_platform(tmp_path)
    install(platform, "edge")
    policies = tmp_path / "root/etc/opt/edge/policies/managed"
    policies.mkdir(parents=True)
    (policies / "a.json").write_text(json.dumps({"NativeMessagingBlocklist": ["*"]}))
    code, text = check(platform, "edge")
    assert (
        code == 1 and "blocks native-messaging hosts" in text and "NativeMessagingAllowlist" in text
    )
    (policies / "b.json").write_text(
        json.dumps({"NativeMessagingAllowlist": ["org.flattr_companion.host"]})
    )
    assert check(platform, "edge")[0] == 0


def test_windows_policy_in_the_registry(tmp_path: Path) -> None:
    platform = make_platform(tmp_path, WINDOWS)
    registry = platform.registry
    assert isinstance(registry, MemoryRegistry)
    install(platform, "chrome")
    registry.set_value(
        HKLM, "SOFTWARE\\Policies\\Google\\Chrome", "NativeMessagingUserLevelHosts", 0
    )
    code, text = check(platform, "chrome")
    assert code == 1 and "disables per-user hosts" in text and "administrator" in text, text


def test_snap_chromium_is_named_with_what_to_do_instead(tmp_path: Path) -> None:
    platform = make_platform(tmp_path)
    snap = tmp_path / "root/snap/bin/chromium"
    snap.parent.mkdir(parents=True)
    snap.write_text("")
    code, text = check(platform)
    assert code == 1
    [line] = fail_lines(text)
    assert "Snap Chromium" in line and "cannot start native-messaging hosts" in line
    assert "flatpak install --user flathub org.chromium.Chromium" in line
    assert "install --browser chromium-flatpak" in line


def test_snap_firefox_works_through_the_portal(tmp_path: Path) -> None:
    platform = make_platform(tmp_path)
    (tmp_path / "home/snap/firefox").mkdir(parents=True)
    install(platform, "firefox")
    code, text = check(platform)
    assert code == 0, text
    assert "WebExtensions portal" in text


def test_flatpak_needs_its_permission_then_works(tmp_path: Path) -> None:
    platform = make_platform(tmp_path)
    (tmp_path / "home/.var/app/com.google.Chrome").mkdir(parents=True)
    code, text = check(platform)
    assert code == 1 and "Run: " in text and "install --browser chrome-flatpak" in text, text
    install(platform, "chrome-flatpak")
    code, text = check(platform)
    assert code == 1
    assert any(
        "flatpak override --user --talk-name=org.freedesktop.Flatpak com.google.Chrome" in line
        for line in fail_lines(text)
    ), text
    overrides = tmp_path / "xdg-data/flatpak/overrides"
    overrides.mkdir(parents=True)
    (overrides / "com.google.Chrome").write_text(
        "[Session Bus Policy]\norg.freedesktop.Flatpak=talk\n"
    )
    code, text = check(platform)
    assert code == 0, text
    assert "answered hello" in text and "outside the sandbox" in text


def test_macos_layout_is_checked_and_started(tmp_path: Path) -> None:
    platform = make_platform(tmp_path, MACOS)
    (tmp_path / "home/Library/Application Support/BraveSoftware/Brave-Browser").mkdir(parents=True)
    install(platform)
    code, text = check(platform)
    assert code == 0, text
    assert "Brave" in text and "answered hello" in text
    (
        tmp_path / "home/Library/Application Support/Google/Chrome/NativeMessagingHosts" / HOST_FILE
    ).unlink()
    (tmp_path / "home/Library/Application Support/BraveSoftware/Brave-Browser/NativeMessagingHosts"
     / HOST_FILE).unlink()  # fmt: skip
    code, text = check(platform)
    assert code == 1 and "install --browser brave" in text


def test_windows_registry_is_checked(tmp_path: Path) -> None:
    platform = make_platform(tmp_path, WINDOWS)
    (tmp_path / "RoamingAppData/Mozilla/Firefox").mkdir(parents=True)
    code, text = check(platform)
    assert code == 1
    assert "HKEY_CURRENT_USER\\SOFTWARE\\Mozilla\\NativeMessagingHosts" in text
    assert "install --browser firefox" in text
    install(platform)
    code, text = check(platform)
    assert code == 0, text
    assert "not started: windows is simulated" in text
    (tmp_path / "data/native-messaging-hosts/firefox" / HOST_FILE).unlink()
    code, text = check(platform)
    assert code == 1 and "the manifest file does not exist" in text


def test_no_browser_at_all_fails_with_a_command(tmp_path: Path) -> None:
    code, text = check(make_platform(tmp_path))
    assert code == 1
    assert any("no browser found" in line and "--browser" in line for line in fail_lines(text))


def test_cli_doctor_exit_status(tmp_path: Path) -> None:
    env = firefox_user_env(tmp_path)

    bad = run_cli(env, "doctor", "--browser", "firefox")
    assert bad.returncode == 1, bad.stdout
    assert "install --browser firefox" in bad.stdout
    assert run_cli(env, "install", "--browser", "firefox").returncode == 0
    good = run_cli(env, "doctor", "--browser", "firefox")
    assert good.returncode == 0, good.stdout
    assert "answered hello" in good.stdout
    assert os.path.exists(tmp_path / "data" / launcher.POSIX_NAME)
    assert FIREFOX_ID not in bad.stderr


def test_a_broken_settings_file_is_named_with_its_fix_and_the_host_says_the_same(
    tmp_path: Path,
) -> None:
    platform = make_platform(tmp_path)
    install(platform, "chrome")
    settings = platform.data_home / "settings.json"
    settings.write_text('{"mode": "everything"}')
    code, text = check(platform, "chrome")
    assert code == 1, text
    fix = f"mv {settings} {settings}.broken"
    lines = fail_lines(text)
    assert len(lines) == 2, text
    assert lines[0].startswith(f"FAIL  {settings} is not usable: line 1, column 2: ")
    assert '"mode" must be one of "all", "enabled", "metadata", not "everything"' in lines[0]
    assert (
        "host started as Google Chrome starts it failed: the host answered settings_invalid"
        in (lines[1])
    )
    assert all(line.endswith(f"Run: {fix}") for line in lines), text
    settings.rename(f"{settings}.broken")  # the fix it names works
    assert check(platform, "chrome")[0] == 0
