"""One run's folder: its own HOME and TMPDIR (Chromium writes crash reports, dconf and
/tmp/org.chromium.* even with --user-data-dir), the browser profile and the host's data."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
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


@dataclass(frozen=True)
class RunDir:
    root: Path
    marker: str

    @classmethod
    def create(cls, label: str) -> RunDir:
        root = Path(tempfile.mkdtemp(prefix=f"{RUN_PREFIX}{label}-"))
        run = cls(root, f"{label}-{uuid.uuid4().hex}")
        for path in (run.home, run.tmp, run.profile, run.host_home):
            path.mkdir(parents=True, mode=0o700)
        (run.home / ".asoundrc").write_text(ASOUNDRC)
        return run

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def profile(self) -> Path:
        return self.root / "profile"

    @property
    def host_home(self) -> Path:
        """FLATTR_HOST_HOME of the hosts the browser launches."""
        return self.root / "host-home"

    @property
    def launcher(self) -> Path:
        return self.root / "flattr-host-launcher"

    @property
    def host_pid_file(self) -> Path:
        return self.root / "host.pids"

    @property
    def host_log(self) -> Path:
        return self.host_home / "logs" / "flattr-host.log"

    @property
    def database(self) -> Path:
        return self.host_home / "companion.sqlite3"

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
