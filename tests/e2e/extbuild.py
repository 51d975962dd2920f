"""Build the real extension once per test session, into a temporary folder (never dist/: the
other engineers may be building there)."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "scripts" / "build-extension"
BACKGROUND = REPO / "extension" / "src" / "background" / "main.js"
BUILD_TIMEOUT_SECONDS = 120


class BuildFailed(RuntimeError):
    pass


def build(out: Path) -> dict[str, Path]:
    """{"chromium": unpacked dir, "firefox": unpacked dir}."""
    if not BUILD_SCRIPT.exists() or not BACKGROUND.exists():
        raise BuildFailed(f"{BUILD_SCRIPT} or {BACKGROUND} is missing: the extension is not there")
    done = subprocess.run(
        [str(BUILD_SCRIPT), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
        cwd=REPO,
        check=False,
    )
    if done.returncode != 0:
        raise BuildFailed(f"scripts/build-extension failed:\n{done.stdout}\n{done.stderr}")
    dirs = {name: out / name for name in ("chromium", "firefox")}
    for name, path in dirs.items():
        if not (path / "manifest.json").exists():
            raise BuildFailed(f"the build wrote no {name} manifest under {out}")
    return dirs
