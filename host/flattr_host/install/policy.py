"""Enterprise policy that stops a Chromium-family browser from using our host: per-user hosts
disabled (``NativeMessagingUserLevelHosts``), or our name blocked (``NativeMessagingBlocklist``).

Read from /etc/…/policies/managed/*.json (Linux), /Library/Managed Preferences (macOS) and
HKLM/HKCU\\SOFTWARE\\Policies (Windows).
"""

from __future__ import annotations

import json
import plistlib
from dataclasses import dataclass
from typing import Any

from .browsers import Browser
from .manifest import HOST_NAME
from .platform import LINUX, MACOS, WINDOWS, Platform
from .registry import HKCU, HKLM

USER_LEVEL = "NativeMessagingUserLevelHosts"
BLOCKLIST = "NativeMessagingBlocklist"
ALLOWLIST = "NativeMessagingAllowlist"
MAC_MANAGED = "/Library/Managed Preferences"


@dataclass(frozen=True)
class Policy:
    source: str  # a file or a registry key, for the message
    values: dict[str, Any]


@dataclass(frozen=True)
class Verdict:
    user_hosts_disabled: str | None  # the source that disables per-user hosts
    blocked_by: str | None  # the source whose blocklist stops our host


def read(browser: Browser, platform: Platform) -> list[Policy]:
    if platform.os == LINUX:
        return _linux(browser, platform)
    if platform.os == MACOS:
        return _mac(browser, platform)
    if platform.os == WINDOWS:
        return _windows(browser, platform)
    return []


def _linux(browser: Browser, platform: Platform) -> list[Policy]:
    found: list[Policy] = []
    for folder in browser.policy_dirs:
        directory = platform.expand(folder)
        for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # the browser ignores it too
            if isinstance(data, dict):
                found.append(Policy(str(path), data))
    return found


def _mac(browser: Browser, platform: Platform) -> list[Policy]:
    if browser.policy_domain is None:
        return []
    user = platform.env.get("USER", "")
    found: list[Policy] = []
    for folder in (MAC_MANAGED, f"{MAC_MANAGED}/{user}" if user else None):
        if folder is None:
            continue
        path = platform.expand(f"{folder}/{browser.policy_domain}.plist")
        try:
            data = plistlib.loads(path.read_bytes())
        except (OSError, ValueError, plistlib.InvalidFileException):
            continue
        if isinstance(data, dict):
            found.append(Policy(str(path), data))
    return found


def _windows(browser: Browser, platform: Platform) -> list[Policy]:
    registry = platform.registry
    if registry is None or browser.policy_key is None:
        return []
    found: list[Policy] = []
    for hive in (HKLM, HKCU):
        key = browser.policy_key
        values: dict[str, Any] = dict(registry.values(hive, key))
        for name in (BLOCKLIST, ALLOWLIST):  # list policies are subkeys of numbered values
            items = registry.values(hive, f"{key}\\{name}")
            if items:
                values[name] = list(items.values())
        if values:
            found.append(Policy(f"{hive}\\{key}", values))
    return found


def verdict(policies: list[Policy]) -> Verdict:
    disabled = next((p.source for p in policies if p.values.get(USER_LEVEL) in (False, 0)), None)
    allowed = any(HOST_NAME in _list(p.values.get(ALLOWLIST)) for p in policies)
    blocked = None
    if not allowed:
        blocked = next(
            (p.source for p in policies if {"*", HOST_NAME} & set(_list(p.values.get(BLOCKLIST)))),
            None,
        )
    return Verdict(disabled, blocked)


def _list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []
