"""Benchmarks of every figure users feel, each against a reference measured in the same run.

The machines this runs on are shared and noisy, so each figure is a ratio (or a difference) of
medians measured side by side, never an absolute time. See docs/benchmarks.md for the goals, the
latest table and what was changed to meet them. ``--smoke`` runs every figure once, briefly: it
checks that the benchmark works, its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmarks import browser, drain, host
from benchmarks.common import Figure, Launchers


@dataclass(frozen=True)
class Sizes:
    spawns: int
    segments: int
    intake_runs: int
    memory_runs: int
    backlog: int
    drain_runs: int
    popup_runs: int
    page_loads: int


FULL = Sizes(
    spawns=15,
    segments=2000,
    intake_runs=3,
    memory_runs=3,
    backlog=100_000,
    drain_runs=3,
    popup_runs=10,
    page_loads=30,
)
SMOKE = Sizes(
    spawns=2,
    segments=40,
    intake_runs=1,
    memory_runs=1,
    backlog=500,
    drain_runs=1,
    popup_runs=1,
    page_loads=2,
)
NAMES = ("cold_start", "intake", "memory", "drain", "popup", "content_script")


def figures(work: Path, s: Sizes) -> dict[str, Callable[[], Figure]]:
    installed: list[Launchers] = []

    def launchers() -> Launchers:  # installed once, at the first figure that needs it
        if not installed:
            installed.append(Launchers(work / "installed"))
        return installed[0]

    return {
        "cold_start": lambda: host.cold_start(launchers(), s.spawns),
        "intake": lambda: host.intake(launchers(), s.segments, s.intake_runs),
        "memory": lambda: host.memory(launchers(), s.memory_runs),
        "drain": lambda: drain.backlog_drain(work, s.backlog, s.drain_runs),
        "popup": lambda: browser.popup_time_to_status(work, launchers(), s.popup_runs),
        "content_script": lambda: browser.content_script_cost(work, s.page_loads),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="every figure once, briefly")
    parser.add_argument("--json", action="store_true", help="the table as JSON on stdout")
    parser.add_argument("--only", action="append", choices=NAMES, help="just these figures")
    args = parser.parse_args()
    sizes = SMOKE if args.smoke else FULL
    rows: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="flattr-bench-") as tmp:
        for name, measure in figures(Path(tmp), sizes).items():
            if args.only and name not in args.only:
                continue
            try:
                rows.append(measure())
            except Exception as exc:  # one broken figure must not hide the others
                traceback.print_exc(file=sys.stderr)
                rows.append(Figure(name, "", math.nan, math.nan, "", False, f"failed: {exc}"))
            if not args.json:
                print(f"measured {rows[-1].name}", file=sys.stderr)
    if args.json:
        print(json.dumps([row.as_json() for row in rows], indent=2))
    else:
        print(table(rows))
    return 0 if all(row.met for row in rows) else 1


def table(rows: list[Figure]) -> str:
    head = ("figure", "ours", "reference", "ratio", "goal", "met")
    body = [
        (
            r.name,
            f"{r.ours:.4g} {r.unit}",
            f"{r.reference:.4g} {r.unit}",
            f"{r.ratio:.2f}×",
            r.goal,
            ("yes" if r.met else "NO") + (f" ({r.note})" if r.note else ""),
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in (head, *body)) for i in range(len(head))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in (head, *body)
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
