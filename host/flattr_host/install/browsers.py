"""Every browser we register with: where it reads host manifests per OS and scope, how to tell it
is installed, where its policies live, and whether it is sandboxed (Snap, Flatpak).

Path templates are expanded by ``Platform.expand`` (``~``, ``$XDG_CONFIG_HOME``, ``%VAR%``, ``/``).
Facts: docs/native-messaging.md (from the Chrome/MDN/Edge docs and existing hosts).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from .manifest import CHROMIUM, FIREFOX, HOST_NAME
from .platform import LINUX, MACOS, SYSTEM, USER, WINDOWS, Platform
from .registry import HKCU, HKLM

NMH = "NativeMessagingHosts"
APP_SUPPORT = "~/Library/Application Support"
FLATPAK_WRAPPER_DIR = "data/flattr-companion"  # inside ~/.var/app/<app id>, visible in the sandbox


@dataclass(frozen=True)
class Browser:
    key: str
    name: str
    family: str
    # Manifest folders, per OS and scope. Windows reads the registry key below instead.
    linux_user: tuple[str, ...] = ()
    linux_system: tuple[str, ...] = ()
    mac_user: tuple[str, ...] = ()
    mac_system: tuple[str, ...] = ()
    win_key: str | None = None  # under HKCU/HKLM, e.g. SOFTWARE\Google\Chrome\NativeMessagingHosts
    # Installed when one of these exists (a bare name is looked up on PATH).
    detect_linux: tuple[str, ...] = ()
    detect_mac: tuple[str, ...] = ()
    detect_windows: tuple[str, ...] = ()
    # Policy: Linux managed-policy folders, the macOS preference domain, the Windows policy key.
    policy_dirs: tuple[str, ...] = ()
    policy_domain: str | None = None
    policy_key: str | None = None
    snap: str | None = None  # the snap's name, when this browser also comes as a Snap
    flatpak: str | None = None  # the Flatpak app id, for the Flatpak variants

    def manifest_dirs(self, os_name: str, scope: str) -> tuple[str, ...]:
        table = {
            (LINUX, USER): self.linux_user,
            (LINUX, SYSTEM): self.linux_system,
            (MACOS, USER): self.mac_user,
            (MACOS, SYSTEM): self.mac_system,
        }
        return table.get((os_name, scope), ())

    def supports(self, os_name: str, scope: str) -> bool:
        if os_name == WINDOWS:
            return self.win_key is not None
        return bool(self.manifest_dirs(os_name, scope))


def _chromium(
    key: str,
    name: str,
    *,
    linux: str,
    linux_system: str,
    mac: tuple[str, ...],
    mac_system: tuple[str, ...],
    win: str,
    bins: tuple[str, ...],
    apps: tuple[str, ...],
    win_data: str,
    policy_dirs: tuple[str, ...],
    domain: str,
    policy_key: str,
    snap: str | None = None,
) -> Browser:
    return Browser(
        key=key,
        name=name,
        family=CHROMIUM,
        linux_user=(f"$XDG_CONFIG_HOME/{linux}/{NMH}",),
        linux_system=(linux_system,),
        mac_user=tuple(f"{APP_SUPPORT}/{m}/{NMH}" for m in mac),
        mac_system=mac_system,
        win_key=f"SOFTWARE\\{win}\\{NMH}",
        detect_linux=(f"$XDG_CONFIG_HOME/{linux}", *bins),
        detect_mac=(
            *(f"{APP_SUPPORT}/{m}" for m in mac[:1]),
            *(f"/Applications/{a}" for a in apps),
            *(f"~/Applications/{a}" for a in apps),
        ),
        detect_windows=(f"%LOCALAPPDATA%/{win_data}/User Data",),
        policy_dirs=policy_dirs,
        policy_domain=domain,
        policy_key=policy_key,
        snap=snap,
    )


CHROME_POLICY = ("/etc/opt/chrome/policies/managed",)
CHROME_SYSTEM = "/etc/opt/chrome/native-messaging-hosts"  # every Chrome channel reads it
CHROME_MAC_SYSTEM = ("/Library/Google/Chrome/NativeMessagingHosts",)


def _chrome(key: str, name: str, linux: str, mac: str, app: str, win_data: str) -> Browser:
    return _chromium(
        key,
        name,
        linux=linux,
        linux_system=CHROME_SYSTEM,
        mac=(mac,),
        mac_system=CHROME_MAC_SYSTEM,
        win="Google\\Chrome",  # every channel reads the same key
        bins=(
            linux,
            *(("google-chrome-stable",) if key == "chrome" else ()),
            f"/opt/google/{linux.removeprefix('google-')}/chrome",
        ),
        apps=(app,),
        win_data=win_data,
        policy_dirs=CHROME_POLICY,
        domain="com.google.Chrome",
        policy_key="SOFTWARE\\Policies\\Google\\Chrome",
    )


def _edge(key: str, name: str, suffix: str) -> Browser:
    channel = suffix.lower().replace(" ", "-")  # " Beta" → "-beta"
    return _chromium(
        key,
        name,
        linux=f"microsoft-edge{channel}",
        linux_system="/etc/opt/edge/native-messaging-hosts",
        mac=(f"Microsoft Edge{suffix}",),
        mac_system=("/Library/Microsoft/Edge/NativeMessagingHosts",),
        win="Microsoft\\Edge",
        bins=(f"microsoft-edge{channel}", *(() if suffix else ("microsoft-edge-stable",))),
        apps=(f"Microsoft Edge{suffix}.app",),
        win_data=f"Microsoft/Edge{suffix}",
        policy_dirs=("/etc/opt/edge/policies/managed",),
        domain="com.microsoft.Edge",
        policy_key="SOFTWARE\\Policies\\Microsoft\\Edge",
    )


_FIREFOX = Browser(
    key="firefox",
    name="Firefox",
    family=FIREFOX,
    # Firefox keeps ~/.mozilla even with XDG dirs: never computed from XDG_CONFIG_HOME.
    linux_user=("~/.mozilla/native-messaging-hosts",),
    # Firefox reads one of these, fixed when it was built; see ``firefox_system_dirs``.
    linux_system=(
        "/usr/lib/mozilla/native-messaging-hosts",
        "/usr/lib64/mozilla/native-messaging-hosts",
    ),
    mac_user=(f"{APP_SUPPORT}/Mozilla/{NMH}",),
    mac_system=(f"/Library/Application Support/Mozilla/{NMH}",),
    win_key=f"SOFTWARE\\Mozilla\\{NMH}",
    detect_linux=("~/.mozilla/firefox", "firefox", "firefox-esr"),
    detect_mac=(
        f"{APP_SUPPORT}/Firefox",
        "/Applications/Firefox.app",
        "~/Applications/Firefox.app",
    ),
    detect_windows=("%APPDATA%/Mozilla/Firefox",),
    snap="firefox",
)

BROWSERS: tuple[Browser, ...] = (
    _chrome(
        "chrome",
        "Google Chrome",
        "google-chrome",
        "Google/Chrome",
        "Google Chrome.app",
        "Google/Chrome",
    ),
    _chrome(
        "chrome-beta",
        "Google Chrome Beta",
        "google-chrome-beta",
        "Google/Chrome Beta",
        "Google Chrome Beta.app",
        "Google/Chrome Beta",
    ),
    _chrome(
        "chrome-dev",
        "Google Chrome Dev",
        "google-chrome-unstable",
        "Google/Chrome Dev",
        "Google Chrome Dev.app",
        "Google/Chrome Dev",
    ),
    _chromium(
        "chromium",
        "Chromium",
        linux="chromium",
        linux_system="/etc/chromium/native-messaging-hosts",
        mac=("Chromium",),
        mac_system=(f"/Library/Application Support/Chromium/{NMH}",),
        win="Chromium",
        bins=("chromium", "chromium-browser"),
        apps=("Chromium.app",),
        win_data="Chromium",
        policy_dirs=("/etc/chromium/policies/managed", "/etc/chromium-browser/policies/managed"),
        domain="org.chromium.Chromium",
        policy_key="SOFTWARE\\Policies\\Chromium",
        snap="chromium",
    ),
    _edge("edge", "Microsoft Edge", ""),
    _edge("edge-beta", "Microsoft Edge Beta", " Beta"),
    _edge("edge-dev", "Microsoft Edge Dev", " Dev"),
    _chromium(
        "brave",
        "Brave",
        linux="BraveSoftware/Brave-Browser",
        linux_system="/etc/opt/brave/native-messaging-hosts",
        # Brave on macOS reads Chrome's folder: write both.
        mac=("BraveSoftware/Brave-Browser", "Google/Chrome"),
        mac_system=(
            f"/Library/Application Support/BraveSoftware/Brave-Browser/{NMH}",
            *CHROME_MAC_SYSTEM,
        ),
        win="Google\\Chrome",  # Brave reads Chrome's key
        bins=("brave-browser", "brave", "/opt/brave.com/brave/brave"),
        apps=("Brave Browser.app",),
        win_data="BraveSoftware/Brave-Browser",
        policy_dirs=("/etc/opt/brave/policies/managed", "/etc/brave/policies/managed"),
        domain="com.brave.Browser",
        policy_key="SOFTWARE\\Policies\\BraveSoftware\\Brave",
        snap="brave",
    ),
    _chromium(
        "vivaldi",
        "Vivaldi",
        linux="vivaldi",
        linux_system="/etc/opt/vivaldi/native-messaging-hosts",
        mac=("Vivaldi",),
        mac_system=(f"/Library/Application Support/Vivaldi/{NMH}",),
        win="Google\\Chrome",  # Vivaldi reads Chrome's key
        bins=("vivaldi", "vivaldi-stable", "/opt/vivaldi/vivaldi"),
        apps=("Vivaldi.app",),
        win_data="Vivaldi",
        policy_dirs=("/etc/opt/vivaldi/policies/managed",),
        domain="com.vivaldi.Vivaldi",
        policy_key="SOFTWARE\\Policies\\Vivaldi",
    ),
    _FIREFOX,
)

# Flatpak builds (Linux, per user): the browser reads manifests inside ~/.var/app/<id>, and the host
# must be started outside the sandbox through `flatpak-spawn --host` (see ``launcher``).
_FLATPAKS = {
    "chrome": ("com.google.Chrome", "config/google-chrome"),
    "chromium": ("org.chromium.Chromium", "config/chromium"),
    "edge": ("com.microsoft.Edge", "config/microsoft-edge"),
    "brave": ("com.brave.Browser", "config/BraveSoftware/Brave-Browser"),
    "vivaldi": ("com.vivaldi.Vivaldi", "config/vivaldi"),
    "firefox": ("org.mozilla.firefox", ".mozilla"),
}


def _flatpak(base: Browser, app_id: str, config: str) -> Browser:
    folder = "native-messaging-hosts" if base.family == FIREFOX else NMH
    return replace(
        base,
        key=f"{base.key}-flatpak",
        name=f"{base.name} (Flatpak)",
        linux_user=(f"~/.var/app/{app_id}/{config}/{folder}",),
        linux_system=(),
        mac_user=(),
        mac_system=(),
        win_key=None,
        detect_linux=(
            f"~/.var/app/{app_id}",
            f"$XDG_DATA_HOME/flatpak/app/{app_id}",
            f"/var/lib/flatpak/app/{app_id}",
        ),
        detect_mac=(),
        detect_windows=(),
        # The sandbox has its own /etc: the host's policy files do not apply.
        policy_dirs=(),
        policy_domain=None,
        policy_key=None,
        snap=None,
        flatpak=app_id,
    )


BROWSERS += tuple(_flatpak(b, *_FLATPAKS[b.key]) for b in BROWSERS if b.key in _FLATPAKS)
BY_KEY = {b.key: b for b in BROWSERS}


@dataclass(frozen=True)
class Location:
    """One place a browser looks for our manifest: a file, and on Windows the registry value that
    names it."""

    browser: Browser
    scope: str
    manifest: Path
    hive: str | None = None
    key: str | None = None

    @property
    def registry_name(self) -> str | None:
        return f"{self.hive}\\{self.key}" if self.hive and self.key else None


def windows_manifest(platform: Platform, scope: str, family: str) -> Path:
    """On Windows the manifest may live anywhere: one per family in our data folder."""
    return platform.data_dir(scope) / "native-messaging-hosts" / family / f"{HOST_NAME}.json"


def locations(browser: Browser, platform: Platform, scope: str) -> list[Location]:
    """Where ``browser`` reads our manifest on this platform in ``scope`` (empty: unsupported)."""
    if platform.os == WINDOWS:
        if browser.win_key is None:
            return []
        hive = HKCU if scope == USER else HKLM
        key = f"{browser.win_key}\\{HOST_NAME}"
        return [
            Location(browser, scope, windows_manifest(platform, scope, browser.family), hive, key)
        ]
    dirs = browser.manifest_dirs(platform.os, scope)
    if browser.key == "firefox" and platform.os == LINUX and scope == SYSTEM:
        dirs = firefox_system_dirs(platform)
    return [Location(browser, scope, platform.expand(d) / f"{HOST_NAME}.json") for d in dirs]


def firefox_system_dirs(platform: Platform) -> tuple[str, ...]:
    """Firefox reads /usr/lib64/mozilla where it was built for lib64 (Fedora, openSUSE), else
    /usr/lib/mozilla. Its own install folder tells which; when unknown, write both."""
    lib, lib64 = _FIREFOX.linux_system
    found = []
    for manifest_dir, libdir in ((lib, "/usr/lib"), (lib64, "/usr/lib64")):
        if any(platform.expand(f"{libdir}/{n}").is_dir() for n in ("firefox", "firefox-esr")):
            found.append(manifest_dir)
    return tuple(found) or (lib, lib64)


def is_installed(browser: Browser, platform: Platform) -> bool:
    hints = {
        LINUX: browser.detect_linux,
        MACOS: browser.detect_mac,
        WINDOWS: browser.detect_windows,
    }
    for hint in hints.get(platform.os, ()):
        if "/" not in hint:
            found = platform.which(hint)
            if found is not None and not is_snap_shim(found):
                return True
        elif platform.expand(hint).exists():
            return True
    return False


def is_snap_shim(path: Path) -> bool:
    """Ubuntu's /usr/bin/chromium-browser and /usr/bin/firefox are scripts that start the Snap."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return head.startswith(b"#!") and b"/snap/" in head


def snap_installed(browser: Browser, platform: Platform) -> bool:
    if platform.os != LINUX or browser.snap is None:
        return False
    return (
        platform.expand(f"/snap/bin/{browser.snap}").exists()
        or platform.expand(f"~/snap/{browser.snap}").is_dir()
    )


def detect(platform: Platform) -> list[Browser]:
    """The browsers installed on this machine, in table order."""
    return [b for b in BROWSERS if b.supports(platform.os, USER) and is_installed(b, platform)]


def flatpak_wrapper_dir(platform: Platform, browser: Browser) -> Path:
    assert browser.flatpak is not None
    return platform.expand(f"~/.var/app/{browser.flatpak}/{FLATPAK_WRAPPER_DIR}")
