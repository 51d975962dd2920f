"""Daily visit flattrs on a real SQLite file with an injected clock: both rules at their
boundaries, once per attention day, privacy, the setting, and a host restart."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from flattr_host import service, sites, store, visits
from flattr_host.settings import Settings
from flattr_host.visits import RULE_BURST, RULE_DAILY, Visit, rule_met
from helpers import signed_in_db

TZ = timezone(timedelta(hours=2))
S = Settings()
HOUR = 3600.0
DAY = 86_400.0
# 04:00 local on 2024-05-01: an attention day begins.
DAY1 = datetime(2024, 5, 1, 4, 0, tzinfo=TZ).timestamp()
NEWS = "https://news.example.org/today/story-1"


@pytest.fixture()
def db(tmp_path: Path) -> Iterator[tuple[sqlite3.Connection, int]]:
    with signed_in_db(tmp_path, S, DAY1) as opened:
        yield opened


def visit(conn: sqlite3.Connection, url: str, at: float, **kw: Any) -> visits.VisitResult:
    with store.transaction(conn):
        return visits.record(conn, url, at=at, now=at, settings=S, **kw)


def process(conn: sqlite3.Connection, account_id: int | None, now: float) -> list[str]:
    with store.transaction(conn):
        return visits.process_due(conn, account_id=account_id, now=now, settings=S, tz=TZ)


def flattrs(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    rows = conn.execute("SELECT url, day, reason FROM flattrs ORDER BY id").fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def kept(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM visits").fetchone()[0])


# --- the rules, pure -----------------------------------------------------------------------------


def spaced(gaps: list[float], start: float = 0.0) -> list[Visit]:
    """Visits of one site, each ``gap`` after the previous one (and nothing else in between)."""
    out, at = [], start
    for i, gap in enumerate(gaps):
        at += gap
        out.append(Visit(at, None if i == 0 else gap))
    return out


def test_daily_rule_needs_three_visits_each_six_hours_after_the_preceding_one() -> None:
    assert rule_met(spaced([0, 6 * HOUR, 6 * HOUR]), S) == RULE_DAILY
    assert rule_met(spaced([0, 6 * HOUR, 6 * HOUR - 1]), S) is None
    assert rule_met(spaced([0, 6 * HOUR]), S) is None


def test_daily_rule_window_is_thirty_days_inclusive() -> None:
    first = Visit(0.0, None)
    assert rule_met([first, Visit(15 * DAY, 7 * HOUR), Visit(30 * DAY, 7 * HOUR)], S) == RULE_DAILY
    late = [first, Visit(15 * DAY, 7 * HOUR), Visit(30 * DAY + 1, 7 * HOUR)]
    assert rule_met(late, S) is None


def test_burst_rule_boundaries() -> None:
    minute = [0.0, 15.0, 15.0, 15.0]
    assert rule_met(spaced(minute), S) == RULE_BURST  # each exactly 15 s after the preceding
    assert rule_met(spaced([0.0, 15.0, 14.9, 15.0]), S) is None
    # Four within 30 minutes inclusive, not beyond.
    assert rule_met(spaced([0.0, 600.0, 600.0, 600.0]), S) == RULE_BURST
    assert rule_met(spaced([0.0, 600.0, 600.0, 600.5]), S) is None
    # A visit followed by another within 5 s (a redirect hop) does not count.
    hopped = [Visit(v.at, v.gap_before, followed=(i == 2)) for i, v in enumerate(spaced(minute))]
    assert rule_met(hopped, S) is None


def test_preceding_visit_is_any_site(db: tuple[sqlite3.Connection, int]) -> None:
    conn, _ = db
    t = DAY1 + 100.0
    visit(conn, NEWS, t)
    visit(conn, "https://other.example.com/", t + 6 * HOUR - 60)  # another site just before
    visit(conn, NEWS, t + 6 * HOUR)  # 6 h after the last news visit, 60 s after the other one
    gaps = [r[0] for r in conn.execute("SELECT gap_before FROM visits ORDER BY at")]
    assert gaps == [None, pytest.approx(6 * HOUR - 60), pytest.approx(60.0)]


def test_quiet_after_marks_the_visit_before(db: tuple[sqlite3.Connection, int]) -> None:
    conn, _ = db
    t = DAY1 + 100.0
    visit(conn, NEWS, t)
    visit(conn, "https://other.example.com/", t + 5.0)  # within 5 s: NEWS was a hop
    visit(conn, NEWS, t + 30.0)
    visit(conn, "https://other.example.com/", t + 35.1)  # not within 5 s
    followed = [r[0] for r in conn.execute("SELECT followed FROM visits ORDER BY at")]
    assert followed == [1, 0, 0, 0]


# --- once a day ----------------------------------------------------------------------------------


def test_daily_rule_over_days_earns_one_flattr_the_next_day(
    db: tuple[sqlite3.Connection, int],
) -> None:
    conn, account = db
    assert process(conn, account, DAY1) == []  # day 1 starts: nothing yet
    for day in range(3):
        visit(conn, NEWS, DAY1 + day * DAY + 9 * HOUR)
        assert process(conn, account, DAY1 + (day + 1) * DAY) == (
            [] if day < 2 else ["example.org"]
        )
    assert flattrs(conn) == [("https://example.org/", "2024-05-04", "visits")]
    assert kept(conn) == 0  # processed visits are deleted
    # Once a day: the same day's later start does nothing more, even with new visits.
    assert process(conn, account, DAY1 + 3 * DAY + 5 * HOUR) == []
    assert len(flattrs(conn)) == 1


def test_day_starts_at_four(db: tuple[sqlite3.Connection, int]) -> None:
    conn, account = db
    process(conn, account, DAY1)
    for i in range(4):
        visit(conn, NEWS, DAY1 + DAY - HOUR + i * 60.0)  # 03:00-03:03 on day 2: still day 1
    assert process(conn, account, DAY1 + DAY - 1) == []  # 03:59:59: the same attention day
    assert process(conn, account, DAY1 + DAY) == ["example.org"]  # 04:00: day 2


def test_visits_of_today_wait_for_tomorrow(db: tuple[sqlite3.Connection, int]) -> None:
    conn, account = db
    process(conn, account, DAY1)
    for i in range(4):
        visit(conn, NEWS, DAY1 + HOUR + i * 60.0)
    assert process(conn, account, DAY1 + 2 * HOUR) == []  # processed already today
    assert kept(conn) == 4
    assert process(conn, account, DAY1 + DAY + 10 * HOUR) == ["example.org"]  # next start


def test_burst_straddling_the_day_start_counts_the_next_day(
    db: tuple[sqlite3.Connection, int],
) -> None:
    conn, account = db
    process(conn, account, DAY1)
    visit(conn, NEWS, DAY1 + DAY - 600.0)
    visit(conn, NEWS, DAY1 + DAY - 300.0)
    assert process(conn, account, DAY1 + DAY) == []  # two of four before 04:00: kept
    assert kept(conn) == 2
    visit(conn, NEWS, DAY1 + DAY + 300.0)
    visit(conn, NEWS, DAY1 + DAY + 600.0)
    assert process(conn, account, DAY1 + 2 * DAY) == ["example.org"]


def test_old_visits_are_dropped(db: tuple[sqlite3.Connection, int]) -> None:
    conn, account = db
    visit(conn, NEWS, DAY1 + HOUR)
    process(conn, account, DAY1 + 31 * DAY + HOUR)
    assert kept(conn) == 0


def test_signed_out_processes_without_a_flattr(db: tuple[sqlite3.Connection, int]) -> None:
    conn, _ = db
    for i in range(4):
        visit(conn, NEWS, DAY1 + HOUR + i * 60.0)
    assert process(conn, None, DAY1 + DAY) == ["example.org"]
    assert flattrs(conn) == [] and kept(conn) == 0


def test_what_is_never_kept(db: tuple[sqlite3.Connection, int]) -> None:
    conn, _ = db
    t = DAY1 + HOUR
    assert visit(conn, NEWS, t, private=True).reason == visits.PRIVATE
    assert not visit(conn, "http://localhost:8000/", t + 1).recorded
    assert not visit(conn, "https://www.paypal.com/myaccount", t + 2).recorded  # blocked
    assert not visit(conn, "https://www.youtube.com/watch?v=abc", t + 3).recorded  # home blocked
    with store.transaction(conn):
        sites.set_site(conn, "example.org", "disabled", t)
    assert not visit(conn, NEWS, t + 4).recorded
    assert kept(conn) == 0
    # Private visits do not even move the "preceding visit" clock.
    assert not visit(conn, NEWS, t + 5, private=True).recorded
    assert store.get(conn, visits.LAST_VISIT_KEY) == t + 4


def test_disabling_a_site_deletes_its_visits(db: tuple[sqlite3.Connection, int]) -> None:
    conn, _ = db
    visit(conn, NEWS, DAY1 + HOUR)
    visit(conn, "https://other.example.com/", DAY1 + 2 * HOUR)
    with store.transaction(conn):
        sites.set_site(conn, "example.org", "disabled", DAY1 + 3 * HOUR)
    assert visits.pending_sites(conn) == [("example.com", 1)]


def test_setting_off_records_nothing_and_forgets(db: tuple[sqlite3.Connection, int]) -> None:
    conn, _ = db
    visit(conn, NEWS, DAY1 + HOUR)
    with store.transaction(conn):
        visits.set_enabled(conn, False)
    assert kept(conn) == 0
    assert visit(conn, NEWS, DAY1 + 2 * HOUR).reason == visits.OFF
    assert not visits.enabled(conn, S)
    off_by_default = Settings(visit_flattrs=False)
    assert not visits.enabled(conn, off_by_default)
    with store.transaction(conn):
        visits.set_enabled(conn, True)
    assert visits.enabled(conn, off_by_default)  # the user's choice beats the default


def test_site_blocked_since_the_visits_earns_nothing(db: tuple[sqlite3.Connection, int]) -> None:
    conn, account = db
    for i in range(4):
        visit(conn, NEWS, DAY1 + HOUR + i * 60.0)
    with store.transaction(conn):
        sites.set_mode(conn, "enabled")  # only enabled sites count now
    assert process(conn, account, DAY1 + DAY) == ["example.org"]
    assert flattrs(conn) == [] and kept(conn) == 0


# --- through the service, across a restart ---------------------------------------------


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def open_service(home: Path, clock: Clock) -> service.Service:
    svc = service.Service.open(home, S, emit=lambda e: None)
    svc.clock = clock
    return svc


def test_daily_visit_flattr_across_a_host_restart(tmp_path: Path) -> None:
    """Visits recorded by one host process earn their flattr at the next start after 04:00."""
    clock = Clock(DAY1 + 10 * HOUR)
    svc = open_service(tmp_path, clock)
    [signed] = svc.handle_batch(
        [{"id": 1, "type": "token", "token": "tok", "page_url": "https://flattr.com/oauth/ext"}]
    )
    assert signed["ok"]
    for i in range(4):
        clock.now = DAY1 + 10 * HOUR + i * 60.0
        [reply] = svc.handle_batch(
            [{"id": 2 + i, "type": "visits", "visits": [{"url": NEWS, "visited_at": clock.now}]}]
        )
        assert reply == {"id": 2 + i, "ok": True, "result": {"recorded": 1}}
    svc.close()

    clock.now = DAY1 + 2 * DAY  # more than a day later: past a 04:00 in any time zone
    svc = open_service(tmp_path, clock)
    try:
        [status] = svc.handle_batch([{"id": 9, "type": "status"}])
        assert status["result"]["visit_flattrs"] is True
        rows = svc.conn.execute("SELECT url, reason, state FROM flattrs").fetchall()
        assert [tuple(r) for r in rows] == [("https://example.org/", "visits", "pending")]
        # A second request the same day queues nothing more.
        svc.handle_batch([{"id": 10, "type": "status"}])
        assert svc.conn.execute("SELECT COUNT(*) FROM flattrs").fetchone()[0] == 1
    finally:
        svc.close()


def test_set_visit_flattrs_request(tmp_path: Path) -> None:
    svc = open_service(tmp_path, Clock(DAY1))
    try:
        [off] = svc.handle_batch([{"id": 1, "type": "set_visit_flattrs", "enabled": False}])
        assert off["result"] == {"enabled": False}
        [status] = svc.handle_batch([{"id": 2, "type": "status"}])
        assert status["result"]["visit_flattrs"] is False
        [rec] = svc.handle_batch(
            [{"id": 3, "type": "visits", "visits": [{"url": NEWS, "visited_at": DAY1}]}]
        )
        assert rec["result"] == {"recorded": 0}
        [bad] = svc.handle_batch([{"id": 4, "type": "visits", "visits": []}])
        assert bad["error"]["code"] == "invalid_request"
    finally:
        svc.close()


def test_visit_requests_through_a_real_host(tmp_path: Path) -> None:
    """The real process, real frames, replies checked against the committed schema."""
    from helpers import make_home
    from test_requests import CheckedHost

    home = make_home(tmp_path / "home")
    with CheckedHost(home) as host:
        assert host.request("hello", protocol=1)["ok"]
        sent = [{"url": NEWS}, {"url": "https://bank.example/", "private": True}]
        assert host.request("visits", visits=sent)["result"] == {"recorded": 1}
        assert host.request("set_visit_flattrs", enabled=False)["result"] == {"enabled": False}
        assert host.request("status")["result"]["visit_flattrs"] is False
        too_many = [{"url": NEWS}] * 101
        assert host.request("visits", visits=too_many)["error"]["code"] == "invalid_request"


def test_a_resent_visit_is_kept_once(db: tuple[sqlite3.Connection, int]) -> None:
    conn, _ = db
    t = DAY1 + HOUR
    assert visit(conn, NEWS, t).recorded
    again = visit(conn, NEWS, t)  # the batch resent after a lost reply
    assert again.reason == visits.DUPLICATE and kept(conn) == 1
    assert [r[0] for r in conn.execute("SELECT followed FROM visits")] == [0]


def test_the_cli_shows_and_switches_visit_flattrs(tmp_path: Path) -> None:
    import subprocess
    import sys

    from hostproc import host_env

    home = tmp_path / "home"
    conn = store.connect(home / "companion.sqlite3", S)
    visit(conn, NEWS, DAY1)
    conn.close()

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "flattr_host", *args],
            env=host_env(home),
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    shown = cli("visits")
    assert "daily visit flattrs: on" in shown and "example.org" in shown
    assert "visit flattrs  on" in cli("status")
    assert "daily visit flattrs: off (turn them on: flattr-host visits on)" in cli("visits", "off")
    assert "visit flattrs  off" in cli("status")
    assert "no visits kept" in cli("visits", "on")


def test_a_failing_visit_check_never_stops_the_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> list[str]:
        store.put(kwargs.get("conn", args[0] if args else None), "half", "written")
        raise RuntimeError("a bug")

    monkeypatch.setattr(visits, "process_due", broken)
    svc = open_service(tmp_path, Clock(DAY1))
    try:
        [reply] = svc.handle_batch([{"id": 1, "type": "status"}])
        assert reply["ok"] is True
        assert store.get(svc.conn, "half") is None  # its half-done work was undone
    finally:
        svc.close()
