"""What every figure shares: its result row, native-messaging frames, the echo host, RSS."""

from __future__ import annotations

import json
import os
import shlex
import statistics
import struct
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

REPO = Path(__file__).resolve().parents[2]
HOST_SOURCE = REPO / "host"
HEADER = struct.Struct("=I")
CHROME_ARGV = ["chrome-extension://pceboilfpeijfppedbhfdflpddadaoml/"]
# The reference host: stdlib only, the least any native-messaging host can do.
ECHO_HOST = r"""
import json, struct, sys
r, w = sys.stdin.buffer, sys.stdout.buffer
while True:
    h = r.read(4)
    if len(h) < 4:
        break
    m = json.loads(r.read(struct.unpack("=I", h)[0]))
    out = json.dumps({"id": m.get("id"), "ok": True, "result": {}}).encode()
    w.write(struct.pack("=I", len(out)) + out)
    w.flush()
"""


@dataclass
class Figure:
    """One row of the table. ``higher_is_better``: the goal is a floor on the ratio."""

    name: str
    unit: str
    ours: float
    reference: float
    goal: str
    met: bool
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.ours / self.reference if self.reference else float("nan")

    def as_json(self) -> dict[str, Any]:
        return {
            "figure": self.name,
            "unit": self.unit,
            "ours": self.ours,
            "reference": self.reference,
            "ratio": self.ratio,
            "goal": self.goal,
            "met": self.met,
            "note": self.note,
        }


def median_of(runs: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(runs))


def frame(message: object) -> bytes:
    payload = json.dumps(message).encode()
    return HEADER.pack(len(payload)) + payload


def read_reply(stream: BinaryIO) -> dict[str, Any]:
    """The next reply, skipping the host's events."""
    while True:
        (length,) = HEADER.unpack(_exactly(stream, 4))
        message: dict[str, Any] = json.loads(_exactly(stream, length))
        if message.get("type") != "event":
            return message


def _exactly(stream: BinaryIO, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            raise EOFError("the host closed its stdout")
        data += chunk
    return data


class Launchers:
    """The host as `flattr-host install` sets it up for a user (HOME in a throwaway folder): its
    launcher, manifest and receipt; and the echo host behind a launcher of the same shape."""

    def __init__(self, root: Path) -> None:
        self.home = root / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("FLATTR_", "XDG_", "PYTHON"))
        }
        self.env["HOME"] = str(self.home)
        done = subprocess.run(
            [sys.executable, "-m", "flattr_host", "install", "--browser", "chromium"],
            env={**self.env, "PYTHONPATH": str(HOST_SOURCE)},
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"flattr-host install failed: {done.stdout}{done.stderr}")
        self.data = self.home / ".local" / "share" / "flattr-companion"
        self.host = self.data / "flattr-host-launcher"
        text = self.host.read_text()
        self.echo = root / "echo-launcher"
        # The same shape: a shell script exec-ing the pinned interpreter, isolated.
        self.echo.write_text(
            f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -I -c {shlex.quote(ECHO_HOST)} "$@"\n'
        )
        self.echo.chmod(0o755)
        assert " -I " in text, text

    def forget_data(self) -> None:
        """A fresh start for the next run: no database, as after a first install."""
        for path in self.data.glob("companion.sqlite3*"):
            path.unlink()

    def spawn(self, kind: str, **extra_env: str) -> subprocess.Popen[bytes]:
        program = self.host if kind == "host" else self.echo
        return subprocess.Popen(
            [str(program), *CHROME_ARGV],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**self.env, **extra_env},
            cwd=str(program.parent),
        )


def request(proc: subprocess.Popen[bytes], message: dict[str, Any]) -> dict[str, Any]:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(frame(message))
    proc.stdin.flush()
    return read_reply(proc.stdout)  # type: ignore[arg-type]


def finish(proc: subprocess.Popen[bytes]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")
