"""Self-healing at host start: manifests ``flattr-host install`` wrote that no longer point at the
launcher (or allow other ids than the settings) are rewritten, and a launcher whose interpreter
has gone is re-pinned to the one running now — as KeePassXC does on each start.

Runs before ``hello`` is answered: stdlib only, a few small files, and it never raises.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..settings import Settings
from . import fsutil, launcher, manifest, receipt
from .platform import USER, WINDOWS, Platform

log = logging.getLogger("flattr_host.install")


def heal(
    home: Path,
    settings: Settings,
    platform: Platform | None = None,
    watched: list[str] | None = None,
) -> list[str]:
    """Repair what the per-user receipt lists; returns one sentence per repair. ``watched``
    receives every file and folder looked at (see ``healthy``)."""
    try:
        return _heal(
            platform or Platform.current(home), settings, [] if watched is None else watched
        )
    except Exception as exc:  # a repair must never stop the host from answering
        log.warning("self-healing skipped: %s", exc)
        return []


def _heal(platform: Platform, settings: Settings, watched: list[str]) -> list[str]:
    path = receipt.path_in(platform.data_dir(USER))
    watched.append(str(path))
    record = receipt.load(path)
    if record is None or record.launcher is None:
        return []
    repairs: list[str] = []
    changed = _heal_launcher(platform, record, repairs, watched)
    for entry in record.files:
        # Manifests are written only into folders that exist (the browser is installed).
        watched += [entry.path, os.path.join(os.path.dirname(entry.path), "")]
        try:
            if entry.kind == receipt.WRAPPER:
                _heal_wrapper(entry, record.launcher, repairs)
            elif entry.kind == receipt.MANIFEST:
                _heal_manifest(entry, settings, repairs)
        except OSError as exc:
            log.warning("cannot repair %s: %s", entry.path, exc)
    if platform.os == WINDOWS and platform.registry is not None:
        for reg in record.registry:
            try:
                if platform.registry.values(reg.hive, reg.key).get("") != reg.value:
                    platform.registry.set_default(reg.hive, reg.key, reg.value)
                    repairs.append(f"re-registered {reg.hive}\\{reg.key}")
            except OSError as exc:
                log.warning("cannot repair %s\\%s: %s", reg.hive, reg.key, exc)
    if changed:
        receipt.save(record, path)
    for repair in repairs:
        log.warning("repaired: %s", repair)
    return repairs


def _heal_launcher(
    platform: Platform, record: receipt.Receipt, repairs: list[str], watched: list[str]
) -> bool:
    """Re-pin a launcher whose interpreter is gone (or the launcher itself). A working launcher is
    never touched, whichever environment this host runs from."""
    assert record.launcher is not None
    path = Path(record.launcher)
    watched.append(str(path))
    try:
        pinned = launcher.pinned_interpreter(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        pinned = None
    else:
        if pinned is not None:
            watched.append(str(pinned))
        if pinned is None or pinned.exists():
            return False  # not ours (left alone), or sound
    home = platform.data_home if platform.env.get(launcher.HOME_VAR) else None
    # The folder this very code runs from: right whatever the interpreter's site-packages hold.
    text = launcher.render(
        platform, platform.executable, source=launcher.PACKAGE_DIR.parent, home=home
    )
    fsutil.make_dirs(path.parent)
    fsutil.atomic_write(path, text.encode("utf-8"), fsutil.EXEC_MODE)
    record.interpreter = str(platform.executable)
    repairs.append(f"re-pinned {path} to {platform.executable}")
    return True


def _heal_wrapper(entry: receipt.FileEntry, target: str, repairs: list[str]) -> None:
    path = Path(entry.path)
    if not path.parent.is_dir():
        return  # the sandboxed browser is gone; uninstall cleans up
    app_id = path.parent.parent.parent.name  # ~/.var/app/<id>/data/flattr-companion/<file>
    text = launcher.render_flatpak_wrapper(Path(target), app_id)
    try:
        current = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = ""
    if current != text:
        fsutil.atomic_write(path, text.encode("utf-8"), fsutil.EXEC_MODE)
        entry.target = target
        repairs.append(f"re-pointed {path} at {target}")


def _heal_manifest(entry: receipt.FileEntry, settings: Settings, repairs: list[str]) -> None:
    path = Path(entry.path)
    if entry.family is None or entry.target is None or not path.parent.is_dir():
        return  # the browser's folder is gone: nothing reads it any more
    want = manifest.build(entry.family, entry.target, settings)
    field = manifest.ALLOW_FIELD[entry.family]
    try:
        have = manifest.load(path)
    except (OSError, ValueError):
        have = {}
    if (
        have.get("path") == want["path"]
        and have.get(field) == want[field]
        and have.get("name") == want["name"]
    ):
        return
    fsutil.atomic_write(path, manifest.render(want))
    if have.get("path") not in (None, want["path"]):
        repairs.append(f"re-pointed {path} at {want['path']}")
    elif not have:
        repairs.append(f"rewrote {path}")
    else:
        repairs.append(f"updated the allowed extensions in {path}")
