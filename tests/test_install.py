"""`flattr-host install | uninstall`: every browser's layout on Linux, macOS (a temporary HOME, XDG
dirs and system root) and Windows (an in-memory registry), and an installed host that answers."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from flattr_host.install import (
    browsers,
    commands,
    doctor,
    installer,
    launcher,
    manifest,
    receipt,
    trust,
)
from flattr_host.install.platform import LINUX, MACOS, SYSTEM, USER, WINDOWS, Platform
from flattr_host.install.registry import HKCU, HKLM, MemoryRegistry
from flattr_host.settings import Settings
from helpers import firefox_user_env, run_cli
from hostproc import CHROME_ID, FIREFOX_ID, HEADER

HOST_FILE = "org.flattr_companion.host.json"


# --- helpers shared with test_doctor and test_selfheal -------------------------------------------


def make_platform(tmp_path: Path, os_name: str = LINUX, *, xdg: bool = True) -> Platform:
    """A whole machine under tmp_path: HOME, XDG dirs, a system root, an empty PATH."""
    home, root, data, bindir = (tmp_path / n for n in ("home", "root", "data", "bin"))
    for folder in (home, root, bindir):
        folder.mkdir(parents=True, exist_ok=True)
    env = {
        "HOME": str(home),
        "USER": "tester",
        "PATH": str(bindir),
        "FLATTR_HOST_HOME": str(data),
    }
    if xdg:
        env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg-config")
        env["XDG_DATA_HOME"] = str(tmp_path / "xdg-data")
    if os_name == WINDOWS:
        env.update(
            LOCALAPPDATA=str(tmp_path / "LocalAppData"),
            APPDATA=str(tmp_path / "RoamingAppData"),
            PROGRAMDATA=str(tmp_path / "ProgramData"),
        )
    return Platform(
        os=os_name,
        home=home,
        env=env,
        data_home=data,
        executable=Path(sys.executable).absolute(),
        root=root,
        registry=MemoryRegistry() if os_name == WINDOWS else None,
    )


def install(
    platform: Platform,
    *names: str,
    scope: str = USER,
    settings: Settings | None = None,
    source: Path | None = None,
) -> installer.Plan:
    targets, problems = installer.resolve(list(names), platform, scope)
    assert not problems
    plan = installer.plan(platform, settings or Settings(), targets, scope, source=source)
    installer.apply(plan, platform, lambda line: None)
    return plan


def uninstall(platform: Platform, scope: str = USER) -> list[str]:
    said: list[str] = []
    assert installer.uninstall(platform, scope, dry_run=False, say=said.append) == 0
    return said


def snapshot(tmp_path: Path) -> dict[str, tuple[int, bytes]]:
    """Every file and folder under tmp_path, with mode and content."""
    tree: dict[str, tuple[int, bytes]] = {}
    for path in sorted(tmp_path.rglob("*")):
        info = path.lstat()
        tree[str(path)] = (info.st_mode, b"" if path.is_dir() else path.read_bytes())
    return tree


def read(path: Path) -> dict[str, object]:
    data = json.loads(path.read_text())
    assert isinstance(data, dict)
    return data


def say_hello(program: str, args: list[str], env: dict[str, str]) -> dict[str, object]:
    """Start ``program`` as a browser does (cwd: its folder) and round-trip hello."""
    payload = json.dumps({"id": 1, "type": "hello"}).encode()
    done = subprocess.run(
        [program, *args],
        input=HEADER.pack(len(payload)) + payload,
        capture_output=True,
        cwd=str(Path(program).parent),
        env=env,
        timeout=20,
    )
    assert len(done.stdout) >= HEADER.size, done.stderr.decode()
    (length,) = HEADER.unpack(done.stdout[: HEADER.size])
    reply = json.loads(done.stdout[HEADER.size : HEADER.size + length])
    assert isinstance(reply, dict)
    return reply


def desktop_env(platform: Platform) -> dict[str, str]:
    """What a browser started from a menu has: no venv on PATH, no FLATTR_HOST_HOME."""
    return {"HOME": platform.env["HOME"], "PATH": "/usr/bin:/bin"}


# --- templates and manifests -------------------------------------------------------------------


def test_templates_are_json_objects_naming_the_host() -> None:
    for family in manifest.FAMILIES:
        data = read(manifest.TEMPLATE_DIR / f"{family}.json")
        assert data == manifest.template(family)
        assert data["name"] == manifest.HOST_NAME
        assert manifest.NAME_PATTERN.match(str(data["name"]))
        assert data["type"] == "stdio"
        assert data[manifest.ALLOW_FIELD[family]] == []


def test_a_missing_template_says_to_reinstall(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(manifest, "TEMPLATE_DIR", tmp_path)
    with pytest.raises(ValueError, match="reinstall flattr-companion"):
        manifest.build(manifest.CHROMIUM, "/opt/x/launcher", Settings())


def test_install_with_a_missing_template_says_to_reinstall_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    platform = make_platform(tmp_path)
    before = snapshot(tmp_path)
    monkeypatch.setattr(manifest, "TEMPLATE_DIR", tmp_path / "gone")
    assert commands.install(platform, Settings(), ["chrome"], False, False, source_probe=False) == 1
    assert "reinstall flattr-companion" in capsys.readouterr().err
    assert snapshot(tmp_path) == before


def test_manifests_allow_the_dev_id_store_ids_and_the_firefox_id() -> None:
    settings = Settings(store_extension_ids=("abcdefghijklmnopabcdefghijklmnop",))
    chromium = manifest.build(manifest.CHROMIUM, "/opt/x/launcher", settings)
    assert chromium["allowed_origins"] == [
        f"chrome-extension://{CHROME_ID}/",
        "chrome-extension://abcdefghijklmnopabcdefghijklmnop/",
    ]
    assert "allowed_extensions" not in chromium
    assert chromium["path"] == "/opt/x/launcher" and chromium["type"] == "stdio"
    firefox = manifest.build(manifest.FIREFOX, "/opt/x/launcher", settings)
    assert firefox["allowed_extensions"] == [FIREFOX_ID]
    assert "allowed_origins" not in firefox
    for origin in chromium["allowed_origins"]:
        assert manifest.CHROMIUM_ID_PATTERN.match(origin[len("chrome-extension://") : -1])


# --- Linux -------------------------------------------------------------------------------------

LINUX_USER = {
    "chrome": "xdg-config/google-chrome/NativeMessagingHosts",
    "chrome-beta": "xdg-config/google-chrome-beta/NativeMessagingHosts",
    "chrome-dev": "xdg-config/google-chrome-unstable/NativeMessagingHosts",
    "chromium": "xdg-config/chromium/NativeMessagingHosts",
    "edge": "xdg-config/microsoft-edge/NativeMessagingHosts",
    "edge-beta": "xdg-config/microsoft-edge-beta/NativeMessagingHosts",
    "brave": "xdg-config/BraveSoftware/Brave-Browser/NativeMessagingHosts",
    "vivaldi": "xdg-config/vivaldi/NativeMessagingHosts",
    # Firefox keeps ~/.mozilla whatever XDG_CONFIG_HOME says.
    "firefox": "home/.mozilla/native-messaging-hosts",
}


def test_linux_user_install_writes_where_each_browser_reads(tmp_path: Path) -> None:
    platform = make_platform(tmp_path)
    install(platform, *LINUX_USER)
    launcher_file = tmp_path / "data" / launcher.POSIX_NAME
    assert launcher_file.stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "data").stat().st_mode & 0o777 == 0o700, "the host's private data folder"
    for key, folder in LINUX_USER.items():
        path = tmp_path / folder / HOST_FILE
        data = read(path)
        assert data["path"] == str(launcher_file), key
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, "world-readable"
        family = browsers.BY_KEY[key].family
        field = manifest.ALLOW_FIELD[family]
        assert data[field] == manifest.expected_allow_list(family, Settings())
    assert not (tmp_path / "home" / ".config").exists(), "XDG_CONFIG_HOME was not followed"


def test_linux_without_xdg_uses_dot_config(tmp_path: Path) -> None:
    platform = make_platform(tmp_path, xdg=False)
    install(platform, "chrome")
    assert (tmp_path / "home/.config/google-chrome/NativeMessagingHosts" / HOST_FILE).is_file()


def test_auto_installs_for_the_browsers_found_and_not_for_a_snap_shim(tmp_path: Path) -> None:
    platform = make_platform(tmp_path)
    (tmp_path / "xdg-config" / "google-chrome").mkdir(parents=True)  # Chrome has run here
    vivaldi = tmp_path / "bin" / "vivaldi"  # Vivaldi is on PATH
    vivaldi.write_text("#!/bin/sh\n")
    vivaldi.chmod(0o755)
    shim = tmp_path / "bin" / "chromium-browser"  # Ubuntu's script that starts the Snap
    shim.write_text('#!/bin/sh\nexec /snap/bin/chromium "$@"\n')
    shim.chmod(0o755)
    plan = install(platform)
    keys = {k for w in plan.files for k in w.entry.browsers}
    assert keys == {"chrome", "vivaldi"}


def test_no_browser_found_installs_nothing(tmp_path: Path) -> None:
    platform = make_platform(tmp_path)
    targets, problems = installer.resolve([], platform, USER)
    assert targets == [] and problems == []


def test_unknown_and_unsupported_browsers_are_refused(tmp_path: Path) -> None:
    platform = make_platform(tmp_path)
    _, problems = installer.resolve(["netscape"], platform, USER)
    assert "unknown browser 'netscape'" in problems[0] and "chrome-beta" in problems[0]
    _, problems = installer.resolve(["chrome-flatpak"], platform, SYSTEM)
    assert "per user only" in problems[0]


@pytest.mark.parametrize(
    ("libdirs", "expected"),
    [
        (["usr/lib64/firefox"], ["usr/lib64/mozilla"]),
        (["usr/lib/firefox-esr"], ["usr/lib/mozilla"]),
        ([], ["usr/lib/mozilla", "usr/lib64/mozilla"]),  # unknown: both
    ],
)
def test_linux_system_install(tmp_path: Path, libdirs: list[str], expected: list[str]) -> None:
    platform = make_platform(tmp_path)
    root = tmp_path / "root"
    for libdir in libdirs:
        (root / libdir).mkdir(parents=True)
    install(platform, "chrome", "chrome-beta", "chromium", "edge", "brave", "vivaldi", "firefox",
            scope=SYSTEM)  # fmt: skip
    system_launcher = root / "usr/local/lib/flattr-companion" / launcher.POSIX_NAME
    for folder in (
        "etc/opt/chrome/native-messaging-hosts",  # every Chrome channel
        "etc/chromium/native-messaging-hosts",
        "etc/opt/edge/native-messaging-hosts",
        "etc/opt/brave/native-messaging-hosts",
        "etc/opt/vivaldi/native-messaging-hosts",
    ):
        assert read(root / folder / HOST_FILE)["path"] == str(system_launcher)
    mozilla = sorted(str(p.parent.parent.relative_to(root)) for p in root.rglob(HOST_FILE)
                     if "mozilla" in str(p))  # fmt: skip
    assert mozilla == expected
    assert "FLATTR_HOST_HOME" not in system_launcher.read_text(), "each user keeps their data"
    assert stat.S_IMODE((root / "etc/opt/chrome").stat().st_mode) == 0o755
    assert not (tmp_path / "data").exists(), "a system install writes nothing in the user's data"


def test_a_system_install_warns_when_other_users_cannot_reach_its_python(tmp_path: Path) -> None:
    private = tmp_path / "private"
    (private / "venv/bin").mkdir(parents=True)
    python = private / "venv/bin/python"
    python.symlink_to(sys.executable)
    private.chmod(0o700)
    platform = replace(make_platform(tmp_path), executable=python)
    targets, _ = installer.resolve(["chrome"], platform, SYSTEM)
    notes = installer.plan(platform, Settings(), targets, SYSTEM, source=None).notes
    assert any(f"inside {private}, which other users cannot enter" in n.message for n in notes)
    private.chmod(0o755)
    notes = installer.plan(platform, Settings(), targets, SYSTEM, source=None).notes
    assert not any(f"inside {private}," in n.message for n in notes)  # (pytest's tmp is 0700)


def test_flatpak_browsers_get_a_wrapper_inside_their_sandbox(tmp_path: Path) -> None:
    platform = make_platform(tmp_path)
    install(platform, "chrome-flatpak", "firefox-flatpak")
    app = tmp_path / "home/.var/app/com.google.Chrome"
    wrapper = app / "data/flattr-companion" / launcher.FLATPAK_NAME
    data = read(app / "config/google-chrome/NativeMessagingHosts" / HOST_FILE)
    assert data["path"] == str(wrapper)
    assert os.access(wrapper, os.X_OK)
    text = wrapper.read_text()
    assert "flatpak-spawn --host" in text
    assert str(tmp_path / "data" / launcher.POSIX_NAME) in text
    firefox = tmp_path / "home/.var/app/org.mozilla.firefox/.mozilla/native-messaging-hosts"
    assert read(firefox / HOST_FILE)["allowed_extensions"] == [FIREFOX_ID]


# --- macOS -------------------------------------------------------------------------------------


def test_macos_layout(tmp_path: Path) -> None:
    platform = make_platform(tmp_path, MACOS)
    install(platform, "chrome", "chrome-beta", "chromium", "edge", "brave", "vivaldi", "firefox")
    support = tmp_path / "home/Library/Application Support"
    for folder in (
        "Google/Chrome",
        "Google/Chrome Beta",
        "Chromium",
        "Microsoft Edge",
        "BraveSoftware/Brave-Browser",
        "Vivaldi",
        "Mozilla",
    ):
        assert (support / folder / "NativeMessagingHosts" / HOST_FILE).is_file(), folder
    record = receipt.load(tmp_path / "data" / receipt.FILE_NAME)
    assert record is not None
    chrome = next(f for f in record.files if "Google/Chrome/" in f.path)
    assert chrome.browsers == ["chrome", "brave"], "Brave on macOS reads Chrome's folder"

    install(platform, "chrome", "edge", "firefox", scope=SYSTEM)
    root = tmp_path / "root"
    for folder in (
        "Library/Google/Chrome/NativeMessagingHosts",
        "Library/Microsoft/Edge/NativeMessagingHosts",
        "Library/Application Support/Mozilla/NativeMessagingHosts",
    ):
        assert (root / folder / HOST_FILE).is_file(), folder


# --- Windows -----------------------------------------------------------------------------------


def test_windows_registers_manifests_in_the_registry(tmp_path: Path) -> None:
    platform = make_platform(tmp_path, WINDOWS)
    registry = platform.registry
    assert isinstance(registry, MemoryRegistry)
    install(platform, "chrome", "brave", "vivaldi", "chromium", "edge", "firefox")
    chromium_manifest = tmp_path / "data/native-messaging-hosts/chromium" / HOST_FILE
    firefox_manifest = tmp_path / "data/native-messaging-hosts/firefox" / HOST_FILE
    name = manifest.HOST_NAME
    expected = {
        f"SOFTWARE\\Google\\Chrome\\NativeMessagingHosts\\{name}": chromium_manifest,
        f"SOFTWARE\\Chromium\\NativeMessagingHosts\\{name}": chromium_manifest,
        f"SOFTWARE\\Microsoft\\Edge\\NativeMessagingHosts\\{name}": chromium_manifest,
        f"SOFTWARE\\Mozilla\\NativeMessagingHosts\\{name}": firefox_manifest,
    }
    for key, value in expected.items():
        assert registry.values(HKCU, key) == {"": str(value)}
    assert not any(h == HKLM for h, _ in registry.keys)
    bat = tmp_path / "data" / launcher.WINDOWS_NAME
    assert read(chromium_manifest)["path"] == str(bat)
    text = bat.read_text()
    assert text.startswith("@echo off") and "%*" in text and "-I -c" in text
    assert f"{launcher.MARKER} {sys.executable}" in text

    install(platform, "chrome", scope=SYSTEM)
    key = f"SOFTWARE\\Google\\Chrome\\NativeMessagingHosts\\{name}"
    system_manifest = tmp_path / "ProgramData/flattr-companion/native-messaging-hosts/chromium"
    assert registry.values(HKLM, key) == {"": str(system_manifest / HOST_FILE)}


@pytest.mark.skipif(sys.platform != "win32", reason="the real registry exists only on Windows")
def test_the_real_registry_round_trips(tmp_path: Path) -> None:  # pragma: no cover
    from flattr_host.install.registry import WinRegistry

    registry, key = WinRegistry(), "SOFTWARE\\flattr-companion-test\\NativeMessagingHosts\\x"
    registry.set_default(HKCU, key, str(tmp_path))
    try:
        assert registry.values(HKCU, key) == {"": str(tmp_path)}
    finally:
        registry.delete(HKCU, key)
        registry.delete(HKCU, "SOFTWARE\\flattr-companion-test\\NativeMessagingHosts")
        registry.delete(HKCU, "SOFTWARE\\flattr-companion-test")
    assert not registry.exists(HKCU, key)


# --- dry run, receipt, uninstall ---------------------------------------------------------------


@pytest.mark.parametrize("os_name", [LINUX, WINDOWS])
def test_dry_run_prints_every_file_and_key_and_writes_nothing(tmp_path: Path, os_name: str) -> None:
    platform = make_platform(tmp_path, os_name)
    before = snapshot(tmp_path)
    targets, _ = installer.resolve(["chrome", "brave", "firefox"], platform, USER)
    plan = installer.plan(platform, Settings(), targets, USER, source=None)
    lines = installer.describe(plan, platform)
    text = "\n".join(lines)
    for w in plan.files:
        assert str(w.path) in text
    for r in plan.registry:
        assert f"{r.entry.hive}\\{r.entry.key} = {r.entry.value}" in text
    assert str(plan.receipt_path) in text
    if os_name == WINDOWS:
        assert len(plan.registry) == 2, "Chrome and Brave share Chrome's key"
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("os_name", [LINUX, MACOS, WINDOWS])
@pytest.mark.parametrize("scope", [USER, SYSTEM])
def test_uninstall_leaves_nothing_behind(tmp_path: Path, os_name: str, scope: str) -> None:
    platform = make_platform(tmp_path, os_name)
    (tmp_path / "xdg-config" / "google-chrome").mkdir(parents=True)  # the browser's own folder
    before = snapshot(tmp_path)
    names = ["chrome", "brave", "vivaldi", "edge", "firefox", "chromium"]
    if os_name == LINUX and scope == USER:
        names.append("chrome-flatpak")
    install(platform, *names, scope=scope)
    install(platform, "chrome-beta", scope=scope)  # a second install adds to the receipt
    assert snapshot(tmp_path) != before
    said = uninstall(platform, scope)
    assert snapshot(tmp_path) == before, "\n".join(said)
    if platform.registry is not None:
        assert isinstance(platform.registry, MemoryRegistry)
        assert platform.registry.keys == {}


def test_uninstall_removes_only_what_the_receipt_lists(tmp_path: Path) -> None:
    platform = make_platform(tmp_path)
    install(platform, "chrome")
    folder = tmp_path / "xdg-config/google-chrome/NativeMessagingHosts"
    other = folder / "com.example.other.json"  # another host's manifest
    other.write_text("{}")
    uninstall(platform)
    assert other.read_text() == "{}"
    assert not (folder / HOST_FILE).exists()


def test_uninstall_leaves_a_registry_value_someone_else_changed(tmp_path: Path) -> None:
    platform = make_platform(tmp_path, WINDOWS)
    registry = platform.registry
    assert isinstance(registry, MemoryRegistry)
    install(platform, "firefox")
    key = f"SOFTWARE\\Mozilla\\NativeMessagingHosts\\{manifest.HOST_NAME}"
    registry.set_default(HKCU, key, "C:\\elsewhere\\theirs.json")
    said = uninstall(platform)
    assert registry.values(HKCU, key) == {"": "C:\\elsewhere\\theirs.json"}
    assert any("left" in line and key in line for line in said)


def test_uninstall_without_receipt_names_strays_and_removes_nothing(tmp_path: Path) -> None:
    platform = make_platform(tmp_path)
    stray = tmp_path / "home/.mozilla/native-messaging-hosts" / HOST_FILE
    stray.parent.mkdir(parents=True)
    stray.write_text("{}")
    said: list[str] = []
    assert installer.uninstall(platform, USER, dry_run=False, say=said.append) == 1
    assert stray.exists()
    assert any(f"rm {stray}" in line for line in said)


# --- the launcher and a real host --------------------------------------------------------------


def test_the_launcher_pins_the_interpreter(tmp_path: Path) -> None:
    platform = make_platform(tmp_path)
    text = launcher.render(platform, Path("/opt/venv/bin/python"), source=None, home=None)
    assert "/usr/bin/env" not in text
    assert text.splitlines()[-1] == (
        "exec /opt/venv/bin/python -I -c "
        "'import sys; from flattr_host.__main__ import main; sys.exit(main())' \"$@\""
    )
    assert launcher.pinned_interpreter(text) == Path("/opt/venv/bin/python")
    text = launcher.render(platform, Path("/p y/python"), source=Path("/src dir"), home=Path("/h"))
    assert "FLATTR_HOST_SOURCE='/src dir'; export FLATTR_HOST_SOURCE" in text
    assert "FLATTR_HOST_HOME=/h; export FLATTR_HOST_HOME" in text
    assert launcher.pinned_interpreter(text) == Path("/p y/python")
    assert launcher.imports_same_package(Path(sys.executable))


@pytest.mark.parametrize("form", ["module", "source"])
def test_an_installed_host_answers_hello_when_started_from_its_manifest(
    tmp_path: Path, form: str
) -> None:
    platform = make_platform(tmp_path)
    source = launcher.PACKAGE_DIR.parent if form == "source" else None
    install(platform, "chrome", "firefox", source=source)
    env = desktop_env(platform)
    chrome = read(tmp_path / LINUX_USER["chrome"] / HOST_FILE)
    reply = say_hello(str(chrome["path"]), [f"chrome-extension://{CHROME_ID}/"], env)
    assert reply["ok"] is True, reply
    firefox_manifest = tmp_path / LINUX_USER["firefox"] / HOST_FILE
    firefox = read(firefox_manifest)
    reply = say_hello(str(firefox["path"]), [str(firefox_manifest), FIREFOX_ID], env)
    assert reply["ok"] is True, reply
    # The pinned FLATTR_HOST_HOME took it to the install's data folder, not the desktop's HOME.
    assert (tmp_path / "data" / "companion.sqlite3").exists()
    assert not (tmp_path / "home" / ".local").exists()


def test_cli_install_dry_run_then_install_then_uninstall(tmp_path: Path) -> None:
    env = firefox_user_env(tmp_path, XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    home = Path(env["HOME"])

    before = snapshot(tmp_path)
    dry = run_cli(env, "install", "--browser", "firefox", "--browser", "chrome", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert str(home / ".mozilla/native-messaging-hosts" / HOST_FILE) in dry.stdout
    assert str(tmp_path / "xdg/google-chrome/NativeMessagingHosts" / HOST_FILE) in dry.stdout
    assert "Nothing written (--dry-run)" in dry.stdout
    assert snapshot(tmp_path) == before
    bad = run_cli(env, "install", "--browser", "netscape")
    assert bad.returncode == 2 and "unknown browser" in bad.stderr
    done = run_cli(env, "install", "--browser", "firefox")
    assert done.returncode == 0, done.stderr
    assert (home / ".mozilla/native-messaging-hosts" / HOST_FILE).is_file()
    gone = run_cli(env, "uninstall")
    assert gone.returncode == 0, gone.stderr
    assert snapshot(tmp_path) == before


# --- a system install runs only what root or an administrator controls ------------------------


def _venv(tmp_path: Path) -> Path:
    """A venv-shaped folder whose python is this test's interpreter."""
    venv = tmp_path / "shared" / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(f"home = {Path(sys.executable).resolve().parent}\n")
    (venv / "bin/python").symlink_to(sys.executable)
    return venv


# What the test's own files count as: root's and an administrator's (whoever runs the tests).
OURS = trust.Owners(frozenset({0, os.getuid()}), frozenset({0, os.getgid()}))


def _system_install(platform: Platform, owners: trust.Owners, force: bool = False) -> int:
    return commands.install(
        platform,
        Settings(),
        ["chrome"],
        True,
        False,
        source_probe=False,
        force=force,
        owners=owners,
    )


@pytest.mark.parametrize("loose", ["bin", "pyvenv.cfg", "venv"])
def test_a_system_install_refuses_a_python_other_users_can_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], loose: str
) -> None:
    venv = _venv(tmp_path)
    target = {"bin": venv / "bin", "pyvenv.cfg": venv / "pyvenv.cfg", "venv": venv}[loose]
    target.chmod(target.stat().st_mode | 0o002)
    platform = replace(make_platform(tmp_path), executable=venv / "bin/python")
    launcher_file = platform.data_dir(SYSTEM) / launcher.POSIX_NAME

    assert _system_install(platform, OURS) == 1
    err = capsys.readouterr().err
    assert "refusing to install for every user" in err
    assert f"{target} is writable by every user (mode " in err
    assert f"Run: sudo chmod o-w {target}" in err
    assert "install --system --browser chrome --force" in err
    assert not launcher_file.exists(), "nothing written"

    assert _system_install(platform, OURS, force=True) == 0
    err = capsys.readouterr().err
    assert err.startswith("flattr-host: WARNING: ") and f"{target} is writable" in err
    assert launcher_file.is_file()

    target.chmod(target.stat().st_mode & ~0o022)
    assert _system_install(platform, OURS) == 0
    assert "WARNING" not in capsys.readouterr().err


def test_a_system_install_refuses_a_python_no_administrator_owns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    venv = _venv(tmp_path)
    platform = replace(make_platform(tmp_path), executable=venv / "bin/python")
    nobody = trust.Owners(frozenset(), frozenset())  # as if a plain user had made all of it
    assert _system_install(platform, nobody) == 1
    err = capsys.readouterr().err
    assert f"{venv / 'bin/python'} belongs to " in err and "not root or an administrator" in err
    assert f"{launcher.PACKAGE_DIR} belongs to " in err, "the package is checked too"
    assert not (platform.data_dir(SYSTEM) / launcher.POSIX_NAME).exists()
    # A per-user install runs only for its owner: nothing to check.
    assert commands.install(platform, Settings(), ["chrome"], False, False, source_probe=False,
                            owners=nobody) == 0  # fmt: skip


def _fake_stat(modes: dict[str, tuple[int, int, int]]) -> trust.Owners:
    """Owners trusting uid 0 and gid 0, over a made-up tree: path → (mode, uid, gid)."""

    def fake(path: Path) -> os.stat_result:
        mode, uid, gid = modes.get(str(path), (stat.S_IFDIR | 0o755, 0, 0))
        return os.stat_result((mode, 0, 0, 1, uid, gid, 0, 0, 0, 0))

    return trust.Owners(frozenset({0}), frozenset({0}), fake)


def test_what_counts_as_changeable_by_others() -> None:
    file, folder = stat.S_IFREG, stat.S_IFDIR
    owners = _fake_stat(
        {
            "/tmp": (folder | stat.S_ISVTX | 0o777, 0, 0),  # sticky: fine above what runs
            "/tmp/site": (folder | stat.S_ISVTX | 0o777, 0, 0),  # not as an import folder
            "/opt": (folder | 0o775, 0, 0),  # group root: fine
            "/opt/py": (folder | 0o775, 0, 50),  # group staff: not fine
            "/opt/py/bin/python": (file | 0o755, 1000, 1000),  # a plain user's
        }
    )
    found = trust.problems([Path("/tmp/site"), Path("/opt/py/bin/python")], owners)
    assert [str(p.path) for p in found] == ["/tmp/site", "/opt/py/bin/python", "/opt/py"]
    assert found[0].why == "is writable by every user (mode 1777)"
    assert "uid 1000" in found[1].why and found[1].why.endswith("not root or an administrator")
    assert found[2].why.startswith("is writable by group ") and "gid 50" in found[2].why
    assert found[2].fix == "sudo chmod g-w /opt/py"


def test_doctor_rechecks_a_system_install_that_others_can_now_change(tmp_path: Path) -> None:
    venv = _venv(tmp_path)
    platform = replace(make_platform(tmp_path), executable=venv / "bin/python")
    assert _system_install(platform, OURS) == 0

    def host_findings() -> str:
        sections = doctor.run(platform, Settings(), names=["chrome"], launch=False, owners=OURS)
        return "\n".join(doctor.render(sections[:1]))

    assert "every user's browser runs" not in host_findings()
    (venv / "bin").chmod((venv / "bin").stat().st_mode | 0o002)  # loosened after the install
    found = host_findings()
    assert f"every user's browser runs {venv / 'bin/python'}, but {venv / 'bin'} is writable" in (
        found
    )
    assert f"sudo chmod o-w {venv / 'bin'}" in found
