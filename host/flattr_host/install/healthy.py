"""A note that self-healing last found nothing to repair, so that the next start skips it (and its
imports, the slowest part of a start) while none of the files it looked at has changed.

Stdlib ``os`` and ``json`` only: it is read before ``hello`` is answered. Any doubt (no note, an
unreadable one, a file changed, appeared or gone, other extension ids) means a full self-heal.
"""

from __future__ import annotations

import json
import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing before hello
if TYPE_CHECKING:
    from collections.abc import Iterable

STAMP_FILE = "selfheal-ok.json"
VERSION = 1
# A watched path ending so is a folder: only whether it exists counts (files in it come and go).
FOLDER = os.sep


def unchanged(home: str | os.PathLike[str], extension_ids: Iterable[str]) -> bool:
    """True when the note in ``home`` matches every file it lists, as they are now."""
    try:
        with open(os.path.join(home, STAMP_FILE), encoding="utf-8") as file:
            note = json.load(file)
    except (OSError, ValueError):
        return False
    if not isinstance(note, dict) or note.get("version") != VERSION:
        return False
    files = note.get("files")
    if note.get("ids") != list(extension_ids) or not isinstance(files, dict) or not files:
        return False
    return all(_state(path) == state for path, state in files.items())


def save(
    home: str | os.PathLike[str], watched: Iterable[str], extension_ids: Iterable[str]
) -> None:
    """Note the files a self-heal that repaired nothing looked at. Never raises."""
    note = {
        "version": VERSION,
        "ids": list(extension_ids),
        "files": {path: _state(path) for path in sorted(set(watched))},
    }
    target = os.path.join(home, STAMP_FILE)
    partial = f"{target}.{os.getpid()}.tmp"
    try:
        fd = os.open(partial, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump(note, file)
        os.replace(partial, target)
    except OSError:
        forget(home)


def forget(home: str | os.PathLike[str]) -> None:
    # Not contextlib.suppress: contextlib costs a start more than this whole module.
    try:  # noqa: SIM105
        os.remove(os.path.join(home, STAMP_FILE))
    except OSError:
        pass  # no note is what forgetting wants


def _state(path: str) -> list[int] | bool | None:
    """What changes when a file is rewritten, replaced or removed (None: absent)."""
    if path.endswith(FOLDER):
        return os.path.isdir(path)
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size, st.st_ino]
