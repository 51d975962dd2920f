"""After a full run, the token appears in no log, no stdout, no export."""

from __future__ import annotations

import time
from pathlib import Path

from flattr_sim import SimProcess
from helpers import make_home, run_cli, sim_env
from hostproc import HostProcess

TOKEN = "sEcReT-t0ken-7f3a9c1e5b"


def test_the_token_never_leaks(tmp_path: Path, fresh_sim: SimProcess) -> None:
    home = make_home(tmp_path / "home")
    env = sim_env(home, fresh_sim)
    fresh_sim.control.add_user("secretive", TOKEN)
    outputs: list[str] = []
    with HostProcess(home, env=env) as host:
        host.request("hello")
        reply = host.request(
            "token",
            token=TOKEN,
            subscription={"active": True},
            page_url="https://flattr.com/oauth/ext",
        )
        assert reply["ok"]
        host.request("attention", segments=[{"url": "https://leak.example.com/a", "seconds": 60}])
        host.request("flattr_now", url="https://leak.example.com/b")
        deadline = time.monotonic() + 20
        while host.request("status")["result"]["queue"]["delivered"] < 2:
            assert time.monotonic() < deadline, "flattrs were not delivered"
            host.request("tick")
            time.sleep(0.2)
        # A 503 and then a 401 make the host log errors about requests that carried the token.
        fresh_sim.control.set_faults(script=[{"status": 503}, {"status": 401}])
        host.request("flattr_now", url="https://leak.example.com/c")
        host.request("tick")
        host.wait_event("signed_out", timeout=30)
        for kind in ("status", "history", "sites", "page_status"):
            extra = {"url": "https://leak.example.com/a"} if kind == "page_status" else {}
            assert host.request(kind, **extra)["ok"]
        cursor = None
        while True:
            page = host.request("export", **({"cursor": cursor} if cursor else {}))["result"]
            cursor = page["cursor"]
            if cursor is None:
                break
        host.close()
        outputs.append(host.transcript.decode("utf-8", errors="replace"))
        outputs.append(host.stderr())
    for command in (["status"], ["queue", "--all"], ["history"], ["sites"], ["export"]):
        result = run_cli(env, *command)
        assert result.returncode == 0, result.stderr
        outputs += [result.stdout, result.stderr]
    export_file = tmp_path / "export.json"
    assert run_cli(env, "export", "-o", str(export_file)).returncode == 0
    outputs.append(export_file.read_text())
    logs = list((home / "logs").glob("*"))
    assert logs, "the host wrote no log file"
    outputs += [p.read_text(errors="replace") for p in logs]
    assert "leak.example.com" in "".join(outputs)  # the outputs are the real thing
    for text in outputs:
        assert TOKEN not in text
