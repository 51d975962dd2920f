"""The attention ledger on a real SQLite file: thresholds, days, audio pages, manual flattrs,
privacy and signed-out accumulation."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flattr_host import days, ledger, sites, store
from flattr_host.flattrs.made import history
from flattr_host.ledger import Segment, crossings, next_threshold, nth_threshold
from flattr_host.protocol.vocabulary import MAX_SEGMENT_SECONDS
from flattr_host.settings import Settings
from flattr_host.urls import PageMeta
from helpers import signed_in_db

TZ = timezone(timedelta(hours=2))
DEFAULTS = Settings()
# 04:00 local on 2024-05-01 in TZ: the start of an attention day
DAY_START = datetime(2024, 5, 1, 4, 0, tzinfo=TZ).timestamp()
URL = "https://blog.example.com/post/1"
# A fresh database per example: fewer examples keep the suite fast on a shared machine.
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@contextmanager
def database(s: Settings = DEFAULTS) -> Iterator[tuple[sqlite3.Connection, int]]:
    """A fresh database file and a signed-in account (fresh per hypothesis example)."""
    with tempfile.TemporaryDirectory() as tmp, signed_in_db(Path(tmp), s, DAY_START) as opened:
        yield opened


@pytest.fixture()
def db(tmp_path: Path) -> Iterator[tuple[sqlite3.Connection, int]]:
    with signed_in_db(tmp_path, DEFAULTS, DAY_START) as opened:
        yield opened


def record(
    conn: sqlite3.Connection,
    segments: list[Segment],
    account_id: int | None,
    now: float,
    s: Settings = DEFAULTS,
) -> list[ledger.SegmentResult]:
    with store.transaction(conn):
        return ledger.record(conn, segments, account_id=account_id, now=now, settings=s, tz=TZ)


def flattrs(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM flattrs ORDER BY id").fetchall()


# --- pure functions ----------------------------------------------------------------------------


def test_attention_day_starts_at_four_local() -> None:
    before = datetime(2024, 5, 2, 3, 59, 59, tzinfo=TZ).timestamp()
    at = datetime(2024, 5, 2, 4, 0, 0, tzinfo=TZ).timestamp()
    assert days.attention_day(before, DEFAULTS, TZ) == "2024-05-01"
    assert days.attention_day(at, DEFAULTS, TZ) == "2024-05-02"
    # the same instant is another attention day in another zone
    assert days.attention_day(at, DEFAULTS, UTC) == "2024-05-01"
    assert days.attention_day(at, Settings(day_start_hour=0), TZ) == "2024-05-02"


@pytest.mark.parametrize(
    ("seconds", "expected", "following"),
    [
        (0, 0, 50),
        (49.99, 0, 50),
        (50, 1, 96),
        (137, 2, 138),
        (210, 5, 210 + 86_400),
        (210 + 86_399, 5, 210 + 86_400),
        (210 + 86_400, 6, 210 + 2 * 86_400),
    ],
)
def test_thresholds(seconds: float, expected: int, following: float) -> None:
    assert crossings(seconds, DEFAULTS.thresholds, DEFAULTS.repeat_after) == expected
    assert next_threshold(seconds, DEFAULTS.thresholds, DEFAULTS.repeat_after) == following


def test_audio_thresholds() -> None:
    t, r = DEFAULTS.audio_thresholds, DEFAULTS.repeat_after
    assert [crossings(s, t, r) for s in (139, 140, 3659, 3660, 3660 + r)] == [0, 1, 5, 6, 7]


@given(
    st.floats(0, 400_000, allow_nan=False),
    st.sampled_from([DEFAULTS.thresholds, DEFAULTS.audio_thresholds, (10,), ()]),
    st.sampled_from([86_400, 30, 0]),
)
def test_next_threshold_is_the_next_crossing(
    seconds: float, thresholds: tuple[int, ...], repeat: int
) -> None:
    n = crossings(seconds, thresholds, repeat)
    following = next_threshold(seconds, thresholds, repeat)
    assert following > seconds
    if following != float("inf"):
        assert crossings(following, thresholds, repeat) == n + 1
    assert nth_threshold(n, thresholds, repeat) <= seconds


def test_segment_rejects_bad_seconds() -> None:
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            Segment(URL, None, bad)


# --- properties over the database --------------------------------------------------------------

_seconds = st.lists(st.floats(0, MAX_SEGMENT_SECONDS, allow_nan=False), min_size=1, max_size=12)
_settings = st.sampled_from([DEFAULTS, Settings(repeat_after=60)])


@FAST
@given(_seconds, _settings, st.booleans())
def test_flattrs_queued_equal_crossings(lengths: list[float], s: Settings, audio: bool) -> None:
    """For any segments on one URL within one day, flattrs == crossings(total seconds)."""
    with database(s) as (conn, account):
        queued = 0
        for i, length in enumerate(lengths):
            now = DAY_START + 60 + i * 1000
            (result,) = record(conn, [Segment(URL, "Post", length, audio=audio)], account, now, s)
            assert result.counted
            queued += result.flattrs_queued
        total = sum(lengths)  # every second counts: nothing is clipped
        thresholds = s.audio_thresholds if audio else s.thresholds
        expected = crossings(total, thresholds, s.repeat_after)
        rows = flattrs(conn)
        assert queued == len(rows) == expected
        assert {r["reason"] for r in rows} <= {"audio" if audio else "attention"}
        assert all(r["url"] == URL and r["account_id"] == account for r in rows)
        stored = conn.execute("SELECT seconds, crossings, audio_page FROM attention").fetchall()
        if total == 0:  # nothing to remember
            assert stored == []
            return
        (row,) = stored
        assert row["seconds"] == pytest.approx(total)
        assert row["crossings"] == expected
        assert bool(row["audio_page"]) == (audio and total >= s.audio_page_after)


@FAST
@given(st.lists(st.tuples(st.floats(0, 300, allow_nan=False), st.booleans()), max_size=12))
def test_mixed_audio_never_flattrs_a_crossing_twice(segments: list[tuple[float, bool]]) -> None:
    with database() as (conn, account):
        for i, (length, audio) in enumerate(segments):
            record(conn, [Segment(URL, None, length, audio=audio)], account, DAY_START + i)
        stored = conn.execute("SELECT COALESCE(MAX(crossings), 0) FROM attention").fetchone()[0]
        assert len(flattrs(conn)) == stored
        total = sum(x for x, _ in segments)
        either = (DEFAULTS.thresholds, DEFAULTS.audio_thresholds)
        assert stored <= max(crossings(total, t, DEFAULTS.repeat_after) for t in either)


def test_day_boundary_resets_attention(db: tuple[sqlite3.Connection, int]) -> None:
    conn, account = db
    last_second = datetime(2024, 5, 2, 3, 59, 59, tzinfo=TZ).timestamp()
    first_second = datetime(2024, 5, 2, 4, 0, 0, tzinfo=TZ).timestamp()
    (a,) = record(conn, [Segment(URL, None, 40)], account, last_second)
    (b,) = record(conn, [Segment(URL, None, 40)], account, first_second)
    assert (a.seconds_today, b.seconds_today) == (40, 40)  # not 80: the day changed
    assert flattrs(conn) == []
    days = [r[0] for r in conn.execute("SELECT day FROM attention ORDER BY day")]
    assert days == ["2024-05-01", "2024-05-02"]
    (c,) = record(conn, [Segment(URL, None, 10)], account, first_second + 1)
    assert c.flattrs_queued == 1
    assert [r["day"] for r in flattrs(conn)] == ["2024-05-02"]


def test_segment_is_filed_under_the_day_it_started(db: tuple[sqlite3.Connection, int]) -> None:
    conn, account = db
    started = datetime(2024, 5, 2, 3, 59, 50, tzinfo=TZ).timestamp()
    record(conn, [Segment(URL, None, 20, started_at=started)], account, started + 20)
    # a timestamp from the future is not trusted
    record(conn, [Segment(URL, None, 5, started_at=started + 10**6)], account, started + 30)
    days = dict(conn.execute("SELECT day, seconds FROM attention").fetchall())
    assert days == {"2024-05-01": 20, "2024-05-02": 5}


def test_a_segment_of_the_protocols_maximum_counts_in_full(
    db: tuple[sqlite3.Connection, int],
) -> None:
    # The protocol's maximum is the one figure: the host counts every second the schema allows.
    conn, account = db
    (r,) = record(conn, [Segment(URL, None, MAX_SEGMENT_SECONDS, audio=True)], account, DAY_START)
    assert r.seconds_today == MAX_SEGMENT_SECONDS
    audio = DEFAULTS.audio_thresholds
    assert r.flattrs_queued == crossings(MAX_SEGMENT_SECONDS, audio, DEFAULTS.repeat_after) == 5


def test_payment_link_is_what_is_submitted(db: tuple[sqlite3.Connection, int]) -> None:
    conn, account = db
    auto = "https://flattr.com/submit/auto?url=https%3A%2F%2Fblog.example.com%2Fpost%2F1&user_id=al"
    seg = Segment(URL + "?utm_source=x", "T", 60, meta=PageMeta(payment_url=auto))
    (r,) = record(conn, [seg], account, DAY_START + 10)
    assert (r.url, r.site, r.flattrs_queued) == (URL, "example.com", 1)
    (f,) = flattrs(conn)
    assert (f["url"], f["page_url"], f["site"], f["title"]) == (auto, URL, "example.com", "T")
    assert conn.execute("SELECT submit_url FROM attention").fetchone()[0] == auto


def _all_text(conn: sqlite3.Connection) -> str:
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    out: list[str] = []
    for table in tables:
        out.extend(repr(tuple(row)) for row in conn.execute(f'SELECT * FROM "{table}"'))
    return "\n".join(out)


@FAST
@given(st.floats(0, 900, allow_nan=False), st.booleans(), st.booleans())
def test_private_segments_store_nothing(length: float, audio: bool, signed_in: bool) -> None:
    marker = "secret-private-page"
    with database() as (conn, account):
        url = f"https://{marker}.example.org/{marker}?p=1"
        seg = Segment(url, marker, length, audio=audio, private=True)
        (r,) = record(conn, [seg], account if signed_in else None, DAY_START + 10)
        assert (r.url, r.site, r.counted, r.reason, r.flattrs_queued) == (
            None,
            None,
            False,
            "private",
            0,
        )
        with store.transaction(conn):
            m = ledger.manual_flattr(
                conn,
                url,
                PageMeta(),
                title=marker,
                account_id=account,
                now=DAY_START,
                settings=DEFAULTS,
                private=True,
            )
        assert m.flattr_id is None and m.reason == "private"
        assert marker not in _all_text(conn)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        path = Path(conn.execute("PRAGMA database_list").fetchone()[2])
        assert marker.encode() not in path.read_bytes()


def test_signed_out_accumulates_but_queues_nothing(db: tuple[sqlite3.Connection, int]) -> None:
    conn, account = db
    (r,) = record(conn, [Segment(URL, None, 100)], None, DAY_START + 10)
    assert (r.counted, r.flattrs_queued, r.signed_out, r.seconds_today) == (True, 0, True, 100)
    assert flattrs(conn) == []
    assert conn.execute("SELECT crossings FROM attention").fetchone()[0] == 2
    # signing in again does not turn the crossings made while signed out into flattrs
    (r,) = record(conn, [Segment(URL, None, 10)], account, DAY_START + 20)
    assert (r.flattrs_queued, r.signed_out) == (0, False)
    (r,) = record(conn, [Segment(URL, None, 30)], account, DAY_START + 30)
    assert r.flattrs_queued == 1 and len(flattrs(conn)) == 1


def test_refused_segments_store_nothing(db: tuple[sqlite3.Connection, int]) -> None:
    conn, account = db
    segs = [
        Segment("https://www.paypal.com/myaccount/summary", None, 300),
        Segment("http://192.168.0.1/", None, 300),
        Segment("file:///home/me/notes.html", None, 300),
    ]
    results = record(conn, segs, account, DAY_START + 10)
    assert [r.reason for r in results] == ["blocked", "ip_address", "not_http"]
    assert not any(r.counted for r in results)
    assert conn.execute("SELECT COUNT(*) FROM attention").fetchone()[0] == 0
    assert flattrs(conn) == []


# --- manual flattr and page status -------------------------------------------------------------


def manual(
    conn: sqlite3.Connection, account: int | None, url: str = URL, now: float = DAY_START + 500
) -> ledger.ManualResult:
    with store.transaction(conn):
        return ledger.manual_flattr(
            conn, url, PageMeta(), title="T", account_id=account, now=now, settings=DEFAULTS, tz=TZ
        )


def status(conn: sqlite3.Connection, url: str = URL) -> ledger.PageStatus:
    return ledger.page_status(conn, url, PageMeta(), now=DAY_START + 500, settings=DEFAULTS, tz=TZ)


@FAST
@given(st.floats(0, 600, allow_nan=False), st.booleans())
def test_manual_flattr_makes_the_next_crossing_happen(before: float, audio: bool) -> None:
    with database() as (conn, account):
        if before:
            record(conn, [Segment(URL, None, before, audio=audio)], account, DAY_START + 100)
        old = status(conn)
        n_before = len(flattrs(conn))
        result = manual(conn, account)
        assert result.flattr_id is not None and result.reason is None
        rows = flattrs(conn)
        assert len(rows) == n_before + 1
        assert rows[-1]["reason"] == "manual" and rows[-1]["id"] == result.flattr_id
        new = status(conn)
        assert new.seconds_today == old.next_threshold == result.seconds_today
        assert new.progress == 0.0
        assert new.next_threshold is not None and old.next_threshold is not None
        assert new.next_threshold > old.next_threshold
        assert new.flattrs_today_url == old.flattrs_today_url + 1
        # the crossing it made is not flattred a second time by attention
        (r,) = record(conn, [Segment(URL, None, 0.5, audio=audio)], account, DAY_START + 600)
        assert r.flattrs_queued == 0


def test_manual_flattr_refusals(db: tuple[sqlite3.Connection, int]) -> None:
    conn, account = db
    assert manual(conn, None).reason == "signed_out"
    assert manual(conn, account, "https://mail.google.com/mail/u/0/").reason == "blocked"
    assert manual(conn, account, "http://localhost:8000/").reason == "localhost"
    with store.transaction(conn):
        sites.set_site(conn, "example.com", "disabled", DAY_START)
    assert manual(conn, account).reason == "disabled"
    assert flattrs(conn) == []
    assert conn.execute("SELECT COUNT(*) FROM attention").fetchone()[0] == 0
    # the mode does not matter: the user asked explicitly
    with store.transaction(conn):
        sites.set_site(conn, "example.com", None, DAY_START)
        sites.set_mode(conn, "metadata")
    assert manual(conn, account).flattr_id is not None


def test_page_status(db: tuple[sqlite3.Connection, int]) -> None:
    conn, account = db
    fresh = status(conn)
    assert fresh.decision.counts and fresh.url == URL and fresh.site == "example.com"
    assert (fresh.seconds_today, fresh.next_threshold, fresh.progress) == (0, 50, 0)
    assert fresh.flattrs_left_today == 5
    record(conn, [Segment(URL, None, 73)], account, DAY_START + 10)
    record(conn, [Segment("https://example.com/other", None, 60)], account, DAY_START + 10)
    s = status(conn)
    assert (s.seconds_today, s.next_threshold) == (73, 96)
    assert s.progress == pytest.approx((73 - 50) / (96 - 50))
    assert (s.flattrs_today_url, s.flattrs_today_site, s.flattrs_left_today) == (1, 2, 4)
    conn.execute("UPDATE flattrs SET state = 'rejected' WHERE page_url = ?", (URL,))
    assert status(conn).flattrs_today_url == 0
    blocked = status(conn, "https://www.google.com/search?q=x")
    assert not blocked.decision.counts and blocked.decision.reason == "blocked"
    assert blocked.next_threshold is not None  # the popup may still show the page's figures
    nothing = status(conn, "about:blank")
    assert (nothing.url, nothing.decision.reason, nothing.next_threshold) == (
        None,
        "not_http",
        None,
    )


def test_audio_page_status(db: tuple[sqlite3.Connection, int]) -> None:
    conn, account = db
    record(conn, [Segment(URL, None, 25, audio=True)], account, DAY_START + 10)
    s = status(conn)
    assert s.audio_page and s.next_threshold == 140 and s.flattrs_left_today == 6


def test_history_pages_newest_first(db: tuple[sqlite3.Connection, int]) -> None:
    conn, account = db
    for i in range(7):
        manual(conn, account, f"https://example.com/p{i}", DAY_START + i)
    first = history(conn, before_id=None, limit=3)
    second = history(conn, before_id=first[-1].id, limit=3)
    third = history(conn, before_id=second[-1].id, limit=3)
    ids = [e.id for e in first + second + third]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 7
    assert first[0].page_url == "https://example.com/p6" and first[0].reason == "manual"
    assert first[0].state == "pending" and first[0].delivered_at is None
    assert history(conn, before_id=ids[-1], limit=3) == []
