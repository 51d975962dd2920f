"""What a browser waits for: nothing slow to import is imported before ``hello`` is answered."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Each costs milliseconds the browser would wait at every host start (measured by ./scripts/bench).
SLOW = (
    "typing",
    "pathlib",
    "threading",
    "platformdirs",
    "logging",
    "dataclasses",
    "pydantic",
    "contextlib",
    "collections.abc",
)
ANSWER_HELLO = (
    "import json, sys\n"
    "from flattr_host import native, paths, hello\n"
    "home = paths.data_home_path()\n"
    "settings = native.load_settings(home)\n"
    "native._self_heal(home, settings)\n"
    "native.answer_hello({'id': 1, 'type': 'hello'}, [])\n"
    f"print(json.dumps([m for m in {SLOW!r} if m in sys.modules]))\n"
)


@pytest.mark.skipif(sys.platform != "linux", reason="platformdirs is skipped on Linux only")
def test_nothing_slow_is_imported_before_hello(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-I", "-c", ANSWER_HELLO],
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert json.loads(done.stdout) == []


@pytest.mark.skipif(sys.platform != "linux", reason="platformdirs is skipped on Linux only")
def test_nothing_slow_is_imported_before_hello_once_installed(tmp_path: Path) -> None:
    # As browsers start it after `flattr-host install`: the second start reads the self-heal
    # note (install/healthy.py) instead of healing, and that must stay as light.
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    install = [sys.executable, "-I", "-m", "flattr_host", "install", "--browser", "chromium"]
    subprocess.run(install, env=env, capture_output=True, check=True, cwd=tmp_path)
    started = []
    for _ in range(2):  # the first start heals in full and writes the note
        done = subprocess.run(
            [sys.executable, "-I", "-c", ANSWER_HELLO],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp_path,
        )
        started.append(json.loads(done.stdout))
    assert list(tmp_path.rglob("selfheal-ok.json")), "the first start wrote no note"
    assert started[1] == []
