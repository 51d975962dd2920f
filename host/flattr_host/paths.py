"""Where the host keeps its database and logs, and how private they are.

The data and log folders are 0700 and every file the host writes 0600, whatever the umask: the
database holds the token, and a folder others can write lets them swap the files in it.

The data folder is found before ``hello`` is answered: with ``os`` alone where it can be (pathlib
and platformdirs are the slowest imports of a start), with platformdirs everywhere else.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing before hello
if TYPE_CHECKING:
    from pathlib import Path

APP_NAME = "flattr-companion"
HOME_ENV = "FLATTR_HOST_HOME"
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def data_home() -> Path:
    """``FLATTR_HOST_HOME`` (tests, portable installs) or the platform's user data dir."""
    from pathlib import Path

    return Path(data_home_path())


def data_home_path() -> str:
    """``data_home()`` as a string, importing neither pathlib nor (on most Linux desktops)
    platformdirs."""
    override = os.environ.get(HOME_ENV)
    if override:
        return os.path.realpath(os.path.expanduser(override))
    xdg = xdg_data_home()
    if xdg is not None:
        return os.path.join(xdg, APP_NAME)
    import platformdirs

    return platformdirs.user_data_dir(APP_NAME, appauthor=False)


def xdg_data_home() -> str | None:
    """What platformdirs answers on desktop Linux (the XDG base directory spec), or None wherever
    it might answer anything else (Android, a relative HOME, other systems)."""
    if sys.platform != "linux" or os.environ.get("ANDROID_DATA"):
        return None
    xdg = os.environ.get("XDG_DATA_HOME", "")
    if os.path.isabs(xdg):
        return xdg
    home = os.environ.get("HOME", "")
    if not os.path.isabs(home):
        return None
    return home.rstrip("/") + "/.local/share"


def log_dir() -> Path:
    from pathlib import Path

    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override).expanduser().resolve() / "logs"
    import platformdirs

    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def database_path(home: Path) -> Path:
    return home / "companion.sqlite3"


def private_dir(folder: Path) -> Path:
    """Create ``folder`` (and missing parents, as XDG asks) 0700 whatever the umask; an existing
    one that others may read or write (an older host under umask 000) is tightened."""
    missing: list[Path] = []
    current = folder
    while not current.exists() and current.parent != current:
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:  # another host process made it meanwhile
            continue
        os.chmod(path, PRIVATE_DIR)  # mkdir's mode is filtered by the umask
    restrict(folder, PRIVATE_DIR)
    return folder


def restrict(path: Path, mode: int = PRIVATE_FILE) -> None:
    """Take group and other permissions away from an existing ``path``."""
    if os.name != "nt" and path.stat().st_mode & 0o077:
        os.chmod(path, mode)
