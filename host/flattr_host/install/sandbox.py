"""Snap and Flatpak browsers: what works, and what to do.

- Snap Chromium and Brave cannot start native-messaging hosts (their confinement forbids it).
- Snap Firefox reaches hosts through the WebExtensions portal, which reads the ordinary
  ~/.mozilla and /usr/lib/mozilla manifests (and passes no arguments; the host accepts that).
- Flatpak browsers read manifests inside ~/.var/app/<id> and start the host through
  ``flatpak-spawn --host``, which needs the app to be allowed to talk to org.freedesktop.Flatpak.
"""

from __future__ import annotations

import configparser
from pathlib import Path

from .browsers import BY_KEY, Browser, snap_installed
from .manifest import FIREFOX
from .platform import Platform
from .report import FAIL, INFO, Finding, command

FLATPAK_BUS = "org.freedesktop.Flatpak"
BUS_SECTION = "Session Bus Policy"


def override_command(app_id: str) -> str:
    return f"flatpak override --user --talk-name={FLATPAK_BUS} {app_id}"


def snap_finding(browser: Browser, platform: Platform) -> Finding | None:
    if not snap_installed(browser, platform):
        return None
    if browser.family == FIREFOX:
        return Finding(
            INFO,
            f"Snap {browser.name} found: it starts the host through the WebExtensions portal, "
            "which reads the same manifest as the regular Firefox; Firefox asks you once to allow "
            "it",
        )
    flatpak = BY_KEY.get(f"{browser.key}-flatpak")
    alternative = (
        f"flatpak install --user flathub {flatpak.flatpak} && "
        + command(platform, "install", "--browser", flatpak.key)
        if flatpak is not None and flatpak.flatpak
        else "install the browser from its vendor's .deb or .rpm"
    )
    return Finding(
        FAIL,
        f"Snap {browser.name} found: it cannot start native-messaging hosts (Snap confinement "
        f"forbids it), so Flattr Companion cannot work in it. Use another {browser.name} build, "
        "or Firefox",
        alternative,
    )


def flatpak_can_spawn(platform: Platform, app_id: str) -> bool:
    """True when the app may talk to org.freedesktop.Flatpak (needed by ``flatpak-spawn --host``),
    from the user's or the system's overrides, or the app's own metadata."""
    data_dirs = [platform.expand("$XDG_DATA_HOME/flatpak"), platform.expand("/var/lib/flatpak")]
    candidates: list[Path] = []
    for base in data_dirs:
        candidates += [
            base / "overrides" / app_id,
            base / "overrides" / "global",
            base / "app" / app_id / "current" / "active" / "metadata",
        ]
    for path in candidates:
        parser = configparser.ConfigParser(interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, OSError, UnicodeDecodeError):
            continue
        if parser.get(BUS_SECTION, FLATPAK_BUS, fallback="") in ("talk", "own"):
            return True
    return False
