"""The command that upgrades this very host, for ``upgrade_required`` and a too-new database.

Stdlib only and cheap: ``hello`` may need it before anything heavy is imported.
"""

from __future__ import annotations

import os
import sys

PACKAGE = "flattr-companion"
# pipx writes this file into the root of every environment it manages.
PIPX_METADATA = "pipx_metadata.json"


def upgrade_command(prefix: str | None = None, executable: str | None = None) -> str:
    """``pipx upgrade …`` when pipx manages our environment, else pip run by this very Python
    (right for any venv, activated or not); then ``install`` to refresh the browsers' manifests."""
    prefix = prefix or sys.prefix
    if os.path.isfile(os.path.join(prefix, PIPX_METADATA)):  # os.path: pathlib is slow to import
        return f"pipx upgrade {PACKAGE} && flattr-host install"
    python = _quote(executable or sys.executable)
    return f"{python} -m pip install --upgrade {PACKAGE} && {python} -m flattr_host install"


def _quote(path: str) -> str:
    if sys.platform == "win32":
        return f'"{path}"' if " " in path else path
    import shlex  # only when a command is needed, never on the way to answering hello

    return shlex.quote(path)
