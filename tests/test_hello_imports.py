"""What a browser waits for: nothing slow to import is imported before ``hello`` is answered."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Each costs milliseconds the browser would wait at every host start (measured by ./scripts/bench).
SLOW = ("typing", "pathlib", "threading", "platformdirs", "logging", "dataclasses", "pydantic")
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
