"""The database file: WAL, mode 0600, migrations, and a clear error for a newer schema."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from flattr_host import store
from flattr_host.settings import Settings


def test_a_new_database_is_private_and_in_wal_mode(tmp_path: Path) -> None:
    conn = store.connect(tmp_path / "db.sqlite3", Settings())
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
    with store.transaction(conn):
        store.put(conn, "k", {"a": 1})
    conn.close()
    for name in ("db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm"):
        path = tmp_path / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name


def test_an_old_database_is_migrated_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(store.MIGRATIONS[0])
    old.execute("INSERT INTO kv (key, value) VALUES ('mode', '\"enabled\"')")
    old.execute("PRAGMA user_version = 1")
    old.commit()
    old.close()
    conn = store.connect(path, Settings())
    assert conn.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
    assert store.get(conn, "mode") == "enabled"
    conn.execute("SELECT batch FROM attention_batches").fetchall()


def test_a_newer_database_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    newer = sqlite3.connect(path)
    newer.execute(f"PRAGMA user_version = {store.SCHEMA_VERSION + 1}")
    newer.close()
    with pytest.raises(store.StoreError, match="pip install --upgrade flattr-companion"):
        store.connect(path, Settings())


def test_a_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    conn = store.connect(tmp_path / "db.sqlite3", Settings())
    with pytest.raises(RuntimeError), store.transaction(conn):
        store.put(conn, "half", 1)
        raise RuntimeError("crash in the middle")
    assert store.get(conn, "half") is None
