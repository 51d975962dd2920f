"""May every user run this Python? ``install --system`` pins the interpreter that ran it for all
users: if someone other than root or an administrator can change that interpreter, its libraries
or this package, they run code as every user whose browser starts the host.

POSIX only (Windows ACLs are not checked). The owners trusted and ``os.stat`` are injectable, so
tests running as root or as a plain user can exercise both verdicts.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
import sysconfig
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

# Members of these groups can become root anyway: what they own adds no risk.
ADMIN_GROUPS = ("admin", "wheel", "sudo")
# Where sysconfig says the interpreter imports from (the launcher runs ``python -I``).
IMPORT_PATHS = ("stdlib", "platstdlib", "purelib", "platlib")
SITE_PATHS = ("purelib", "platlib")  # whose entries (one per installed package) are checked too
SHARED_VENV = "/opt/flattr-companion"


@dataclass(frozen=True)
class Owners:
    """Who may own, or share write access to, what every user runs."""

    uids: frozenset[int]
    gids: frozenset[int]
    stat: Callable[[Path], os.stat_result] = os.stat

    @classmethod
    def current(cls) -> Owners:
        """root, and the members of the administrators' groups."""
        import grp
        import pwd

        uids, gids = {0}, {0}
        for name in ADMIN_GROUPS:
            try:
                group = grp.getgrnam(name)
            except KeyError:
                continue
            gids.add(group.gr_gid)
            for member in group.gr_mem:
                try:
                    uids.add(pwd.getpwnam(member).pw_uid)
                except KeyError:
                    continue
        return cls(frozenset(uids), frozenset(gids))


@dataclass(frozen=True)
class Problem:
    path: Path
    why: str
    fix: str

    def line(self) -> str:
        return f"{self.path} {self.why}. Run: {self.fix}"


def runtime_paths(executable: Path, source: Path | None, package: Path) -> list[Path]:
    """What a system install makes every user run: the interpreter (as pinned and resolved), its
    environment and import folders with the packages installed there, and this package."""
    found = [executable, executable.resolve(), Path(sys.prefix), package]
    venv = executable.parent.parent
    if (venv / "pyvenv.cfg").exists():  # it names the base Python the venv runs
        found += [venv, venv / "pyvenv.cfg"]
    if source is not None:
        found.append(source)
    config = sysconfig.get_paths()
    found += [Path(config[key]) for key in IMPORT_PATHS if key in config]
    for key in SITE_PATHS:
        if key in config and Path(config[key]).is_dir():
            found += sorted(Path(config[key]).iterdir())
    found += [Path(root) / name for root, dirs, files in os.walk(package) for name in dirs + files]
    return found


def problems(paths: Iterable[Path], owners: Owners) -> list[Problem]:
    """Each path, and every folder above it, that someone untrusted owns or may write."""
    checked: set[Path] = set()
    found: list[Problem] = []
    for path in paths:
        path = Path(os.path.abspath(path))
        for item, is_ancestor in [(path, False), *((p, True) for p in path.parents)]:
            if item in checked:
                continue
            checked.add(item)
            problem = _problem(item, owners, ancestor=is_ancestor)
            if problem is not None:
                found.append(problem)
    return found


def _problem(path: Path, owners: Owners, *, ancestor: bool) -> Problem | None:
    try:
        info = owners.stat(path)
    except OSError:
        return None  # gone, or not ours to see: nothing runs from it
    quoted = shlex.quote(str(path))
    if info.st_uid not in owners.uids:
        return Problem(
            path, f"belongs to {_user(info.st_uid)}, not root or an administrator",
            f"sudo chown root {quoted}",
        )  # fmt: skip
    # A sticky folder (like /tmp) lets others add entries but not replace ours: harmless above
    # what runs, not for a folder Python imports from.
    sticky = ancestor and stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_ISVTX
    mode = f"mode {stat.S_IMODE(info.st_mode):04o}"
    if info.st_mode & stat.S_IWOTH and not sticky:
        return Problem(path, f"is writable by every user ({mode})", f"sudo chmod o-w {quoted}")
    if info.st_mode & stat.S_IWGRP and info.st_gid not in owners.gids:
        return Problem(
            path, f"is writable by group {_group(info.st_gid)} ({mode})", f"sudo chmod g-w {quoted}"
        )
    return None


def _user(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def _group(gid: int) -> str:
    try:
        import grp

        return f"{grp.getgrgid(gid).gr_name} (gid {gid})"
    except (ImportError, KeyError):
        return f"gid {gid}"


def shared_venv_commands() -> str:
    """How to make an environment only root can change."""
    venv = SHARED_VENV
    return (
        f"sudo python3 -m venv {venv} && sudo {venv}/bin/pip install flattr-companion && "
        f"sudo {venv}/bin/flattr-host install --system"
    )
