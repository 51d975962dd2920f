"""The desktop dashboard: the real pywebview window (Qt WebEngine, offscreen) on a real database and
the local Flattr server. Figures are read back from the drawn page and compared with the database;
queue actions are clicked and their effect checked in the database. Screenshots of every page go
to artifacts/dashboard/."""

from __future__ import annotations

import json
import stat
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dashboardproc import DashboardWindow
from flattr_host import accounts, days, flattrs, ledger, paths, store
from flattr_host.ledger import Segment
from flattr_host.settings import Settings, load_settings
from flattr_sim import SimProcess
from helpers import FAST_SETTINGS, make_home, queue_flattr

pytest.importorskip("webview", reason="the dashboard needs the gui extra")

ME_SITES = ("blog.example", "news.example", "art.example")
# (days ago, site, how many, state): the history the tests draw.
PLAN = (
    (0, "blog.example", 2, "delivered"),
    (1, "blog.example", 3, "delivered"),
    (1, "news.example", 1, "delivered"),
    (2, "art.example", 4, "delivered"),
    (2, "art.example", 1, "rejected"),
    (9, "news.example", 2, "delivered"),
    (29, "blog.example", 1, "delivered"),
    (31, "blog.example", 5, "delivered"),  # before the chart
    (0, "news.example", 2, "pending"),
    (0, "art.example", 1, "failed"),
)
LONG_READ = "https://reader.example.org/long-read"
ONLY_VISITED = "https://reader.example.org/only-visited"


def _settings(home: Path) -> Settings:
    return load_settings(home, {})


def _db(home: Path) -> Any:
    return store.connect(paths.database_path(home), _settings(home))


def seed(home: Path, sim: SimProcess) -> None:
    settings = _settings(home)
    conn = _db(home)
    now = time.time()
    with store.transaction(conn):
        me = accounts.sign_in(conn, sim.token, True, now)
        accounts.verify(conn, me.id, sim.username)
        other = int(
            conn.execute(
                "INSERT INTO accounts (username, signed_in_at, signed_out_at, signed_out_reason) "
                "VALUES ('someone-else', ?, ?, 'user')",
                (now - 86_400, now - 3600),
            ).lastrowid
            or 0
        )
        for n, (days_ago, site, count, state) in enumerate(PLAN):
            at = now - days_ago * 86_400
            for i in range(count):
                fid = queue_flattr(
                    conn,
                    f"https://{site}/post-{n}-{i}",
                    site=site,
                    title=f"Post {n}.{i} on {site}",
                    day=days.attention_day(at, settings),
                    account_id=me.id,
                    now=at,
                )
                if state == "failed":  # as the submitter leaves it: in a batch, attempts used up
                    batch = flattrs.new_batch(conn, me.id, [fid], at, f"key-{fid}")
                    conn.execute(
                        "UPDATE batches SET attempts = 5, next_attempt_at = ? WHERE id = ?",
                        (at + 6 * 3600, batch),
                    )
                conn.execute(
                    "UPDATE flattrs SET state = ?, delivered_at = ?, error = ? WHERE id = ?",
                    (
                        state,
                        at if state == "delivered" else None,
                        "The Flattr API answered 400" if state in ("rejected", "failed") else None,
                        fid,
                    ),
                )
        for i in range(2):  # made while someone else was signed in
            queue_flattr(
                conn,
                f"https://art.example/theirs-{i}",
                site="art.example",
                day=days.attention_day(now, settings),
                account_id=other,
                now=now,
            )
        ledger.record(
            conn,
            [
                Segment(url=LONG_READ, title="A long read", seconds=70.0),
                Segment(url=ONLY_VISITED, title="Only visited", seconds=20.0),
            ],
            account_id=me.id,
            now=now,
            settings=settings,
        )
    conn.close()


@pytest.fixture
def home(tmp_path: Path, fresh_sim: SimProcess) -> Path:
    home = make_home(tmp_path / "home")
    seed(home, fresh_sim)
    return home


@pytest.fixture
def window(home: Path, fresh_sim: SimProcess) -> Iterator[DashboardWindow]:
    win = DashboardWindow(home, "account", FLATTR_API_BASE=fresh_sim.base)
    try:
        win.wait_for("document.body.dataset.ready === 'account'")
        yield win
    finally:
        win.close()


def _today(home: Path) -> str:
    return days.attention_day(time.time(), _settings(home))


def _chart_days(home: Path) -> list[str]:
    conn = _db(home)
    try:
        return [r["day"] for r in _per_day_rows(conn, home)]
    finally:
        conn.close()


def _per_day_rows(conn: Any, home: Path) -> list[dict[str, Any]]:
    from datetime import date, timedelta

    end = date.fromisoformat(_today(home))
    days = [(end - timedelta(days=n)).isoformat() for n in range(29, -1, -1)]
    made = Counter(r[0] for r in conn.execute("SELECT day FROM flattrs WHERE state != 'rejected'"))
    return [{"day": d, "count": made[d]} for d in days]


# --- history ------------------------------------------------------------------------------------


def test_history_pictures_match_the_database(home: Path, window: DashboardWindow) -> None:
    window.show("history")
    drawn = window.js(
        "[...document.querySelectorAll('#chart-per-day rect[data-key]')]"
        ".map(r => ({day: r.dataset.key, count: Number(r.dataset.value)}))"
    )
    conn = _db(home)
    try:
        assert drawn == _per_day_rows(conn, home)
        assert sum(d["count"] for d in drawn) > 0
        month = _today(home)[:8] + "01"
        sites = conn.execute(
            "SELECT site, COUNT(*) FROM flattrs WHERE state != 'rejected' AND day >= ? "
            "AND day <= ? GROUP BY site",
            (month, _today(home)),
        ).fetchall()
        pages = conn.execute(
            "SELECT url, seconds FROM attention WHERE day = ?", (_today(home),)
        ).fetchall()
        long_read_flattrs = conn.execute(
            "SELECT COUNT(*) FROM flattrs WHERE page_url = ?", (LONG_READ,)
        ).fetchone()[0]
    finally:
        conn.close()
    top = window.js(
        "[...document.querySelectorAll('#chart-top-sites rect[data-key]')]"
        ".map(r => [r.dataset.key, Number(r.dataset.value)])"
    )
    assert sorted(map(tuple, top)) == sorted((s, n) for s, n in sites)
    assert [n for _, n in top] == sorted((n for _, n in top), reverse=True)  # ranked
    rows = window.js(
        "[...document.querySelectorAll('#attention-today tr[data-url]')].map(tr => ({"
        "url: tr.dataset.url, seconds: Number(tr.dataset.seconds), "
        "flattrs: Number(tr.dataset.flattrs), "
        "progress: Number(tr.querySelector('[data-progress]').dataset.progress)}))"
    )
    assert {(r["url"], r["seconds"]) for r in rows} == {(u, s) for u, s in pages}
    thresholds = Settings().thresholds
    by_url = {r["url"]: r for r in rows}
    long_read = by_url[LONG_READ]
    assert long_read["flattrs"] == long_read_flattrs == 1  # 70 s crossed the first threshold only
    first, second = thresholds[0], thresholds[1]
    assert long_read["progress"] == pytest.approx((70 - first) / (second - first))
    assert by_url[ONLY_VISITED]["progress"] == pytest.approx(20 / first)
    window.screenshot("history")


# --- queue ----------------------------------------------------------------------------------------


def _groups(window: DashboardWindow) -> dict[str, list[int]]:
    found: dict[str, list[int]] = window.js(
        "(() => { const g = {}; for (const tr of document.querySelectorAll('tr[data-group]')) "
        "(g[tr.dataset.group] ||= []).push(Number(tr.dataset.id)); return g; })()"
    )
    return found


def _states(home: Path) -> dict[int, tuple[str, int | None]]:
    conn = _db(home)
    try:
        return {
            int(r[0]): (r[1], r[2])
            for r in conn.execute("SELECT id, state, account_id FROM flattrs")
        }
    finally:
        conn.close()


def test_queue_groups_and_actions_change_the_database(
    home: Path, window: DashboardWindow, fresh_sim: SimProcess
) -> None:
    window.show("queue")
    states = _states(home)
    conn = _db(home)
    mine = accounts.current(conn)
    conn.close()
    assert mine is not None
    groups = _groups(window)
    expected_held = sorted(i for i, (s, a) in states.items() if s == "pending" and a != mine.id)
    assert sorted(groups["held"]) == expected_held and len(expected_held) == 2
    assert sorted(groups["pending"]) == sorted(
        i for i, (s, a) in states.items() if s == "pending" and a == mine.id
    )
    for state in ("failed", "rejected"):
        assert sorted(groups[state]) == sorted(i for i, (s, _) in states.items() if s == state)
    assert window.js("document.querySelector('tr[data-group=held]').textContent").count(
        "someone-else"
    )
    window.screenshot("queue")

    # Discard asks first: "Keep" changes nothing, "Discard" deletes exactly that flattr.
    victim = groups["rejected"][0]
    window.run(f"document.querySelector('[data-discard=\"{victim}\"]').click()")
    window.wait_for("!document.getElementById('confirm').hidden")
    window.screenshot("queue-discard-confirm")
    window.run("document.getElementById('confirm-no').click()")
    window.wait_for("document.getElementById('confirm').hidden")
    assert victim in _states(home)
    window.run(f"document.querySelector('[data-discard=\"{victim}\"]').click()")
    window.wait_for("!document.getElementById('confirm').hidden")
    window.run("document.getElementById('confirm-yes').click()")
    window.wait_for(f"!document.querySelector('[data-discard=\"{victim}\"]')")
    after = _states(home)
    assert victim not in after and len(after) == len(states) - 1

    # Move to the signed-in account: the held ones are bound to it.
    window.run("document.getElementById('adopt').click()")
    window.wait_for("!document.querySelector('tr[data-group=held]')")
    assert all(
        after_state[1] == mine.id for i, after_state in _states(home).items() if i in expected_held
    )

    # Retry now sends every queued flattr (failed ones included) to the local Flattr server.
    # Done when the job says so: a page drawn mid-run may show the last batches in flight.
    window.run("document.getElementById('retry').click()")
    window.wait_for(
        "!document.querySelector('tr[data-group=pending], tr[data-group=failed], "
        "tr[data-group=held], tr[data-group=in_flight]') "
        "&& (document.getElementById('retry-state')?.textContent || 'Sending…') !== 'Sending…' "
        "&& document.body.dataset.ready === 'queue'"
    )
    final = _states(home)
    sent_urls = sorted(f["url"] for f in fresh_sim.control.flattrs())
    conn = _db(home)
    unsent = {i for i, (s, _) in states.items() if s in ("pending", "failed")}
    delivered_now = sorted(
        r[1]
        for r in conn.execute("SELECT id, url, state FROM flattrs")
        if r[0] in unsent and r[2] == "delivered"
    )
    conn.close()
    assert sent_urls == delivered_now and len(sent_urls) == 2 + 1 + 2 + 1  # +1: the long read
    assert not [i for i, (s, _) in final.items() if s in ("pending", "failed")]


def test_discard_all_of_a_group_after_confirmation(home: Path, window: DashboardWindow) -> None:
    window.show("queue")
    before = _states(home)
    window.run("document.querySelector('[data-discard-group=held]').click()")
    window.wait_for("!document.getElementById('confirm').hidden")
    window.run("document.getElementById('confirm-yes').click()")
    window.wait_for("!document.querySelector('tr[data-group=held]')")
    after = _states(home)
    gone = set(before) - set(after)
    assert len(gone) == 2 and all(before[i][0] == "pending" for i in gone)
    assert window.js("document.querySelector('[data-discard-group=in_flight]')") is None


# --- Flattr's own record --------------------------------------------------------------------------


def test_gap_between_sent_and_recorded_shows(
    home: Path, window: DashboardWindow, fresh_sim: SimProcess
) -> None:
    window.show("queue")
    window.run("document.getElementById('retry').click()")
    window.wait_for("!document.querySelector('tr[data-group=pending]')")
    window.show("history")
    window.run("document.getElementById('check-flattr').click()")
    window.wait_for("document.getElementById('chart-compare')")
    window.redraw()
    drawn = window.js(
        "(() => { const d = {}; for (const r of document.querySelectorAll("
        "'#chart-compare rect[data-key]')) (d[r.dataset.key] ||= {})[r.dataset.series] = "
        "Number(r.dataset.value); return d; })()"
    )
    settings = _settings(home)
    mine = httpx.get(
        f"{fresh_sim.base}/rest/v2/user/flattrs",
        params={"count": 100},
        headers={"Authorization": f"Bearer {fresh_sim.token}"},
    ).json()
    recorded = Counter(days.attention_day(f["created_at"], settings) for f in mine)
    conn = _db(home)
    sent = Counter(
        days.attention_day(r[0], settings)
        for r in conn.execute("SELECT delivered_at FROM flattrs WHERE state = 'delivered'")
    )
    conn.close()
    chart_days = _chart_days(home)
    assert drawn == {d: {"sent": sent[d], "recorded": recorded[d]} for d in chart_days}
    # The seeded deliveries of earlier days never reached this server: a gap that must show.
    missing = sum(max(0, sent[d] - recorded[d]) for d in chart_days)
    assert missing > 0
    assert window.js("Number(document.getElementById('compare-gap').dataset.missing)") == missing
    window.screenshot("history-compare")


# --- creators -------------------------------------------------------------------------------------


def test_creators_are_looked_up_only_for_flattred_pages(
    home: Path, window: DashboardWindow, fresh_sim: SimProcess
) -> None:
    thing_url = "https://blog.example/post-0-0"
    fresh_sim.control.add_thing(thing_url, "creator-one")
    window.show("creators")
    window.wait_for("document.querySelectorAll('#creators tr[data-status=unchecked]').length === 0")
    window.redraw()
    rows = window.js(
        "[...document.querySelectorAll('#creators tr[data-url]')].map(tr => [tr.dataset.url, "
        "tr.dataset.status, tr.dataset.owner])"
    )
    conn = _db(home)
    flattred = {r[0] for r in conn.execute("SELECT url FROM flattrs")}
    conn.close()
    assert {u for u, _, _ in rows} == flattred
    by_url = {u: (s, o) for u, s, o in rows}
    assert by_url[thing_url] == ("found", "creator-one")
    assert {s for u, (s, _) in by_url.items() if u != thing_url} <= {"not_found", "flattrable"}
    log = fresh_sim.log_text()
    assert urllib.parse.quote(thing_url, safe="") in log
    for secret in (ONLY_VISITED, urllib.parse.quote(ONLY_VISITED, safe="")):
        assert secret not in log  # visited but never flattred: never leaves the machine
    window.screenshot("creators")
    # The month's top creators now name the creator of the flattred thing.
    window.show("history")
    creators = window.js(
        "[...document.querySelectorAll('#chart-top-creators rect[data-key]')]"
        ".map(r => [r.dataset.key, Number(r.dataset.value)])"
    )
    assert creators == [["creator-one", 1]]


# --- settings and account ---------------------------------------------------------------------


def test_settings_switches_and_export(home: Path, window: DashboardWindow, tmp_path: Path) -> None:
    window.show("settings")
    assert window.js("document.getElementById('batch-size').value") == str(
        _settings(home).batch_size
    )
    # Thresholds and batch size go to settings.json, checked first; a bad value changes nothing.
    window.run(
        "document.getElementById('thresholds').value = '90, 40';"
        "document.getElementById('save-figures').click()"
    )
    window.wait_for("document.getElementById('notice').textContent.includes('rising')")
    assert _settings(home).thresholds == Settings().thresholds
    window.run(
        "document.getElementById('thresholds').value = '40, 90 120';"
        "document.getElementById('audio-thresholds').value = '300 0';"
        "document.getElementById('save-figures').click()"
    )
    window.wait_for("document.getElementById('notice').textContent.includes('audio thresholds')")
    assert _settings(home).thresholds == Settings().thresholds
    # What was typed stays, to be corrected, rather than the page redrawn from the file.
    assert window.js("document.getElementById('thresholds').value") == "40, 90 120"
    window.run(
        "document.getElementById('audio-thresholds').value = '200, 400';"
        "document.getElementById('batch-size').value = '20';"
        "document.getElementById('save-figures').click()"
    )
    window.wait_for("document.getElementById('notice').textContent.startsWith('Saved.')")
    saved = _settings(home)
    assert (saved.thresholds, saved.audio_thresholds, saved.batch_size) == (
        (40, 90, 120),
        (200, 400),
        20,
    )
    assert saved.backoff_base == FAST_SETTINGS["backoff_base"]  # the rest of the file is kept
    window.run(
        "document.getElementById('new-site').value = 'https://www.Example.ORG/x';"
        "[...document.querySelectorAll('button')].find(b => b.textContent === 'Never counts')"
        ".click()"
    )
    window.wait_for("document.querySelector('tr[data-site=\"example.org\"]')")
    conn = _db(home)
    assert conn.execute("SELECT setting FROM sites WHERE site = 'example.org'").fetchone()[0] == (
        "disabled"
    )
    window.run(
        "const s = document.querySelector('[data-switch=\"example.org\"]');"
        "s.checked = true; s.dispatchEvent(new Event('change'))"
    )
    window.wait_for(
        "document.querySelector('tr[data-site=\"example.org\"]').dataset.setting === 'enabled'"
    )
    assert conn.execute("SELECT setting FROM sites WHERE site = 'example.org'").fetchone()[0] == (
        "enabled"
    )
    window.run(
        "const m = document.getElementById('mode'); m.value = 'enabled';"
        "m.dispatchEvent(new Event('change'))"
    )
    window.wait_for("document.getElementById('notice').textContent === 'Mode changed.'")
    assert json.loads(conn.execute("SELECT value FROM kv WHERE key = 'mode'").fetchone()[0]) == (
        "enabled"
    )
    conn.close()
    window.screenshot("settings")
    target = tmp_path / "export.json"
    window.run(
        f"document.getElementById('export-path').value = {json.dumps(str(target))};"
        "document.getElementById('export').click()"
    )
    window.wait_for(f"document.getElementById('notice').textContent === 'Wrote {target}'")
    data = json.loads(target.read_text("utf-8"))
    conn = _db(home)
    assert len(data["flattrs"]) == conn.execute("SELECT COUNT(*) FROM flattrs").fetchone()[0]
    conn.close()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert _settings(home).api_base not in ("",)  # settings untouched by the page


def test_account_page_and_sign_out(home: Path, window: DashboardWindow) -> None:
    conn = _db(home)
    me = accounts.current(conn)
    assert me is not None
    pending = conn.execute("SELECT COUNT(*) FROM flattrs WHERE state = 'pending'").fetchone()[0]
    conn.close()
    assert (
        window.js("document.querySelector('main h2').textContent") == f"Signed in as {me.username}"
    )
    assert window.js("Number(document.getElementById('stat-pending').dataset.value)") == pending
    window.screenshot("account")
    window.run("document.getElementById('sign-out').click()")
    window.wait_for("!document.getElementById('confirm').hidden")
    window.run("document.getElementById('confirm-yes').click()")
    window.wait_for("document.querySelector('main h2').textContent === 'Signed out'")
    conn = _db(home)
    assert accounts.current(conn) is None or not accounts.current(conn).signed_in  # type: ignore[union-attr]
    conn.close()
