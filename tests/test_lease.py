"""One submitter at a time across host processes sharing a database (lease.py), with real
processes: two hammering the same file, and a holder killed with SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from flattr_host import accounts, flattrs, lease, store
from flattr_host.settings import Settings
from flattr_host.submitter import LEASE_NAME, Submitter
from flattr_sim import SimProcess
from helpers import fast_settings, queue_flattr

TOKEN = "token-lease-1"
PROCESS_TIMEOUT = 90


SIM_DEDUPE = False  # a flattr sent twice would show up twice


@pytest.fixture(scope="module", autouse=True)
def _lessee(sim: SimProcess) -> None:
    sim.control.add_user("lessee", TOKEN)


pytestmark = pytest.mark.usefixtures("fresh_sim")  # each test starts on a cleared server


def settings_for(sim: SimProcess) -> Settings:
    return fast_settings(sim, backoff_base=0.05, backoff_max=0.2, batch_size=3)


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def put_lease(conn: object, holder: str, pid: int, hostname: str, expires_at: float) -> None:
    assert hasattr(conn, "execute")
    with store.transaction(conn):  # type: ignore[arg-type]
        conn.execute(
            "INSERT OR REPLACE INTO lease (name, holder, pid, hostname, expires_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (LEASE_NAME, holder, pid, hostname, expires_at),
        )


# --- the lease itself ------------------------------------------------------------------------


def test_acquire_renew_release(tmp_path: Path) -> None:
    conn = store.connect(tmp_path / "db.sqlite3", Settings())
    one, two = lease.new_holder(), lease.new_holder()
    assert one.startswith(f"{os.getpid()}:")
    assert lease.acquire(conn, "job", one, 100.0, 10.0)
    assert not lease.acquire(conn, "job", two, 105.0, 10.0)  # live holder (this very process)
    assert lease.acquire(conn, "job", one, 105.0, 10.0)  # re-entrant for its holder
    assert lease.renew(conn, "job", one, 110.0, 10.0)
    assert not lease.renew(conn, "job", two, 110.0, 10.0)
    assert lease.holder_of(conn, "job", 119.0) == one
    assert lease.acquire(conn, "job", two, 120.0, 10.0)  # expired: taken over
    assert not lease.renew(conn, "job", one, 121.0, 10.0)  # one has lost it
    lease.release(conn, "job", one)  # not its lease: no effect
    assert lease.holder_of(conn, "job", 121.0) == two
    lease.release(conn, "job", two)
    assert lease.holder_of(conn, "job", 121.0) is None
    assert lease.acquire(conn, "job", one, 121.0, 10.0)


def test_dead_holder_on_this_host_is_replaced(tmp_path: Path) -> None:
    conn = store.connect(tmp_path / "db.sqlite3", Settings())
    now = time.time()
    pid = dead_pid()
    put_lease(conn, f"{pid}:x", pid, socket.gethostname(), now + 3600)
    assert lease.acquire(conn, LEASE_NAME, lease.new_holder(), now, 10.0)
    # On another machine we cannot tell whether the pid lives: wait for expiry.
    put_lease(conn, f"{pid}:y", pid, "elsewhere.invalid", now + 3600)
    assert not lease.acquire(conn, LEASE_NAME, lease.new_holder(), now, 10.0)
    # A live holder (our parent) on this machine keeps it.
    put_lease(conn, f"{os.getppid()}:z", os.getppid(), socket.gethostname(), now + 3600)
    assert not lease.acquire(conn, LEASE_NAME, lease.new_holder(), now, 10.0)


def test_run_due_is_busy_while_another_process_holds_it(tmp_path: Path, sim: SimProcess) -> None:
    settings = settings_for(sim)
    conn = store.connect(tmp_path / "db.sqlite3", settings)
    with store.transaction(conn):
        account = accounts.sign_in(conn, TOKEN, True, time.time())
        queue_flattr(
            conn,
            "https://busy.example/",
            site="busy.example",
            day="2026-01-01",
            account_id=account.id,
            now=time.time(),
        )
    put_lease(conn, f"{os.getppid()}:z", os.getppid(), socket.gethostname(), time.time() + 3600)
    submitter = Submitter(conn, settings)
    started = time.time()
    report = submitter.run_due()
    assert report.waiting == "busy" and report.requests == 0
    assert report.retry_at is not None and report.retry_at > started
    assert time.time() - started < 1.0  # returns quickly
    due = submitter.next_due()
    assert due is not None and due >= started + 1.0  # a scheduler does not spin on the lease
    assert sim.control.received() == []


# --- real processes --------------------------------------------------------------------------

HAMMER = textwrap.dedent(
    """
    import json, random, sqlite3, sys, time
    from pathlib import Path
    from flattr_host import accounts, flattrs, store
    from flattr_host.settings import Settings
    from flattr_host.submitter import Submitter

    path, base, name, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    settings = Settings(api_base=base, submit_delay=0.0, backoff_base=0.05, backoff_factor=2.0,
                        backoff_max=0.2, batch_size=3, request_timeout=5.0)
    conn = store.connect(Path(path), settings)
    submitter = Submitter(conn, settings)
    busy = runs = 0
    for i in range(count):
        with store.transaction(conn):
            account = accounts.current(conn)
            url = f"https://{name}.example/{i}"
            flattrs.enqueue(conn, url=url, page_url=url, site=f"{name}.example", title=None,
                          day="2026-01-01", reason="attention", account_id=account.id,
                          now=time.time())
        report = submitter.run_due()
        runs += 1
        busy += report.waiting == "busy"
        time.sleep(random.random() * 0.01)
    deadline = time.time() + 30
    while time.time() < deadline:
        left = flattrs.counts(conn)
        if left.pending == left.in_flight == left.failed == 0:
            break
        report = submitter.run_due()
        busy += report.waiting == "busy"
        time.sleep(0.05)
    print(json.dumps({"runs": runs, "busy": busy}))
    """
)


def test_two_processes_deliver_every_flattr_exactly_once(tmp_path: Path, sim: SimProcess) -> None:
    path = tmp_path / "shared.sqlite3"
    settings = settings_for(sim)
    conn = store.connect(path, settings)
    with store.transaction(conn):
        accounts.sign_in(conn, TOKEN, True, time.time())
    # A few failures along the way, so that back-off and recovery interleave with the lease.
    sim.control.set_faults(script=[{}, {"status": 503}, {}, {"drop": True}, {}, {"status": 502}])
    script = tmp_path / "hammer.py"
    script.write_text(HAMMER)
    count = 40
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(path), sim.base, name, str(count)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("one", "two")
    ]
    outputs = [proc.communicate(timeout=PROCESS_TIMEOUT) for proc in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert "database is locked" not in err
        assert proc.returncode == 0, err
        assert json.loads(out)["runs"] == count
    assert flattrs.counts(conn) == flattrs.Counts(delivered=2 * count)
    expected = Counter(f"https://{n}.example/{i}" for n in ("one", "two") for i in range(count))
    recorded = Counter(f["url"] for f in sim.control.flattrs())
    assert recorded == expected  # every flattr once: none lost, none doubled
    assert lease.holder_of(conn, LEASE_NAME, time.time()) is None


HOLD_AND_HANG = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from flattr_host import lease, flattrs, store
    from flattr_host.settings import Settings
    from flattr_host.submitter import LEASE_NAME

    conn = store.connect(Path(sys.argv[1]), Settings())
    holder = lease.new_holder()
    assert lease.acquire(conn, LEASE_NAME, holder, time.time(), 3600.0)
    with store.transaction(conn):
        account_id = int(sys.argv[2])
        ids = flattrs.unbatched(conn, account_id)
        batch = flattrs.new_batch(conn, account_id, ids, time.time(), "key-of-the-dead")
        flattrs.start_sending(conn, batch, account_id, time.time())
    print("ready", flush=True)
    time.sleep(120)
    """
)


def test_lease_of_a_killed_process_is_taken_over(tmp_path: Path, sim: SimProcess) -> None:
    path = tmp_path / "shared.sqlite3"
    settings = settings_for(sim)
    conn = store.connect(path, settings)
    with store.transaction(conn):
        account = accounts.sign_in(conn, TOKEN, True, time.time())
        for i in range(2):
            queue_flattr(
                conn,
                f"https://killed.example/{i}",
                site="killed.example",
                day="2026-01-01",
                account_id=account.id,
                now=time.time(),
            )
    script = tmp_path / "hang.py"
    script.write_text(HOLD_AND_HANG)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(path), str(account.id)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        submitter = Submitter(conn, settings)
        assert submitter.run_due().waiting == "busy"
        assert flattrs.counts(conn).in_flight == 2
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(PROCESS_TIMEOUT)
    report = submitter.run_due()
    assert report.delivered == 2 and report.waiting is None
    assert flattrs.counts(conn) == flattrs.Counts(delivered=2)
    assert {r["idempotency_key"] for r in sim.control.received()} == {"key-of-the-dead"}
    assert len(sim.control.flattrs()) == 2
