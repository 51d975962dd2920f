"""Benchmarks of the host against a stdlib-only echo host, measured in the same run.

Prints ratios (host ÷ echo) rather than absolute times: these machines are shared and noisy, so
only figures measured side by side mean anything. Goals (issue 2): spawn → hello reply ≤ 1.5× the
echo's, durably acknowledged attention segments per second ≥ 0.5× the echo's round trips, idle
memory after hello ≤ 32 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADER = struct.Struct("=I")
CHROME_ARGV = ["chrome-extension://pceboilfpeijfppedbhfdflpddadaoml/"]
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
GOALS = {"spawn_to_hello": 1.5, "segments_per_second": 0.5, "idle_mb": 32.0}


def frame(message: object) -> bytes:
    payload = json.dumps(message).encode()
    return HEADER.pack(len(payload)) + payload


def read_reply(stream: object) -> dict[str, object]:
    read = stream.read  # type: ignore[attr-defined]
    while True:
        (length,) = HEADER.unpack(read(4))
        message = json.loads(read(length))
        if message.get("type") != "event":
            return message  # type: ignore[no-any-return]


def spawn(kind: str, home: Path) -> subprocess.Popen[bytes]:
    argv = (
        [sys.executable, "-c", ECHO_HOST]
        if kind == "echo"
        else [sys.executable, "-m", "flattr_host", *CHROME_ARGV]
    )
    env = dict(os.environ, FLATTR_HOST_HOME=str(home))
    return subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
    )


def spawn_to_hello(kind: str, home: Path) -> float:
    started = time.perf_counter()
    proc = spawn(kind, home)
    assert proc.stdin and proc.stdout
    proc.stdin.write(frame({"id": 1, "type": "hello"}))
    proc.stdin.flush()
    read_reply(proc.stdout)
    elapsed = time.perf_counter() - started
    proc.stdin.close()
    proc.wait(5)
    return elapsed


def round_trips(kind: str, home: Path, count: int) -> tuple[float, float]:
    """(messages per second, RSS in MB after hello) for ``count`` attention segments, each
    awaited before the next, as an extension does."""
    proc = spawn(kind, home)
    assert proc.stdin and proc.stdout
    proc.stdin.write(frame({"id": 0, "type": "hello"}))
    proc.stdin.flush()
    read_reply(proc.stdout)
    time.sleep(0.5)
    rss = _rss_mb(proc.pid)
    if kind == "host":
        proc.stdin.write(frame({"id": -1, "type": "status"}))  # warm up: validation imported
        proc.stdin.flush()
        read_reply(proc.stdout)
    started = time.perf_counter()
    for n in range(count):
        segment = {"url": f"https://bench.example.com/{n % 50}", "seconds": 1}
        proc.stdin.write(frame({"id": n + 1, "type": "attention", "segments": [segment]}))
        proc.stdin.flush()
        reply = read_reply(proc.stdout)
        assert reply.get("ok"), reply
    rate = count / (time.perf_counter() - started)
    proc.stdin.close()
    proc.wait(5)
    return rate, rss


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spawns", type=int, default=15)
    parser.add_argument("--segments", type=int, default=2000)
    args = parser.parse_args()
    results: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        spawn_to_hello("host", home)  # create the database outside the measurement
        times = {k: [spawn_to_hello(k, home) for _ in range(args.spawns)] for k in ("echo", "host")}
        results["spawn_to_hello"] = (
            statistics.median(times["host"]),
            statistics.median(times["echo"]),
        )
        host_rate, host_rss = round_trips("host", home, args.segments)
        echo_rate, echo_rss = round_trips("echo", home, args.segments)
        results["segments_per_second"] = (host_rate, echo_rate)
        results["idle_mb"] = (host_rss, echo_rss)
    ok = True
    print(f"{'measure':<22}{'host':>12}{'echo':>12}{'ratio':>9}  goal")
    for name, (host, echo) in results.items():
        ratio = host / echo
        if name == "idle_mb":
            met, goal = host <= GOALS[name], f"host ≤ {GOALS[name]:.0f} MB"
        elif name == "spawn_to_hello":
            met, goal = ratio <= GOALS[name], f"ratio ≤ {GOALS[name]}"
        else:
            met, goal = ratio >= GOALS[name], f"ratio ≥ {GOALS[name]}"
        ok &= met
        print(
            f"{name:<22}{host:>12.4g}{echo:>12.4g}{ratio:>9.2f}  {goal} {'ok' if met else 'MISSED'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
