"""The launcher a manifest's ``path`` points at: an absolute script that pins the interpreter of the
environment the host is installed in (a browser started from a desktop menu has a minimal PATH, so
``/usr/bin/env python3`` would find the wrong Python, or none).

Stdlib only (self-healing rewrites a launcher whose interpreter has gone).
"""

from __future__ import annotations

import shlex
from pathlib import Path

from .platform import WINDOWS, Platform

POSIX_NAME = "flattr-host-launcher"
WINDOWS_NAME = "flattr-host-launcher.bat"
FLATPAK_NAME = "flattr-host-flatpak-launcher"
MARKER = "interpreter:"  # the comment line naming the pinned interpreter
HOME_VAR = "FLATTR_HOST_HOME"
SOURCE_VAR = "FLATTR_HOST_SOURCE"
# -I (isolated): no PYTHON* variables, no user site, no cwd on sys.path. It also ignores
# PYTHONPATH, so a host that is not installed in the interpreter's site-packages gets its folder
# from FLATTR_HOST_SOURCE through this bootstrap instead.
BOOTSTRAP = (
    "import os, sys; sys.path.insert(0, os.environ['FLATTR_HOST_SOURCE']); "
    "from flattr_host.__main__ import main; sys.exit(main())"
)
# The installed package, started as `-m flattr_host` would but without runpy: `-m` imports runpy,
# importlib.util and contextlib first, some 8 ms of every start the browser waits for.
INSTALLED = "import sys; from flattr_host.__main__ import main; sys.exit(main())"
PACKAGE_DIR = Path(__file__).resolve().parents[1]
PROBE_TIMEOUT = 30.0  # seconds for `python -I -c "import flattr_host"` at install time


def launcher_path(platform: Platform, folder: Path) -> Path:
    return folder / (WINDOWS_NAME if platform.os == WINDOWS else POSIX_NAME)


def imports_same_package(interpreter: Path) -> bool:
    """True when ``interpreter -I`` imports this very flattr_host (it is installed there)."""
    import subprocess  # install time only: self-healing must stay light

    try:
        out = subprocess.run(
            [str(interpreter), "-I", "-c", "import flattr_host; print(flattr_host.__file__)"],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and Path(out.stdout.strip()).resolve().parent == PACKAGE_DIR


def render(platform: Platform, interpreter: Path, *, source: Path | None, home: Path | None) -> str:
    """The launcher's text. ``source``: the folder holding ``flattr_host`` when the interpreter
    does not import it by itself; ``home``: a FLATTR_HOST_HOME to pin (portable installs)."""
    env = {HOME_VAR: home, SOURCE_VAR: source}
    if platform.os == WINDOWS:
        lines = [
            "@echo off",
            "rem Flattr Companion host launcher, written by `flattr-host install`: run it again",
            "rem rather than editing this file. Browsers start it; it pins this Python:",
            f"rem {MARKER} {interpreter}",
            "setlocal",
            *(f'set "{k}={_bat(str(v))}"' for k, v in env.items() if v is not None),
            f'"{_bat(str(interpreter))}" -I '
            + f'-c "{INSTALLED if source is None else BOOTSTRAP}"'
            + " %*",
        ]
        return "\r\n".join(lines) + "\r\n"
    command = f"-c {shlex.quote(INSTALLED if source is None else BOOTSTRAP)}"
    lines = [
        "#!/bin/sh",
        "# Flattr Companion host launcher, written by `flattr-host install`: run it again rather",
        "# than editing this file. Browsers start it; it pins this Python:",
        f"# {MARKER} {interpreter}",
        *(f"{k}={shlex.quote(str(v))}; export {k}" for k, v in env.items() if v is not None),
        f'exec {shlex.quote(str(interpreter))} -I {command} "$@"',
    ]
    return "\n".join(lines) + "\n"


def _bat(text: str) -> str:
    return text.replace("%", "%%")  # the only character a quoted .bat string expands


def pinned_interpreter(text: str) -> Path | None:
    """The interpreter a launcher we wrote pins (None: not one of ours)."""
    for line in text.splitlines()[:8]:
        _, found, rest = line.partition(f" {MARKER} ")
        if found and line.startswith(("#", "rem")):
            return Path(rest.strip())
    return None


def render_flatpak_wrapper(launcher: Path, app_id: str) -> str:
    """Runs inside the Flatpak sandbox: starts the real launcher on the host. Needs the app to be
    allowed to talk to org.freedesktop.Flatpak (``flatpak override``)."""
    return (
        "\n".join(
            [
                "#!/bin/sh",
                "# Flattr Companion: starts the host outside the Flatpak sandbox. Needs:",
                f"#   flatpak override --user --talk-name=org.freedesktop.Flatpak {app_id}",
                f'exec flatpak-spawn --host {shlex.quote(str(launcher))} "$@"',
            ]
        )
        + "\n"
    )
