"""`flattr-host <command>` as a person runs it: a real process on a real database."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from flattr_host import accounts, paths, store
from flattr_host.settings import load_settings
from flattr_sim import SimProcess
from helpers import make_home, queue_flattr, run_cli, sim_env
from hostproc import host_env

BACKLOG = 250


def _seed(home: Path, token: str | None, n: int) -> None:
    conn = store.connect(paths.database_path(home), load_settings(home))
    with store.transaction(conn):
        account = accounts.sign_in(conn, token, True, time.time()) if token else None
        for i in range(n):
            queue_flattr(
                conn,
                f"https://backlog.example.com/{i}",
                site="example.com",
                day="2026-11-25",
                account_id=account.id if account else None,
                now=time.time(),
            )
    conn.close()


def test_flush_sends_a_large_backlog_with_progress(tmp_path: Path, fresh_sim: SimProcess) -> None:
    home = make_home(tmp_path / "home", batch_size=20)
    env = sim_env(home, fresh_sim)
    fresh_sim.control.add_user("backlog", "backlog-token")
    _seed(home, "backlog-token", BACKLOG)
    before = run_cli(env, "status")
    assert "250 pending" in before.stdout and "flattr-host flush" in before.stdout
    result = run_cli(env, "flush")
    assert result.returncode == 0, result.stderr
    assert f"{BACKLOG} delivered" in result.stdout
    progress = [line for line in result.stderr.splitlines() if line.startswith("sent ")]
    assert len(progress) >= BACKLOG // 20 and progress[-1] == f"sent {BACKLOG}/{BACKLOG}"
    assert len(fresh_sim.control.flattrs()) == BACKLOG
    assert "0 pending" in run_cli(env, "status").stdout


def test_a_refusal_is_held_shown_and_sent_on_flush(tmp_path: Path, fresh_sim: SimProcess) -> None:
    home = make_home(tmp_path / "home")
    env = sim_env(home, fresh_sim)
    fresh_sim.control.add_user("scoped", "scoped-token")
    _seed(home, "scoped-token", 2)
    scope = {"error": "insufficient_scope", "error_description": "Missing the scope flattr"}
    fresh_sim.control.set_faults(script=[{"status": 403, "body": scope}])
    held = run_cli(env, "flush")
    assert held.returncode == 1
    assert "refused" in held.stderr and "insufficient_scope" in held.stderr
    assert "flattr-host flush" in held.stderr
    status = run_cli(env, "status").stdout
    assert "waiting        refused" in status and "2 failed" in status
    assert "next retry" not in status
    listing = run_cli(env, "queue").stdout
    assert listing.count("failed") == 2 and listing.count("Missing the scope flattr") == 2
    assert len(fresh_sim.control.received()) == 1  # one bulk request, nothing retried by itself
    # The cause is fixed on the server: the user asks again, and everything goes.
    sent = run_cli(env, "flush")
    assert sent.returncode == 0, sent.stderr
    assert "2 delivered" in sent.stdout and len(fresh_sim.control.flattrs()) == 2


def test_flush_signed_out_says_what_to_do(tmp_path: Path, fresh_sim: SimProcess) -> None:
    home = make_home(tmp_path / "home")
    result = run_cli(sim_env(home, fresh_sim), "flush")
    assert result.returncode == 1
    assert "sign in" in result.stderr and "then run this again" in result.stderr


def test_sites_and_mode(tmp_path: Path, fresh_sim: SimProcess) -> None:
    env = sim_env(make_home(tmp_path / "home"), fresh_sim)
    assert run_cli(env, "sites", "disable", "https://www.Example.co.uk/page").returncode == 0
    listing = run_cli(env, "sites", "--mode", "enabled").stdout
    assert "mode: enabled" in listing and "example.co.uk" in listing and "disabled" in listing
    bad = run_cli(env, "sites", "enable", "localhost")
    assert bad.returncode == 1 and "not a public site" in bad.stderr


def test_queue_history_export_and_sign_out(tmp_path: Path, fresh_sim: SimProcess) -> None:
    home = make_home(tmp_path / "home")
    env = sim_env(home, fresh_sim)
    _seed(home, "cli-token", 3)
    assert run_cli(env, "queue").stdout.count("pending") == 3
    assert "backlog.example.com/2" in run_cli(env, "history").stdout
    exported = json.loads(run_cli(env, "export").stdout)
    assert len(exported["flattrs"]) == 3 and exported["format"] == "flattr-companion-export"
    assert "cli-token" not in json.dumps(exported)
    assert run_cli(env, "sign-out").stdout.strip() == "signed out"
    assert "signed out" in run_cli(env, "status").stdout


def test_help_and_sim_passthrough(tmp_path: Path) -> None:
    env = sim_env(make_home(tmp_path / "home"), SimStub())
    assert "flush" in run_cli(env, "--help").stdout
    sim_help = run_cli(env, "sim", "--help")
    assert sim_help.returncode == 0 and "--dedupe" in sim_help.stdout


class SimStub:
    base = "http://127.0.0.1:9"


def test_export_to_a_file_is_private_whatever_the_umask(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    _seed(home, None, 1)
    fresh, existing = tmp_path / "fresh.json", tmp_path / "existing.json"
    existing.write_text("old")
    existing.chmod(0o644)
    for target in (fresh, existing):
        result = subprocess.run(
            [sys.executable, "-m", "flattr_host", "export", "-o", str(target)],
            env=host_env(home),
            capture_output=True,
            text=True,
            timeout=120,
            umask=0,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(target.read_text())["flattrs"][0]["site"] == "example.com"
        assert target.stat().st_mode & 0o777 == 0o600, target
    nowhere = run_cli(host_env(home), "export", "-o", str(tmp_path / "missing" / "x.json"))
    assert nowhere.returncode == 1 and "cannot write" in nowhere.stderr, nowhere.stderr
    assert "Traceback" not in nowhere.stderr
