"""What every figure shares: its result row, native-messaging frames, the echo host, RSS."""

from __future__ import annotations

import json
import os
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
# What the installed launcher runs when flattr_host is not in the interpreter's site-packages
# (install/launcher.py BOOTSTRAP): the same -I start, the package found via FLATTR_HOST_SOURCE.
HOST_BOOTSTRAP = (
    "import os, sys; sys.path.insert(0, os.environ['FLATTR_HOST_SOURCE']); "
    "from flattr_host.__main__ import main; sys.exit(main())"
)


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


def launch_argv(kind: str) -> list[str]:
    """As the installed launcher starts the host: this interpreter pinned, isolated (-I)."""
    if kind == "echo":
        return [sys.executable, "-I", "-c", ECHO_HOST, *CHROME_ARGV]
    if _installed():
        return [sys.executable, "-I", "-m", "flattr_host", *CHROME_ARGV]
    return [sys.executable, "-I", "-c", HOST_BOOTSTRAP, *CHROME_ARGV]


def _installed() -> bool:
    done = subprocess.run(
        [sys.executable, "-I", "-c", "import flattr_host"], capture_output=True, check=False
    )
    return done.returncode == 0


def spawn(kind: str, home: Path, **extra_env: str) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        FLATTR_HOST_HOME=str(home),
        FLATTR_HOST_SOURCE=str(HOST_SOURCE),
        **extra_env,
    )
    return subprocess.Popen(
        launch_argv(kind),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
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
