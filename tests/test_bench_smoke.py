"""`./scripts/bench --smoke`: every figure is measured and reported. Its numbers are not judged
(timings are for the benchmark itself, on a quiet machine), only that they are there and sane."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIGURES = 6
SMOKE_TIMEOUT_SECONDS = 600
CHROMIUM = Path("/usr/lib/chromium/chromium")


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install chromium"
)
def test_a_smoke_run_reports_all_six_figures() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench.py"), "--smoke", "--json"],
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT_SECONDS,
        cwd=REPO,
        check=False,
    )
    rows = json.loads(done.stdout)
    assert len(rows) == FIGURES, done.stderr
    assert len({row["figure"] for row in rows}) == FIGURES
    for row in rows:
        assert not row["note"].startswith("failed"), (row, done.stderr[-2000:])
        for key in ("ours", "reference", "ratio"):
            assert math.isfinite(row[key]) and row[key] >= 0, row
        assert row["reference"] > 0 and row["goal"], row
        assert isinstance(row["met"], bool)
    # The exit status says whether every goal was met; the table says which were not.
    assert done.returncode == (0 if all(row["met"] for row in rows) else 1)
