"""The machine we install on: OS, home, XDG dirs, environment, registry. Injectable for tests.

Stdlib only: self-healing builds one before ``hello`` is answered.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .registry import Registry

LINUX, MACOS, WINDOWS = "linux", "darwin", "windows"
USER, SYSTEM = "user", "system"

# Where a --system install keeps its launcher and receipt (readable by every user).
SYSTEM_DATA_DIRS = {
    LINUX: "/usr/local/lib/flattr-companion",
    MACOS: "/Library/Application Support/flattr-companion",
    WINDOWS: "%PROGRAMDATA%/flattr-companion",
}
# Windows folders when the environment lacks them (services, stripped environments).
WINDOWS_DEFAULTS = {"PROGRAMDATA": "C:/ProgramData", "PROGRAMFILES": "C:/Program Files"}


def current_os() -> str:
    if sys.platform == "win32":
        return WINDOWS
    if sys.platform == "darwin":
        return MACOS
    return LINUX


@dataclass(frozen=True)
class Platform:
    """Everything the installer and doctor read about the machine, in one injectable value.

    ``root`` prefixes absolute POSIX system paths (``/etc``, ``/Library``, ``/snap``), so tests put
    a whole machine under a temporary directory.
    """

    os: str
    home: Path
    env: Mapping[str, str]
    data_home: Path
    executable: Path
    root: Path = Path("/")
    registry: Registry | None = field(default=None, compare=False)

    @classmethod
    def current(cls, data_home: Path) -> Platform:
        registry: Registry | None = None
        if current_os() == WINDOWS:
            from .registry import WinRegistry

            registry = WinRegistry()
        return cls(
            os=current_os(),
            home=Path.home(),
            env=dict(os.environ),
            data_home=data_home,
            # Not resolved: a venv's python is a symlink whose location selects the venv.
            executable=Path(sys.executable).absolute(),
            registry=registry,
        )

    def expand(self, template: str) -> Path:
        """A path template: ``~/…``, ``$XDG_CONFIG_HOME/…``, ``$XDG_DATA_HOME/…``, ``%VAR%/…``
        (Windows environment) or ``/…`` (absolute, under ``root``). Separators are ``/``."""
        head, _, rest = template.partition("/")
        if head == "~":
            base = self.home
        elif head == "$XDG_CONFIG_HOME":
            base = self._xdg("XDG_CONFIG_HOME", ".config")
        elif head == "$XDG_DATA_HOME":
            base = self._xdg("XDG_DATA_HOME", ".local/share")
        elif head.startswith("%") and head.endswith("%"):
            name = head.strip("%")
            base = Path(self.env.get(name) or WINDOWS_DEFAULTS.get(name) or self.home)
        elif head == "":
            base = self.root
        else:
            raise ValueError(f"path template {template!r} must start with ~, $XDG_…, %VAR% or /")
        return base.joinpath(*[p for p in rest.split("/") if p])

    def _xdg(self, name: str, default: str) -> Path:
        value = self.env.get(name, "")
        # The XDG spec: relative values are invalid and must be ignored.
        return Path(value) if value and Path(value).is_absolute() else self.home / default

    def data_dir(self, scope: str) -> Path:
        """Where the launcher and the receipt of an install in ``scope`` live."""
        if scope == USER:
            return self.data_home
        return self.expand(SYSTEM_DATA_DIRS[self.os])

    def which(self, name: str) -> Path | None:
        for folder in self.env.get("PATH", "").split(os.pathsep):
            if not folder:
                continue
            candidate = Path(folder) / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
        return None
