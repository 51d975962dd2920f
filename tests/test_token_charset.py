"""Tokens must be bearer tokens (RFC 6750), and no stored or shown error text carries one: real
host processes and the real CLI on a real database, the local Flattr server over sockets."""

from __future__ import annotations

import json
import time
from pathlib import Path

from flattr_host import accounts, paths, store
from flattr_host.api.answer import MAX_MESSAGE_CHARS as MAX_ERROR_TEXT
from flattr_host.settings import load_settings
from flattr_sim import SimProcess
from helpers import make_home, queue_flattr, run_cli, sim_env
from hostproc import HostProcess

FLATTR_PAGE = "https://flattr.com/oauth/ext"
TOKEN = "Qz7vEcho-SeCrEt-4c1d9e"
TOKEN_HEAD = TOKEN[:6]  # what is left of a token cut at the end of a text
LEGACY = "legacy-SeCrEt-77b0a2"


def cli_outputs(env: dict[str, str], tmp_path: Path) -> str:
    texts = []
    for command in (["status"], ["queue", "--all"], ["history"]):
        result = run_cli(env, *command)
        assert result.returncode == 0, result.stderr
        texts += [result.stdout, result.stderr]
    export_file = tmp_path / "export.json"
    assert run_cli(env, "export", "-o", str(export_file)).returncode == 0
    return "".join(texts) + export_file.read_text()


NOT_BEARER_TOKENS = (
    "abc\n",
    "abc\r\nX-Injected: 1",
    "two words",
    "tab\there",
    "caf\u00e9",
    "=leading",
    "mid=dle",
    "semi;colon",
    'quote"d',
    "x" * 4097,
)


def test_sign_in_refuses_what_cannot_be_a_bearer_token(
    tmp_path: Path, fresh_sim: SimProcess
) -> None:
    home = make_home(tmp_path / "home")
    with HostProcess(home, env=sim_env(home, fresh_sim)) as host:
        assert host.request("hello")["ok"]
        for token in NOT_BEARER_TOKENS:
            reply = host.request("token", token=token, page_url=FLATTR_PAGE)
            assert reply["ok"] is False and reply["error"]["code"] == "invalid_request", token
            assert token.strip() not in reply["error"]["message"]
            assert host.request("status")["result"]["account"]["signed_in"] is False
        assert host.close() == 0
    conn = store.connect(paths.database_path(home), load_settings(home))
    try:
        assert conn.execute("SELECT COUNT(*) FROM accounts").fetchone()[0] == 0
    finally:
        conn.close()


def test_sign_in_takes_every_bearer_token_character(tmp_path: Path, fresh_sim: SimProcess) -> None:
    home = make_home(tmp_path / "home")
    token = "AZaz09-._~+/=="
    with HostProcess(home, env=sim_env(home, fresh_sim)) as host:
        assert host.request("hello")["ok"]
        assert host.request("token", token=token, page_url=FLATTR_PAGE)["result"]["signed_in"]
        assert host.close() == 0


def test_a_token_echoed_by_the_server_is_never_stored_or_shown(
    tmp_path: Path, fresh_sim: SimProcess
) -> None:
    home = make_home(tmp_path / "home", max_attempts=1)
    env = sim_env(home, fresh_sim)
    fresh_sim.control.add_user("echo", TOKEN)
    # The second copy straddles the cut of a stored error text (300 characters).
    head = f"bad request with token {TOKEN} "
    description = head + "x" * (MAX_ERROR_TEXT - len(head) - len(TOKEN_HEAD)) + TOKEN
    echo = {"error": "server_error", "error_description": description}
    fresh_sim.control.set_faults(script=[{"status": 500, "body": echo}])
    with HostProcess(home, env=env) as host:
        assert host.request("hello")["ok"]
        assert host.request("token", token=TOKEN, page_url=FLATTR_PAGE)["ok"]
        assert host.request("flattr_now", url="https://echo.example.com/a")["ok"]
        deadline = time.monotonic() + 30
        while (status := host.request("status")["result"])["queue"]["failed"] < 1:
            assert time.monotonic() < deadline, f"the 500 was not recorded: {status}"
            host.request("tick")
            time.sleep(0.2)
        popup = json.dumps([status, host.request("history")["result"]])
        assert host.close() == 0
    shown = popup + cli_outputs(env, tmp_path)
    assert "bad request with token [redacted]" in shown  # the outputs are the real thing
    assert TOKEN_HEAD not in shown
    conn = store.connect(paths.database_path(home), load_settings(home))
    try:
        stored = json.dumps(
            [list(r) for r in conn.execute("SELECT * FROM kv")]
            + [list(r) for r in conn.execute("SELECT error FROM flattrs")]
            + [list(r) for r in conn.execute("SELECT last_error FROM batches")]
        )
    finally:
        conn.close()
    assert "[redacted]" in stored and TOKEN_HEAD not in stored


def _legacy_home(tmp_path: Path, token: str, error: str | None = None) -> Path:
    """A database written before sign-in checked tokens and before errors were redacted."""
    home = make_home(tmp_path / "home")
    conn = store.connect(paths.database_path(home), load_settings(home))
    now = time.time()
    try:
        with store.transaction(conn):
            account_id = int(
                conn.execute(
                    "INSERT INTO accounts (token, username, signed_in_at) VALUES (?, ?, ?)",
                    (token, "legacy", now),
                ).lastrowid
                or 0
            )
            store.put(conn, accounts.CURRENT, account_id)
            item = queue_flattr(
                conn,
                "https://legacy.example.com/a",
                site="example.com",
                day="2026-11-25",
                account_id=account_id,
                now=now,
            )
            if error is not None:
                conn.execute(
                    "UPDATE flattrs SET state = 'failed', error = ? WHERE id = ?", (error, item)
                )
                store.put(
                    conn, "last_error", {"status": 500, "code": None, "message": error, "at": now}
                )
    finally:
        conn.close()
    return home


def test_a_stored_token_that_cannot_be_sent_signs_out(
    tmp_path: Path, fresh_sim: SimProcess
) -> None:
    home = _legacy_home(tmp_path, LEGACY + "\n")
    env = sim_env(home, fresh_sim)
    flushed = run_cli(env, "flush")
    assert flushed.returncode == 1
    assert fresh_sim.control.received() == []  # nothing went out with it
    status = run_cli(env, "status").stdout
    assert "rejected the token" in status and "Sign in again" in status
    shown = flushed.stdout + flushed.stderr + cli_outputs(env, tmp_path)
    assert "legacy.example.com" in shown
    assert LEGACY not in shown
    log = "".join(p.read_text() for p in (home / "logs").glob("*"))
    assert LEGACY not in log


def test_error_texts_stored_before_redaction_are_shown_redacted(
    tmp_path: Path, fresh_sim: SimProcess
) -> None:
    home = _legacy_home(tmp_path, LEGACY, error=f"HTTP 500: the token {LEGACY} is odd")
    env = sim_env(home, fresh_sim)
    shown = cli_outputs(env, tmp_path)
    with HostProcess(home, env=env) as host:
        assert host.request("hello")["ok"]
        for kind in ("status", "history"):
            shown += json.dumps(host.request(kind)["result"])
        host.kill()
    assert "the token [redacted] is odd" in shown
    assert LEGACY not in shown
