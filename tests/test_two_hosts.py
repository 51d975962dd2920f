"""Two host processes on one database at once (two browsers, or a browser and `flattr-host flush`):
no flattr sent twice, none lost, and no "database is locked" reaching a user."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from flattr_sim import SimProcess
from helpers import make_home, sim_env
from hostproc import HostProcess

PER_HOST = 60


def test_two_hosts_share_one_database_safely(tmp_path: Path, fresh_sim: SimProcess) -> None:
    home = make_home(tmp_path / "home", batch_size=7)
    env = sim_env(home, fresh_sim)
    fresh_sim.control.add_user("twin", "twin-token")
    # No server-side de-duplication: a flattr sent twice would be recorded twice.
    fresh_sim.control.set_faults(script=[{"delay": 0.05}] * 20, dedupe=False)
    errors: list[str] = []
    with HostProcess(home, env=env) as a, HostProcess(home, env=env) as b:
        for host in (a, b):
            assert host.request("hello")["ok"]
        assert a.request("token", token="twin-token", page_url="https://flattr.com/oauth/ext")["ok"]

        def feed(host: HostProcess, name: str) -> None:
            for n in range(PER_HOST):
                reply = host.request(
                    "attention",
                    segments=[{"url": f"https://twin.example.net/{name}/{n}", "seconds": 55}],
                )
                if not reply["ok"] or reply["result"]["results"][0]["flattrs_queued"] != 1:
                    errors.append(str(reply))
                if n % 10 == 0:
                    host.request("tick")

        threads = [threading.Thread(target=feed, args=(h, n)) for h, n in ((a, "a"), (b, "b"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            a.request("tick", force=True)
            b.request("tick", force=True)
            q = a.request("status")["result"]["queue"]
            if q["delivered"] == 2 * PER_HOST:
                break
            time.sleep(0.3)
        a.close()
        b.close()
        stderr = a.stderr() + b.stderr()
    assert not errors, errors[:3]
    assert "locked" not in stderr.lower(), stderr[-2000:]
    delivered = [f["url"] for f in fresh_sim.control.flattrs()]
    assert len(delivered) == 2 * PER_HOST, f"{len(delivered)} delivered"
    assert len(set(delivered)) == len(delivered), "a flattr was sent twice"
