"""`flattr-host api …` as a person (table) and a script (--json) run it, on the local server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from flattr_host import accounts, paths, store
from flattr_host.settings import load_settings
from flattr_sim import SimProcess
from helpers import make_home
from hostproc import host_env

SIM_DEDUPE = False  # the module's server (conftest's `sim`) records every flattr sent


@pytest.fixture(autouse=True)
def _fresh(users_sim: SimProcess) -> None:
    users_sim.control.add_user("alice", "alice-token")


def signed_in_home(path: Path, token: str | None) -> Path:
    home = make_home(path / "home")
    conn = store.connect(paths.database_path(home), load_settings(home))
    try:
        with store.transaction(conn):
            if token is not None:
                accounts.sign_in(conn, token, True, time.time())
    finally:
        conn.close()
    return home


@pytest.fixture
def home(tmp_path: Path, sim: SimProcess) -> Path:
    return signed_in_home(tmp_path, sim.token)


def api(home: Path, sim: SimProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flattr_host", "api", *args],
        env=host_env(home, FLATTR_API_BASE=sim.base),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_user_table_and_json(home: Path, sim: SimProcess) -> None:
    table = api(home, sim, "user")
    assert table.returncode == 0 and table.stdout.startswith("username   demo")
    assert as_json(api(home, sim, "user", "alice", "--json"))["username"] == "alice"
    missing = api(home, sim, "user", "nobody")
    assert missing.returncode == 1 and "not found" in missing.stderr


def test_flattr_then_list_everywhere(home: Path, sim: SimProcess) -> None:
    thing_id = sim.control.add_thing("https://alice.example/a", "alice", title="Alice's post")
    done = api(home, sim, "flattr", str(thing_id))
    assert done.returncode == 0 and f"flattred Alice's post (thing {thing_id})" in done.stdout
    again = api(home, sim, "flattr", str(thing_id))
    assert again.returncode == 1 and "already flattred" in again.stderr
    auto = "https://flattr.com/submit/auto?" + urllib.parse.urlencode(
        {"url": "https://alice.example/b", "user_id": "alice", "title": "Second"}
    )
    assert api(home, sim, "flattr", auto).returncode == 0

    table = api(home, sim, "flattrs").stdout.splitlines()
    assert table[0].split() == ["WHEN", "BY", "THING", "TITLE", "URL"]
    assert "Second" in table[1] and "Alice's post" in table[2]
    assert len(as_json(api(home, sim, "flattrs", "--user", "demo", "--json"))) == 2
    on_thing = as_json(api(home, sim, "flattrs", "--thing", str(thing_id), "--json"))
    assert [f["owner"]["username"] for f in on_thing] == ["demo"]
    things = as_json(api(home, sim, "things", "--user", "alice", "--json"))
    assert [t["url"] for t in things] == ["https://alice.example/b", "https://alice.example/a"]
    assert "https://alice.example/a" in api(home, sim, "thing", str(thing_id)).stdout
    found = api(home, sim, "lookup", "https://alice.example/b")
    assert found.returncode == 0 and found.stdout.startswith("a thing: ")
    assert api(home, sim, "lookup", "https://nothing.example/").returncode == 1
    outgoing = as_json(api(home, sim, "activities", "--json"))["items"]
    assert len(outgoing) == 2
    incoming = api(home, sim, "activities", "--user", "alice", "--type", "incoming")
    assert incoming.stdout.count(" like ") == 2


def test_paging_flags_and_progress(home: Path, sim: SimProcess) -> None:
    for i in range(7):
        sim.control.add_thing(f"https://alice.example/{i}", "alice", title=f"Post {i}")
    first = as_json(api(home, sim, "things", "--user", "alice", "--count", "3", "--json"))
    assert len(first) == 3
    two = api(home, sim, "things", "--user", "alice", "--count", "3", "--pages", "2", "--json")
    assert len(as_json(two)) == 6
    assert two.stderr.splitlines() == ["fetched page 2: 6 things"]
    every = api(home, sim, "search", "--user", "alice", "--count", "3", "--all", "--json")
    assert len(as_json(every)) == 7
    assert every.stderr.splitlines() == [
        "fetched page 2: 6 of 7 things",
        "fetched page 3: 7 of 7 things",
    ]
    third = as_json(
        api(home, sim, "things", "--user", "alice", "--count", "3", "--page", "3", "--json")
    )
    assert [t["title"] for t in third] == ["Post 0"]
    bad = api(home, sim, "things", "--count", "0")
    assert bad.returncode == 2 and "must be 1 or more" in bad.stderr


def test_search_filters(home: Path, sim: SimProcess) -> None:
    sim.control.add_thing("https://s.example/1", "alice", title="Game one", tags=["game"])
    sim.control.add_thing(
        "https://s.example/2", "alice", title="Tool", tags=["game", "software"], language="sv_SE"
    )
    hits = as_json(api(home, sim, "search", "--tags", "game ! software", "--json"))
    assert [t["url"] for t in hits] == ["https://s.example/1"]
    swedish = as_json(api(home, sim, "search", "--language", "sv_SE", "--json"))
    assert [t["url"] for t in swedish] == ["https://s.example/2"]
    table = api(home, sim, "search", "--query", "tool")
    assert table.stdout.splitlines()[0].split() == ["ID", "TITLE", "FLATTRS", "OWNER", "URL"]
    assert "(unclaimed)" not in table.stdout and "alice" in table.stdout


def test_reference_lists_and_rate_limit(home: Path, sim: SimProcess) -> None:
    rows = [line.split() for line in api(home, sim, "categories").stdout.splitlines()]
    assert rows[0] == ["ID", "NAME"] and ["rest", "Other"] in rows
    assert {"id": "sv_SE", "text": "Swedish"} in as_json(api(home, sim, "languages", "--json"))
    left = api(home, sim, "rate-limit")
    assert left.returncode == 0 and "requests left this hour" in left.stdout
    assert as_json(api(home, sim, "rate-limit", "--json"))["hourly_limit"] == 1000


def test_signed_out_and_rejected_tokens_say_what_to_do(tmp_path: Path, sim: SimProcess) -> None:
    signed_out = signed_in_home(tmp_path / "out", None)
    result = api(signed_out, sim, "flattrs")
    assert result.returncode == 1 and "flattr-host login" in result.stderr
    assert api(signed_out, sim, "categories").returncode == 0  # public endpoints still work
    rejected = signed_in_home(tmp_path / "bad", "revoked-token-value")
    result = api(rejected, sim, "user")
    assert result.returncode == 1 and "rejected the stored token" in result.stderr
    assert "revoked-token-value" not in result.stdout + result.stderr


def test_unreachable_api(home: Path, sim: SimProcess) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flattr_host", "api", "categories"],
        env=host_env(home, FLATTR_API_BASE="http://127.0.0.1:9"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "FLATTR_API_BASE" in result.stderr
