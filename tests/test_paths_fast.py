"""The data folder found before hello without platformdirs is the one platformdirs names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from flattr_host import paths

ASK = (
    "import json, platformdirs; from flattr_host import paths; "
    "print(json.dumps([paths.data_home_path(), "
    "platformdirs.user_data_dir(paths.APP_NAME, appauthor=False)]))"
)


@pytest.mark.skipif(sys.platform != "linux", reason="the fast path is for Linux only")
@pytest.mark.parametrize(
    "env",
    [
        {"HOME": "/home/ada"},
        {"HOME": "/home/ada/"},
        {"HOME": "/home/ada", "XDG_DATA_HOME": "/data/ada"},
        {"HOME": "/home/ada", "XDG_DATA_HOME": ""},
        {"HOME": "/home/ada", "XDG_DATA_HOME": "relative/data"},
        {"HOME": "/"},
    ],
)
def test_the_fast_data_folder_is_platformdirs_own(env: dict[str, str], tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", ASK],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    fast, platformdirs = json.loads(done.stdout)
    assert fast == platformdirs


def test_an_override_is_resolved_as_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path / "a" / ".." / "b"))
    assert paths.data_home() == (tmp_path / "b").resolve()
    assert paths.data_home_path() == str((tmp_path / "b").resolve())
