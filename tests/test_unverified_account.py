"""Flattrs of an account whose user was never learned, and flattrs that wait for another account:
real host processes and the real CLI on a real database, the local Flattr server over sockets."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

from flattr_host import accounts, flattrs, paths, store
from flattr_host.settings import load_settings
from flattr_sim import SimProcess
from helpers import make_home, queue_flattr, run_cli, sim_env
from hostproc import HostProcess, host_env

FLATTR_PAGE = "https://flattr.com/oauth/ext"
URLS = ("https://offline.example.com/a", "https://offline.example.com/b")


def unreachable_api() -> str:
    """An http base on this machine where nothing listens (the port was free a moment ago)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def wait_delivered(host: HostProcess, count: int) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        result: dict[str, Any] = host.request("status")["result"]
        if result["queue"]["delivered"] >= count:
            return result
        assert time.monotonic() < deadline, f"not delivered: {result}"
        host.request("tick")
        time.sleep(0.2)


def test_flattrs_of_a_never_verified_account_go_with_the_next_sign_in(
    tmp_path: Path, fresh_sim: SimProcess
) -> None:
    home = make_home(tmp_path / "home")
    fresh_sim.control.add_user("alice", "alice-offline-token")
    fresh_sim.control.add_user("alice", "alice-second-token")

    # Signed in while the API cannot be reached: the token's user stays unknown.
    offline = host_env(home, FLATTR_API_BASE=unreachable_api())
    with HostProcess(home, env=offline) as host:
        assert host.request("hello")["ok"]
        assert host.request("token", token="alice-offline-token", page_url=FLATTR_PAGE)["ok"]
        for url in URLS:
            assert host.request("flattr_now", url=url)["ok"]
        assert host.request("status")["result"]["account"]["username"] is None
        assert host.close() == 0

    # The API is back, but that token was revoked: its first GET /user answers 401.
    fresh_sim.control.revoke("alice-offline-token")
    with HostProcess(home, env=sim_env(home, fresh_sim)) as host:
        assert host.request("hello")["ok"]
        signed_out = host.wait_event("signed_out", timeout=30)
        assert signed_out["data"]["signed_out_reason"] == "token_rejected"
        # The same user signs in again: the flattrs go, under her name, once each.
        assert host.request("token", token="alice-second-token", page_url=FLATTR_PAGE)["ok"]
        status = wait_delivered(host, len(URLS))
        assert status["account"]["username"] == "alice"
        assert status["queue"]["waiting_other_account"] == 0
        assert status["queue"]["pending"] == 0
        assert host.close() == 0
    delivered = sorted((f["url"], f["username"]) for f in fresh_sim.control.flattrs())
    assert delivered == [(url, "alice") for url in URLS]
    listing = run_cli(sim_env(home, fresh_sim), "queue").stdout
    assert "wait for another account" not in listing


def _seed_waiting_for_alice(home: Path) -> tuple[int, int]:
    """Alice (verified) has a fresh batch and a batch whose request may have been recorded (a
    network error was counted); then bob signs in. Returns (fresh item id, uncertain item id)."""
    conn = store.connect(paths.database_path(home), load_settings(home))
    now = time.time()
    try:
        with store.transaction(conn):
            alice = accounts.sign_in(conn, "alice-token", True, now)
            accounts.verify(conn, alice.id, "alice")
            ids = [
                queue_flattr(
                    conn,
                    f"https://waiting.example.com/{name}",
                    site="example.com",
                    day="2026-11-25",
                    account_id=alice.id,
                    now=now,
                )
                for name in ("fresh", "uncertain", "unbatched")
            ]
            flattrs.new_batch(conn, alice.id, [ids[0]], now, "key-fresh")
            uncertain = flattrs.new_batch(conn, alice.id, [ids[1]], now, "key-uncertain")
            flattrs.reschedule(conn, uncertain, next_attempt_at=now + 3600, attempts=1)
            bob = accounts.sign_in(conn, "bob-token", True, now)
            accounts.verify(conn, bob.id, "bob")
    finally:
        conn.close()
    return ids[0], ids[1]


def test_queue_shows_what_waits_and_adopt_moves_it(tmp_path: Path, fresh_sim: SimProcess) -> None:
    home = make_home(tmp_path / "home")
    env = sim_env(home, fresh_sim)
    fresh_sim.control.add_user("alice", "alice-token")
    fresh_sim.control.add_user("bob", "bob-token")
    _seed_waiting_for_alice(home)

    listing = run_cli(env, "queue")
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.count("[waits for alice]") == 3
    assert "3 wait for another account to sign in (3 for alice)" in listing.stdout
    assert "To send them as bob instead: flattr-host queue --adopt\n" in listing.stdout
    assert "flattr-host queue --adopt" in run_cli(env, "status").stdout

    preview = run_cli(env, "queue", "--adopt", "--dry-run")
    assert preview.returncode == 0, preview.stderr
    assert "would move 2 flattrs of alice to bob" in preview.stdout
    assert "left 1 of alice" in preview.stdout and "twice" in preview.stdout
    assert run_cli(env, "queue").stdout.count("[waits for alice]") == 3  # nothing moved

    adopted = run_cli(env, "queue", "--adopt")
    assert adopted.returncode == 0, adopted.stderr
    assert "moved 2 flattrs of alice to bob" in adopted.stdout
    assert "flattr-host flush" in adopted.stdout
    assert run_cli(env, "queue").stdout.count("[waits for alice]") == 1

    flushed = run_cli(env, "flush")
    assert "2 delivered" in flushed.stdout, flushed.stdout + flushed.stderr
    by_user = sorted((f["url"], f["username"]) for f in fresh_sim.control.flattrs())
    assert by_user == [
        ("https://waiting.example.com/fresh", "bob"),
        ("https://waiting.example.com/unbatched", "bob"),
    ]
    # The formed batch went with its own Idempotency-Key.
    keys = [r["idempotency_key"] for r in fresh_sim.control.received() if r["urls"]]
    assert "key-fresh" in keys and "key-uncertain" not in keys
    assert (
        "no flattrs wait" not in run_cli(env, "queue", "--adopt").stdout
    )  # the uncertain one stays


def test_adopt_needs_a_signed_in_account(tmp_path: Path, fresh_sim: SimProcess) -> None:
    home = make_home(tmp_path / "home")
    env = sim_env(home, fresh_sim)
    assert run_cli(env, "sign-out").returncode == 0
    result = run_cli(env, "queue", "--adopt")
    assert result.returncode == 1 and "sign in" in result.stderr
    assert "flattr-host queue --adopt" in result.stderr
    alone = run_cli(env, "queue", "--dry-run")
    assert alone.returncode == 1 and "--adopt --dry-run" in alone.stderr
