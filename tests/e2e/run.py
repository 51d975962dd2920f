"""One run's folder: its own HOME and TMPDIR (Chromium writes crash reports, dconf and
/tmp/org.chromium.* even with --user-data-dir), the browser profile and the host's data."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

from .procs import MARKER_VAR

RUN_PREFIX = "flattr-e2e-"
# A silent ALSA sound card: without any output device Firefox plays media but never reports the
# tab as audible (and the extension's audio attention needs that), so give it one to play into.
ASOUNDRC = "pcm.!default { type null }\n"


# `./scripts/demo --headed` sets this: show the browser on the desktop instead of headless.
HEADED_VAR = "FLATTR_E2E_HEADED"
DISPLAY_VARS = ("DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY")


def headed() -> bool:
    return os.environ.get(HEADED_VAR) == "1"


class RunDir:
    """The folder of one run and the places in it."""

    def __init__(self, root: Path, marker: str) -> None:
        self.root = root
        self.marker = marker
        self.home = root / "home"
        self.tmp = root / "tmp"
        self.profile = root / "profile"
        # FLATTR_HOST_HOME of the hosts the browser launches.
        self.host_home = root / "host-home"
        self.launcher = root / "flattr-host-launcher"
        self.host_pid_file = root / "host.pids"
        self.host_log = self.host_home / "logs" / "flattr-host.log"
        self.database = self.host_home / "companion.sqlite3"

    @classmethod
    def create(cls, label: str) -> RunDir:
        root = Path(tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{label}-"))
        run = cls(root, f"{label}-{uuid.uuid4().hex}")
        for path in (run.home, run.tmp, run.profile, run.host_home):
            path.mkdir(parents=True, mode=0o700)
        (run.home / ".asoundrc").write_text(ASOUNDRC)
        return run

    def env(self) -> dict[str, str]:
        """The browser's whole environment: nothing leaks in from the developer's session."""
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "TMPDIR": str(self.tmp),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "XDG_RUNTIME_DIR": str(self.tmp),
            "LANG": "C.UTF-8",
            # No desktop session: headless, no D-Bus, no crash reporter.
            "DBUS_SESSION_BUS_ADDRESS": "disabled:",
            "MOZ_CRASHREPORTER_DISABLE": "1",
            MARKER_VAR: self.marker,
            **(
                {k: os.environ[k] for k in DISPLAY_VARS if k in os.environ}
                if headed()
                else {"CHROME_HEADLESS": "1"}
            ),
        }

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
