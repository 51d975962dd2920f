"""The Windows registry behind an interface: ``winreg`` for real, a dictionary for tests.

Keys look like ``SOFTWARE\\Google\\Chrome\\…``, under a hive named in full. Stdlib only.
"""

from __future__ import annotations

import sys
from typing import Protocol

HKCU = "HKEY_CURRENT_USER"
HKLM = "HKEY_LOCAL_MACHINE"


class Registry(Protocol):
    def exists(self, hive: str, key: str) -> bool: ...

    def values(self, hive: str, key: str) -> dict[str, object]:
        """Every value of the key ("" is the default value); {} when the key does not exist."""
        ...

    def has_children(self, hive: str, key: str) -> bool:
        """True when the key has subkeys or values."""
        ...

    def set_default(self, hive: str, key: str, value: str) -> None:
        """Create the key (and its parents) and set its default value, a string."""
        ...

    def delete(self, hive: str, key: str) -> None:
        """Delete a key that has no subkeys."""
        ...


def parents(key: str) -> list[str]:
    """``A\\B\\C`` → ``[A, A\\B, A\\B\\C]``."""
    parts = key.split("\\")
    return ["\\".join(parts[: i + 1]) for i in range(len(parts))]


class MemoryRegistry:
    """A registry in a dictionary, case-insensitive like the real one."""

    def __init__(self) -> None:
        self.keys: dict[tuple[str, str], dict[str, object]] = {}
        self.names: dict[tuple[str, str], str] = {}

    @staticmethod
    def _id(hive: str, key: str) -> tuple[str, str]:
        return hive.upper(), key.lower()

    def exists(self, hive: str, key: str) -> bool:
        return self._id(hive, key) in self.keys

    def values(self, hive: str, key: str) -> dict[str, object]:
        return dict(self.keys.get(self._id(hive, key), {}))

    def has_children(self, hive: str, key: str) -> bool:
        h, k = self._id(hive, key)
        return bool(self.keys.get((h, k))) or any(
            kh == h and kk.startswith(k + "\\") for kh, kk in self.keys
        )

    def set_default(self, hive: str, key: str, value: str) -> None:
        self.set_value(hive, key, "", value)

    def set_value(self, hive: str, key: str, name: str, value: object) -> None:
        for part in parents(key):
            self.keys.setdefault(self._id(hive, part), {})
            self.names.setdefault(self._id(hive, part), part)
        self.keys[self._id(hive, key)][name] = value

    def delete(self, hive: str, key: str) -> None:
        h, k = self._id(hive, key)
        if any(kh == h and kk.startswith(k + "\\") for kh, kk in self.keys):
            raise OSError(f"{hive}\\{key} has subkeys")
        if (h, k) not in self.keys:
            raise FileNotFoundError(f"{hive}\\{key}")
        del self.keys[(h, k)]
        self.names.pop((h, k), None)


class WinRegistry:
    """The real registry, in the 64-bit view (where 64-bit browsers look first)."""

    def _hive(self, hive: str) -> int:
        if sys.platform != "win32":
            raise OSError("the Windows registry exists only on Windows")
        import winreg

        return {HKCU: winreg.HKEY_CURRENT_USER, HKLM: winreg.HKEY_LOCAL_MACHINE}[hive]

    def exists(self, hive: str, key: str) -> bool:
        if sys.platform != "win32":
            return False
        import winreg

        try:
            winreg.OpenKey(
                self._hive(hive), key, 0, winreg.KEY_READ | winreg.KEY_WOW64_64KEY
            ).Close()
        except OSError:
            return False
        return True

    def values(self, hive: str, key: str) -> dict[str, object]:
        if sys.platform != "win32":
            return {}
        import winreg

        found: dict[str, object] = {}
        try:
            handle = winreg.OpenKey(
                self._hive(hive), key, 0, winreg.KEY_READ | winreg.KEY_WOW64_64KEY
            )
        except OSError:
            return found
        with handle:
            index = 0
            while True:
                try:
                    name, value, _kind = winreg.EnumValue(handle, index)
                except OSError:
                    return found
                found[name] = value
                index += 1

    def has_children(self, hive: str, key: str) -> bool:
        if sys.platform != "win32":
            return False
        import winreg

        try:
            handle = winreg.OpenKey(
                self._hive(hive), key, 0, winreg.KEY_READ | winreg.KEY_WOW64_64KEY
            )
        except OSError:
            return False
        with handle:
            subkeys, values, _modified = winreg.QueryInfoKey(handle)
        return bool(subkeys or values)

    def set_default(self, hive: str, key: str, value: str) -> None:
        if sys.platform != "win32":
            raise OSError("the Windows registry exists only on Windows")
        import winreg

        access = winreg.KEY_WRITE | winreg.KEY_WOW64_64KEY
        with winreg.CreateKeyEx(self._hive(hive), key, 0, access) as handle:
            winreg.SetValueEx(handle, "", 0, winreg.REG_SZ, value)

    def delete(self, hive: str, key: str) -> None:
        if sys.platform != "win32":
            raise OSError("the Windows registry exists only on Windows")
        import winreg

        winreg.DeleteKeyEx(self._hive(hive), key, winreg.KEY_WOW64_64KEY, 0)
