"""The host and the local Flattr server share no code: importing every module of one package
loads nothing of the other (the host's `flattr-host sim` loads the server only when run)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

IMPORT_ALL = (
    "import importlib, json, pkgutil, sys\n"
    "package = importlib.import_module(sys.argv[1])\n"
    "for module in pkgutil.walk_packages(package.__path__, sys.argv[1] + '.'):\n"
    "    if not module.name.endswith('__main__'):\n"
    "        importlib.import_module(module.name)\n"
    "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == sys.argv[2])))\n"
)


@pytest.mark.parametrize(
    ("package", "other"), [("flattr_host", "flattr_sim"), ("flattr_sim", "flattr_host")]
)
def test_importing_one_package_loads_nothing_of_the_other(package: str, other: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL, package, other],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout) == []
