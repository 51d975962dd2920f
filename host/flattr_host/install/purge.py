"""``uninstall --purge``: the host's own folders (database, token, settings, logs) go too, for
people leaving for good. Asked first; scripts confirm with ``--yes``."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from .. import paths
from .platform import Platform

# What each folder holds, as the prompt and the report name it.
DATA_WHAT, LOG_WHAT = "flattrs, queue, sign-in token, settings", "logs"


class PurgeRefused(Exception):
    """A folder that must never be deleted whole (the home folder, one above it, the root)."""


def folders(platform: Platform, log_dir: Path | None = None) -> dict[Path, str]:
    """The folders --purge deletes: the data folder, and the log folder when it lies elsewhere
    (Linux: ``~/.local/state/flattr-companion``; macOS: ``~/Library/Logs/flattr-companion``).
    Raises PurgeRefused for a folder whose deletion would take the user's other files along."""
    logs = log_dir or _log_dir(platform)
    # platformdirs' Linux log folder is <state>/flattr-companion/log: the app's folder is one up.
    if logs.name != paths.APP_NAME and logs.parent.name == paths.APP_NAME:
        logs = logs.parent
    found: dict[Path, str] = {}
    for folder, what in ((platform.data_home, DATA_WHAT), (logs, LOG_WHAT)):
        folder = Path(folder).absolute()
        if any(folder == f or folder.is_relative_to(f) for f in found):
            found = {f: f"{w}, {what}" for f, w in found.items()}  # inside the data folder
            continue
        _check_safe(folder, platform.home)
        found[folder] = what
    return found


def _log_dir(platform: Platform) -> Path:
    """``paths.log_dir()`` for the platform's environment (a test's machine is not this one)."""
    if platform.env.get(paths.HOME_ENV):
        return platform.data_home / "logs"
    return paths.log_dir()


def _check_safe(folder: Path, home: Path) -> None:
    resolved, home = folder.resolve(), home.resolve()
    if resolved == Path(resolved.anchor) or home == resolved or home.is_relative_to(resolved):
        raise PurgeRefused(
            f"refusing to delete {folder}: it holds more than Flattr Companion's data "
            f"(is {paths.HOME_ENV} set to it?). Delete our files in it by hand"
        )


def remove(targets: dict[Path, str], *, dry_run: bool, say: Callable[[str], None]) -> int:
    """Delete each folder that exists. Returns the exit status."""
    verb = "would remove" if dry_run else "removed"
    status = 0
    for folder, what in targets.items():
        if not (folder.exists() or folder.is_symlink()):
            continue
        if not dry_run:
            try:
                if folder.is_symlink():  # the data lives where the link points: both go
                    real = folder.resolve()
                    folder.unlink()
                    folder = real
                if folder.is_dir():
                    shutil.rmtree(folder)
                elif folder.exists():
                    folder.unlink()
            except OSError as exc:
                say(f"could not remove {folder}: {exc}. Close your browsers and run this again")
                status = 1
                continue
        say(f"{verb}  {folder}  ({what})")
    return status
