"""Kill the host with SIGKILL at random moments during intake and submission, and `flattr-host
flush` in the middle of a drain: every acknowledged flattr is still delivered, and with the server
de-duplicating by Idempotency-Key, exactly once."""

from __future__ import annotations

import json
import os
import random
import select
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from flattr_host import accounts, paths, store
from flattr_host.settings import load_settings
from flattr_sim import SimProcess
from helpers import make_home, queue_flattr, run_cli, sim_env
from hostproc import HEADER, HostProcess

ROUNDS = 8
SEGMENTS_PER_ROUND = 12
# Each segment alone crosses the first threshold (50 s): one flattr per acknowledged segment.
SECONDS = 60
# The drain: small batches, so that a run sends many and a kill finds two in flight (the one on
# the wire and the one started behind it).
DRAIN_FLATTRS = 400
DRAIN_BATCH = 10
DRAIN_KILLS = 5
# How long to wait for a killed run's successor to send its first request.
FIRST_REQUEST_SECONDS = 30.0


def _drain_acks(host: HostProcess, acked: dict[int, str], sent: dict[int, str]) -> None:
    """Collect every reply already written before the kill (they were acknowledged)."""
    assert host.proc.stdout is not None
    fd = host.proc.stdout.fileno()
    data = host._buffer
    while select.select([fd], [], [], 0)[0]:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    while len(data) >= HEADER.size:
        (length,) = HEADER.unpack(data[: HEADER.size])
        if len(data) < HEADER.size + length:
            break  # a frame cut by the kill was never seen by the browser: not acknowledged
        message = json.loads(data[HEADER.size : HEADER.size + length])
        data = data[HEADER.size + length :]
        rid = message.get("id")
        if message.get("ok") and rid in sent:
            result = message["result"]["results"][0]
            assert result["flattrs_queued"] == 1, result
            acked[rid] = sent[rid]


def test_sigkill_at_random_moments_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, fresh_sim: SimProcess
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    home = make_home(tmp_path / "home")
    env = sim_env(home, fresh_sim)
    fresh_sim.control.add_user("crash", "crash-token")
    # Slow responses widen the window in which a kill lands mid-submission.
    fresh_sim.control.set_faults(
        script=[{"delay": rng.uniform(0.05, 0.3)} for _ in range(200)], dedupe=True
    )
    acked: dict[int, str] = {}
    next_id = 1000
    with HostProcess(home, env=env) as host:
        assert host.request("hello")["ok"]
        assert host.request("token", token="crash-token", page_url="https://flattr.com/oauth/ext")[
            "ok"
        ]
        host.close()
    for round_ in range(ROUNDS):
        with HostProcess(home, env=env) as host:
            sent: dict[int, str] = {}
            # Kill moments count from a host that is up and has loaded its request code: on a busy
            # machine that alone can outlast the random window, and a round that never reached
            # intake tests nothing.
            assert host.request("hello")["ok"]
            assert host.request("status")["ok"]
            for n in range(SEGMENTS_PER_ROUND):
                next_id += 1
                url = f"https://crash.example.org/r{round_}/p{n}"
                sent[next_id] = url
                host.send(
                    {
                        "id": next_id,
                        "type": "attention",
                        "segments": [{"url": url, "seconds": SECONDS}],
                    }
                )
                if rng.random() < 0.3:
                    time.sleep(rng.uniform(0, 0.05))
            time.sleep(rng.uniform(0.0, 0.6))
            host.proc.kill()  # SIGKILL: no chance to clean up
            host.proc.wait(5)
            _drain_acks(host, acked, sent)
    assert acked, f"no segment was acknowledged at all (seed {seed})"

    fresh_sim.control.set_faults(script=[], dedupe=True)
    with HostProcess(home, env=env) as host:
        assert host.request("hello")["ok"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            host.request("tick", force=True)
            queue = host.request("status")["result"]["queue"]
            if queue["pending"] == queue["in_flight"] == queue["failed"] == 0:
                break
            time.sleep(0.3)
        assert queue["pending"] == queue["in_flight"] == queue["failed"] == 0, (queue, seed)
        host.close()

    delivered = [f["url"] for f in fresh_sim.control.flattrs()]
    missing = set(acked.values()) - set(delivered)
    duplicated = {u for u in delivered if delivered.count(u) > 1}
    assert not missing, f"acknowledged but never delivered (seed {seed}): {sorted(missing)}"
    assert not duplicated, f"delivered twice (seed {seed}): {sorted(duplicated)}"


def _in_flight(home: Path) -> int:
    conn = sqlite3.connect(paths.database_path(home))
    try:
        return int(
            conn.execute("SELECT COUNT(*) FROM flattrs WHERE state = 'in_flight'").fetchone()[0]
        )
    finally:
        conn.close()


def test_sigkill_during_a_pipelined_drain_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, fresh_sim: SimProcess
) -> None:
    """While one batch is on the wire the next is started, committed in flight with its key: a
    kill at any moment leaves both to the next run, which resends them with the same keys."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    home = make_home(tmp_path / "home", batch_size=DRAIN_BATCH)
    env = sim_env(home, fresh_sim)
    fresh_sim.control.add_user("drain", "drain-token")
    urls = [f"https://drain.example.org/p{n}" for n in range(DRAIN_FLATTRS)]
    conn = store.connect(paths.database_path(home), load_settings(home))
    with store.transaction(conn):
        account = accounts.sign_in(conn, "drain-token", True, time.time())
        for url in urls:
            queue_flattr(
                conn, url, site="example.org", day="2026-11-29", account_id=account.id, now=0.0
            )
    conn.close()
    # Slow answers: a kill lands while a request is on the wire more often than between two.
    requests = DRAIN_FLATTRS // DRAIN_BATCH
    delays = [{"delay": rng.uniform(0.01, 0.06)} for _ in range(requests * 2)]
    fresh_sim.control.set_faults(script=delays, dedupe=True)

    left_in_flight = []
    for _ in range(DRAIN_KILLS):
        before = len(fresh_sim.control.received())
        proc = subprocess.Popen(
            [sys.executable, "-m", "flattr_host", "flush"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # The kill moment counts from this run's first request, not from a start that may
        # outlast the whole window on a busy machine.
        deadline = time.monotonic() + FIRST_REQUEST_SECONDS
        while len(fresh_sim.control.received()) == before and proc.poll() is None:
            assert time.monotonic() < deadline, f"flush sent nothing (seed {seed})"
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.4))
        proc.kill()  # SIGKILL: no chance to clean up
        proc.wait(10)
        left_in_flight.append(_in_flight(home))
    # Proof that the kills landed where it matters: some left batches in flight.
    assert any(left_in_flight), f"no kill found a batch in flight (seed {seed}): {left_in_flight}"

    fresh_sim.control.set_faults(script=[], dedupe=True)
    result = run_cli(env, "flush")
    assert result.returncode == 0, (result.stderr, seed)
    delivered = [f["url"] for f in fresh_sim.control.flattrs()]
    duplicated = sorted({u for u in delivered if delivered.count(u) > 1})
    assert not duplicated, f"delivered twice (seed {seed}): {duplicated}"
    assert sorted(delivered) == sorted(urls), f"seed {seed}"
    conn = sqlite3.connect(paths.database_path(home))
    states = dict(conn.execute("SELECT state, COUNT(*) FROM flattrs GROUP BY state").fetchall())
    conn.close()
    assert states == {"delivered": DRAIN_FLATTRS}, (states, seed)
