"""Frames that arrive together share one transaction, yet each request stands alone: whatever one
request raises, its neighbours are committed and answered (real SQLite file, in-process service)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from flattr_host import framing, paths, store
from flattr_host.protocol import parse_request
from flattr_host.protocol.requests import SetSiteRequest
from flattr_host.protocol.vocabulary import Message
from flattr_host.service import Service
from flattr_host.settings import Settings
from fuzzing import REPLY_SCHEMA, frames


@pytest.fixture()
def service(tmp_path: Path) -> Iterator[Service]:
    events: list[dict[str, Any]] = []
    opened = Service.open(tmp_path, Settings(), emit=events.append)
    yield opened
    opened.close()


def _burst(rid: int, failing_type: str) -> list[dict[str, Any]]:
    segment = {"url": f"https://news.example.com/{rid}", "seconds": 5}
    return [
        {"id": rid, "type": "attention", "segments": [segment]},
        {"id": rid + 1, "type": failing_type, "site": "blog.example.org", "setting": "disabled"},
        {"id": rid + 2, "type": "set_mode", "mode": "metadata"},
    ]


def _committed(home: Path) -> tuple[int, str, list[Any]]:
    """What another connection sees: attention rows, the mode, the per-site settings."""
    other = sqlite3.connect(paths.database_path(home))
    try:
        rows = other.execute("SELECT COUNT(*) FROM attention").fetchone()[0]
        mode = other.execute("SELECT value FROM kv WHERE key = 'mode'").fetchone()
        sites = other.execute("SELECT site FROM sites").fetchall()
    finally:
        other.close()
    return rows, mode[0] if mode else "", sites


UNEXPECTED = [
    RuntimeError("a bug"),
    KeyError("missing"),
    TypeError("unhashable type: 'list'"),
    RecursionError("maximum recursion depth exceeded"),
    sqlite3.ProgrammingError("Error binding parameter 1: type 'list' is not supported"),
    sqlite3.IntegrityError("UNIQUE constraint failed"),
    sqlite3.OperationalError("no such column: nope"),
]


@pytest.mark.parametrize("failure", UNEXPECTED, ids=lambda e: type(e).__name__)
def test_one_request_raising_anything_leaves_its_neighbours_committed(
    service: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    real = Service._on_set_site

    def write_then_fail(self: Service, r: SetSiteRequest) -> Any:
        real(self, r)  # it wrote its row: the failure must take that back, and only that
        raise failure

    monkeypatch.setattr(Service, "_on_set_site", write_then_fail)
    replies = service.handle_batch(_burst(1, "set_site"))
    assert [r["id"] for r in replies] == [1, 2, 3]
    assert replies[0]["ok"] and replies[2]["ok"]
    expected = "storage_error" if isinstance(failure, sqlite3.Error) else "internal_error"
    assert replies[1]["error"]["code"] == expected
    assert _committed(tmp_path) == (1, '"metadata"', [])


def test_a_request_whose_validation_raises_fails_alone(
    service: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = parse_request

    def parse(message: dict[str, Any]) -> Message:
        if message["type"] == "set_site":
            raise RecursionError("maximum recursion depth exceeded")
        return real(message)

    # The service validates through the name it imported.
    monkeypatch.setattr("flattr_host.service.parse_request", parse)
    replies = service.handle_batch(_burst(1, "set_site"))
    assert [r["ok"] for r in replies] == [True, False, True]
    assert replies[1]["error"]["code"] == "internal_error"
    assert _committed(tmp_path) == (1, '"metadata"', [])


def test_a_malformed_export_cursor_is_invalid_request_and_fails_alone(
    service: Service, tmp_path: Path
) -> None:
    for n, cursor in enumerate(
        [
            "flattrs:[1]",
            "flattrs:{}",
            "flattrs:true",
            "flattrs:1.5",
            'flattrs:"7"',
            "flattrs:99999999999999999999",
            "sites:3",
            "attention:x",
            "accounts:null",
        ]
    ):
        burst = [
            {
                "id": 1,
                "type": "attention",
                "segments": [{"url": f"https://news.example.com/{n}", "seconds": 5}],
            },
            {"id": 2, "type": "export", "cursor": cursor},
            {"id": 3, "type": "set_mode", "mode": "all"},
        ]
        replies = service.handle_batch(burst)
        assert [r["ok"] for r in replies] == [True, False, True], (cursor, replies)
        assert replies[1]["error"]["code"] == "invalid_request"
        assert "start again without one" in replies[1]["error"]["message"]
        assert _committed(tmp_path)[0] == n + 1
    # Cursors of the shape the host writes still go on, in every part.
    for cursor in ['sites:"a.example"', 'settings:"a"', "flattrs:3", "attention:0", "accounts:1"]:
        reply = service.handle_batch([{"id": 9, "type": "export", "cursor": cursor}])[0]
        assert reply["ok"], (cursor, reply)


def test_when_sqlite_aborts_the_transaction_nothing_is_acknowledged(
    service: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def abort(self: Service, r: SetSiteRequest) -> Any:
        # As SQLite does on a full disk or an I/O error: the whole transaction is gone.
        self.conn.execute("ROLLBACK")
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Service, "_on_set_site", abort)
    replies = service.handle_batch(_burst(1, "set_site"))
    assert [r["error"]["code"] for r in replies] == ["storage_error"] * 3
    assert all("disk is full" in r["error"]["message"] for r in replies)
    assert _committed(tmp_path) == (0, "", [])
    assert not service.conn.in_transaction
    assert service.handle_batch([{"id": 5, "type": "status"}])[0]["ok"]  # and it goes on


def test_the_transaction_helper_survives_sqlite_having_rolled_back(tmp_path: Path) -> None:
    conn = store.connect(tmp_path / "db.sqlite3", Settings())
    with pytest.raises(sqlite3.OperationalError, match="disk is full"), store.transaction(conn):
        conn.execute("ROLLBACK")
        raise sqlite3.OperationalError("database or disk is full")
    assert not conn.in_transaction
    conn.close()


def test_any_burst_gets_one_well_formed_reply_per_frame(service: Service) -> None:
    @hyp_settings(max_examples=300, deadline=None)
    @given(st.lists(frames, min_size=1, max_size=4))
    def burst(messages: list[Any]) -> None:
        # As the native loop hands them over: decoded frames, a frame that was not JSON included.
        decoded = [framing.decode(json.dumps(m).encode()) for m in messages]
        replies = service.handle_batch([*decoded, framing.FrameError("invalid_json", "no")])
        assert len(replies) == len(messages) + 1
        for message, reply in zip(decoded, replies, strict=False):
            REPLY_SCHEMA.validate(reply)
            if reply["id"] is not None:
                assert reply["id"] == message["id"]
        assert not service.conn.in_transaction

    burst()
