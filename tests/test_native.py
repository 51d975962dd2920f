"""The host spawned exactly as Chrome and Firefox spawn it, spoken to in real frames."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings

from fuzzing import REPLY_SCHEMA, frames
from hostproc import HEADER, HostProcess, chrome_argv, firefox_argv, host_env

# Chrome kills a host 2 s after closing its stdin.
BROWSER_KILL_AFTER = 2.0


@pytest.mark.parametrize("launcher", ["chrome", "chrome-windows", "firefox", "snap-none"])
def test_hello_from_every_browser_argv(tmp_path: Path, launcher: str) -> None:
    argv = {
        "chrome": chrome_argv(),
        "chrome-windows": [*chrome_argv(), "--parent-window=0"],
        "firefox": firefox_argv(tmp_path),
        "snap-none": [],
    }[launcher]
    with HostProcess(tmp_path, argv) as host:
        reply = host.request("hello", protocol=1)
        assert reply["ok"] is True and reply["id"] == 1
        assert reply["result"]["protocol"] == 1
        assert "attention" in reply["result"]["capabilities"]
        assert host.close() == 0


def test_the_exact_hello_of_the_issue(tmp_path: Path) -> None:
    with HostProcess(tmp_path) as host:
        host.send({"id": 1, "type": "hello"})
        reply = host.read_frame()
        assert reply["id"] == 1 and reply["ok"] is True
        assert {"protocol", "host_version", "capabilities"} <= set(reply["result"])


def test_a_caller_that_is_not_allowed_gets_an_error_frame_and_nothing_else(tmp_path: Path) -> None:
    with HostProcess(tmp_path, ["chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"]) as host:
        host.send({"id": 1, "type": "hello"})
        reply = host.read_frame()
        assert reply["ok"] is False and reply["error"]["code"] == "forbidden_caller"
        assert host.close() == 1
        assert not (tmp_path / "companion.sqlite3").exists(), "it must not even open the database"


def test_version_mismatch_answers_upgrade_required(tmp_path: Path) -> None:
    with HostProcess(tmp_path) as host:
        reply = host.request("hello", protocol=99)
        assert reply["error"]["code"] == "upgrade_required"
        assert "-m pip install --upgrade flattr-companion" in reply["error"]["command"]
        assert host.request("hello", protocol=1)["ok"] is True  # still up


def test_bad_frames_get_errors_and_the_host_stays_up(tmp_path: Path) -> None:
    with HostProcess(tmp_path) as host:
        assert host.request("hello")["ok"]
        bad_utf8, bad_json = b"\xff\xfe\xfd", b'{"id": 5, "type":'
        host.send_raw(HEADER.pack(len(bad_utf8)) + bad_utf8)
        assert host.read_frame()["error"]["code"] == "invalid_utf8"
        host.send_raw(HEADER.pack(len(bad_json)) + bad_json)
        assert host.read_frame()["error"]["code"] == "invalid_json"
        host.send({"id": 7, "type": "no_such_thing"})
        reply = host.read_frame()
        assert (reply["id"], reply["error"]["code"]) == (7, "unknown_type")
        host.send({"id": 8, "type": "history", "limit": "lots"})
        reply = host.read_frame()
        assert (reply["id"], reply["error"]["code"]) == (8, "invalid_request")
        assert "limit" in reply["error"]["message"]
        host.send([1, 2, 3])
        assert host.read_frame()["error"]["code"] == "invalid_request"
        assert host.request("status")["ok"] is True
        assert host.close() == 0


def test_an_announced_frame_over_the_cap_is_refused_then_the_host_exits(tmp_path: Path) -> None:
    with HostProcess(tmp_path) as host:
        assert host.request("hello")["ok"]
        host.send_raw(struct.pack("=I", 64 * 1024 * 1024))  # never followed by 64 MiB
        reply = host.read_frame()
        assert reply["error"]["code"] == "frame_too_large"
        assert host.proc.wait(5) == 1


@pytest.mark.parametrize("cut", ["header", "payload"])
def test_end_of_input_mid_frame_is_a_clean_quick_shutdown(tmp_path: Path, cut: str) -> None:
    with HostProcess(tmp_path) as host:
        assert host.request("hello")["ok"]
        assert host.request("status")["ok"]  # the service (database, thread) is up
        host.send_raw(b"\x10\x00" if cut == "header" else HEADER.pack(100) + b'{"id":')
        started = time.monotonic()
        assert host.close(timeout=BROWSER_KILL_AFTER) == 0
        assert time.monotonic() - started < BROWSER_KILL_AFTER


def test_nothing_but_frames_reaches_stdout_even_when_code_prints(tmp_path: Path) -> None:
    # A host whose request handling prints and writes to fd 1 directly: both must land on stderr.
    noisy = (
        "import os, sys\n"
        "from flattr_host import service\n"
        "orig = service.Service.handle_batch\n"
        "def noisy(self, batch):\n"
        "    print('stray print'); os.write(1, b'stray bytes')\n"
        "    return orig(self, batch)\n"
        "service.Service.handle_batch = noisy\n"
        "from flattr_host.__main__ import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", noisy, *chrome_argv()],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=host_env(tmp_path),
    )
    frames = b""
    for rid, kind in enumerate(["hello", "status", "status"], 1):
        payload = json.dumps({"id": rid, "type": kind}).encode()
        frames += HEADER.pack(len(payload)) + payload
    out, err = proc.communicate(frames, timeout=20)
    replies = []
    while out:
        (length,) = HEADER.unpack(out[:4])
        replies.append(json.loads(out[4 : 4 + length]))
        out = out[4 + length :]
    assert [r["id"] for r in replies if "id" in r] == [1, 2, 3]
    assert all(r["ok"] for r in replies if "id" in r)
    assert b"stray print" in err and b"stray bytes" in err


def test_a_burst_of_frames_is_answered_in_order(tmp_path: Path) -> None:
    with HostProcess(tmp_path) as host:
        burst = b""
        for rid in range(1, 101):
            payload = json.dumps(
                {
                    "id": rid,
                    "type": "attention",
                    "segments": [{"url": f"https://news.example.com/{rid}", "seconds": 1}],
                }
            ).encode()
            burst += HEADER.pack(len(payload)) + payload
        host.send_raw(burst)
        ids = [host.reply_to(rid)["id"] for rid in range(1, 101)]
        assert ids == list(range(1, 101))


def test_replies_are_paged_under_one_mebibyte(tmp_path: Path) -> None:
    with HostProcess(tmp_path) as host:
        host.request("token", token="t0k3n-paging", page_url="https://flattr.com/oauth/ext")
        long_path = "x" * 8000
        for n in range(150):
            reply = host.request(
                "flattr_now", url=f"https://long.example.com/{n}/{long_path}", title="t" * 1000
            )
            assert reply["ok"], reply
        page = host.request("history", limit=200)["result"]
        assert 0 < len(page["items"]) < 150 and page["next_before"] is not None
        seen = len(page["items"])
        while page["next_before"] is not None:
            page = host.request("history", limit=200, before=page["next_before"])["result"]
            seen += len(page["items"])
        assert seen == 150


def test_sigterm_as_firefox_sends_it_is_a_clean_exit(tmp_path: Path) -> None:
    import signal

    with HostProcess(tmp_path, firefox_argv(tmp_path)) as host:
        assert host.request("hello")["ok"]
        assert host.request("status")["ok"]
        host.proc.send_signal(signal.SIGTERM)
        assert host.proc.wait(BROWSER_KILL_AFTER) == 0


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_data_and_logs_are_private_even_under_umask_000(tmp_path: Path) -> None:
    home = tmp_path / "missing" / "home"  # the host creates it, and its missing parent
    with HostProcess(home, env=host_env(home), umask=0) as host:
        assert host.request("hello", protocol=1)["ok"] is True
        assert host.request("status")["ok"] is True  # the database is open: -wal and -shm exist
        db = home / "companion.sqlite3"
        files = [db, Path(f"{db}-wal"), Path(f"{db}-shm"), home / "logs" / "flattr-host.log"]
        assert {str(f): _mode(f) for f in files} == {str(f): 0o600 for f in files}
        folders = [home.parent, home, home / "logs"]
        assert {str(f): _mode(f) for f in folders} == {str(f): 0o700 for f in folders}
        assert host.close() == 0


def test_rotated_logs_and_a_loose_data_folder_become_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o777)
    home.chmod(0o777)  # as an older host left it under umask 000
    # Every log line rotates the file: three starts leave a live file and two rotated ones.
    (home / "settings.json").write_text(json.dumps({"log_max_bytes": 1, "log_backups": 2}))
    for _ in range(3):
        with HostProcess(home, env=host_env(home), umask=0) as host:
            assert host.request("hello", protocol=1)["ok"] is True
            assert host.request("status")["ok"] is True
            assert host.close() == 0
    logs = sorted((home / "logs").iterdir())
    assert [p.name for p in logs] == ["flattr-host.log", "flattr-host.log.1", "flattr-host.log.2"]
    assert {p.name: _mode(p) for p in logs} == {p.name: 0o600 for p in logs}
    assert _mode(home) == 0o700


def test_a_broken_settings_file_is_answered_not_crashed_on(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text('{\n  "batch_size": 20,\n  "batch_sise": 20\n}\n')
    with HostProcess(tmp_path) as host:
        for kind in ("hello", "status"):  # every request, hello first, gets the same answer
            reply = host.request(kind, protocol=1)
            assert reply["ok"] is False, reply
            error = reply["error"]
            assert error["code"] == "settings_invalid"
            assert str(settings) in error["message"]
            assert 'line 3, column 3: unknown setting "batch_sise"' in error["message"]
            assert 'did you mean "batch_size"' in error["message"]
            assert error["command"] == f"mv {settings} {settings}.broken"
        assert host.close() == 0
        assert f"{settings} is not usable" in host.stderr()  # Firefox shows it in its console
    assert not (tmp_path / "companion.sqlite3").exists(), "nothing is done on a guess"


def _burst(*messages: object) -> bytes:
    return b"".join(
        HEADER.pack(len(payload)) + payload
        for payload in (json.dumps(m).encode() for m in messages)
    )


def test_a_bad_cursor_in_a_burst_fails_alone(tmp_path: Path) -> None:
    # The exact burst of the audit: all three answered storage_error and nothing was stored.
    with HostProcess(tmp_path) as host:
        assert host.request("hello")["ok"]
        segment = {"url": "https://news.example.com/a", "seconds": 30}
        host.send_raw(
            _burst(
                {"id": 11, "type": "attention", "segments": [segment]},
                {"id": 12, "type": "export", "cursor": "flattrs:[1]"},
                {"id": 13, "type": "set_mode", "mode": "metadata"},
            )
        )
        replies = [host.reply_to(rid) for rid in (11, 12, 13)]
        assert replies[0]["ok"] and replies[2]["ok"], replies
        assert replies[1]["error"]["code"] == "invalid_request"
        assert host.request("status")["result"]["mode"] == "metadata"
        page = host.request("page_status", url="https://news.example.com/a")["result"]
        assert page["seconds_today"] == 30


@pytest.mark.parametrize(
    "payload",
    [b"[" * 200_000, b"[" * 5000 + b"]" * 5000, json.dumps({"id": 1, "type": ["status"]}).encode()],
    ids=["unclosed-deep", "closed-deep", "list-type"],
)
def test_frames_that_crashed_the_host_get_an_error_and_it_goes_on(
    tmp_path: Path, payload: bytes
) -> None:
    with HostProcess(tmp_path) as host:
        assert host.request("hello")["ok"]
        assert host.request("status")["ok"]  # the service is up: its path is the one that crashed
        host.send_raw(HEADER.pack(len(payload)) + payload)
        reply = host.read_frame()
        assert reply["ok"] is False and reply["error"]["code"] == "invalid_request", reply
        assert host.request("status")["ok"] is True
        assert host.close() == 0


def test_any_json_frame_gets_exactly_one_well_formed_reply_and_the_host_goes_on(
    tmp_path: Path,
) -> None:
    # The API base is a closed local port: flattrs a fuzzed request queues are never sent anywhere.
    env = host_env(tmp_path, FLATTR_API_BASE="http://127.0.0.1:9")
    with HostProcess(tmp_path, env=env) as host:
        assert host.request("hello")["ok"]

        @hyp_settings(max_examples=200, deadline=None)
        @given(frames)
        def one_frame(message: object) -> None:
            host.send(message)
            reply = host.read_frame()
            while reply.get("type") == "event":
                reply = host.read_frame()
            REPLY_SCHEMA.validate(reply)
            if isinstance(message, dict) and reply["id"] is not None:
                assert reply["id"] == message.get("id")
            assert host.request("status")["ok"] is True  # the very next reply is the probe's

        one_frame()
        assert host.close() == 0
