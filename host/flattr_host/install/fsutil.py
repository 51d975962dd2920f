"""Atomic, world-readable writes, and folders created on the way (so uninstall can remove them).

Stdlib only.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

FILE_MODE = 0o644  # browsers run as the user, other users' browsers read system manifests
EXEC_MODE = 0o755
DIR_MODE = 0o755


def make_dirs(folder: Path, mode: int | None = None) -> list[Path]:
    """Create ``folder`` and missing parents; returns the ones created, outermost first.

    ``mode`` is forced on the folders created (system installs: readable by every user whatever
    the umask); otherwise the umask decides, as for any folder in a home directory.
    """
    missing: list[Path] = []
    current = folder
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    created: list[Path] = []
    for path in reversed(missing):
        try:
            path.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue
        if mode is not None:
            os.chmod(path, mode)
        created.append(path)
    return created


def atomic_write(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the new one, never half."""
    import tempfile  # only when writing: self-healing runs before hello

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)  # explicit: mkstemp makes 0600 whatever the umask
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def remove_empty_dirs(dirs: list[Path]) -> list[Path]:
    """Remove those of ``dirs`` that are empty, innermost first. Returns the ones removed."""
    removed: list[Path] = []
    for folder in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
        try:
            folder.rmdir()
        except OSError:  # not empty (someone else's files), or already gone
            continue
        removed.append(folder)
    return removed
