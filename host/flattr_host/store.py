"""The one SQLite database: connection set-up, schema migrations, transactions.

Everything the host acknowledges is acknowledged only after its transaction commits, so it survives
``kill -9`` (WAL mode; see ``Settings.synchronous``).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import paths
from .settings import Settings
from .upgrade import upgrade_command

# Each entry upgrades the schema by one version; never edit an entry that has shipped.
# Statements are split on ";", so comments must not contain one.
MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema.
    """
    CREATE TABLE kv (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL              -- JSON
    );
    CREATE TABLE accounts (
        id INTEGER PRIMARY KEY,
        username TEXT,                   -- learnt from GET /rest/v2/user, NULL until verified
        token TEXT,                      -- NULL once signed out (401 or the user's choice)
        subscription_active INTEGER,     -- NULL when unknown
        signed_in_at REAL NOT NULL,
        signed_out_at REAL,
        signed_out_reason TEXT
    );
    CREATE TABLE attention (
        day TEXT NOT NULL,               -- YYYY-MM-DD of the attention day (starts 04:00 local)
        url TEXT NOT NULL,               -- normalised page URL
        site TEXT NOT NULL,              -- registrable domain
        title TEXT,
        seconds REAL NOT NULL DEFAULT 0,
        audio_seconds REAL NOT NULL DEFAULT 0,
        audio_page INTEGER NOT NULL DEFAULT 0,
        crossings INTEGER NOT NULL DEFAULT 0,
        submit_url TEXT,                 -- where its flattrs go (auto-submit URL) when declared
        updated_at REAL NOT NULL,
        PRIMARY KEY (day, url)
    );
    CREATE INDEX attention_site_day ON attention (site, day);
    CREATE TABLE batches (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts (id),
        idempotency_key TEXT NOT NULL UNIQUE,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        created_at REAL NOT NULL,
        last_status INTEGER,
        last_error TEXT
    );
    CREATE TABLE flattrs (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL,               -- what is submitted (page URL or auto-submit URL)
        page_url TEXT NOT NULL,
        site TEXT NOT NULL,
        title TEXT,
        day TEXT NOT NULL,
        reason TEXT NOT NULL,            -- attention | audio | manual
        account_id INTEGER REFERENCES accounts (id),
        state TEXT NOT NULL DEFAULT 'pending'
            CHECK (state IN ('pending', 'in_flight', 'delivered', 'failed', 'rejected')),
        batch_id INTEGER REFERENCES batches (id),
        error TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        delivered_at REAL
    );
    CREATE INDEX flattrs_state ON flattrs (state, account_id);
    CREATE INDEX flattrs_site_day ON flattrs (site, day);
    CREATE INDEX flattrs_batch ON flattrs (batch_id);
    CREATE TABLE sites (
        site TEXT PRIMARY KEY,
        setting TEXT NOT NULL CHECK (setting IN ('enabled', 'disabled')),
        updated_at REAL NOT NULL
    );
    CREATE TABLE lease (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        pid INTEGER NOT NULL,
        hostname TEXT NOT NULL,
        expires_at REAL NOT NULL
    );
    """,
    # 2: attention batches already recorded, so that the extension can resend one whose reply it
    # never saw (host killed mid-reply) without counting it twice.
    """
    CREATE TABLE attention_batches (
        batch TEXT PRIMARY KEY,
        results TEXT NOT NULL,           -- the JSON results that were answered
        recorded_at REAL NOT NULL
    );
    CREATE INDEX attention_batches_age ON attention_batches (recorded_at);
    """,
    # 3: visits for daily visit flattrs: timestamps per site, nothing else of the page.
    """
    CREATE TABLE visits (
        id INTEGER PRIMARY KEY,
        site TEXT NOT NULL,              -- registrable domain
        at REAL NOT NULL,                -- unix time of the top-level navigation
        gap_before REAL,                 -- seconds since the preceding visit (any site), NULL: none
        followed INTEGER NOT NULL DEFAULT 0  -- 1 once another visit came soon after
    );
    CREATE INDEX visits_site_at ON visits (site, at);
    CREATE INDEX visits_at ON visits (at);
    """,
    # 4: a long queue (100 000 flattrs after months offline) is sent in time linear in its length:
    # each step looks up the newest unbatched flattr, the next due batch and whether a batch has
    # items left through these instead of scanning the queue (profiled in docs/benchmarks.md).
    """
    CREATE INDEX flattrs_unbatched ON flattrs (account_id, created_at)
        WHERE state = 'pending' AND batch_id IS NULL;
    CREATE INDEX flattrs_batch_state ON flattrs (batch_id, state);
    DROP INDEX flattrs_batch;
    CREATE INDEX batches_due ON batches (account_id, next_attempt_at, id);
    """,
    # 5: a batch with nothing left to send (every flattr in it delivered or rejected) is done, and
    # the index that finds the next batch to send holds only the others: after a long drain it
    # would otherwise walk past every batch already sent, at every request. The flattrs of a batch
    # are found by batch alone (a batch holds at most batch_size): an index of their state too
    # was rewritten at every change of state, a third of a drain's writes.
    """
    ALTER TABLE batches ADD COLUMN done INTEGER NOT NULL DEFAULT 0;
    UPDATE batches SET done = 1 WHERE NOT EXISTS (SELECT 1 FROM flattrs f
        WHERE f.batch_id = batches.id AND f.state IN ('pending', 'failed', 'in_flight'));
    DROP INDEX batches_due;
    CREATE INDEX batches_open ON batches (account_id, next_attempt_at, id) WHERE done = 0;
    DROP INDEX flattrs_batch_state;
    CREATE INDEX flattrs_batched ON flattrs (batch_id) WHERE batch_id IS NOT NULL;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
# Pause between attempts when another process holds the database while we set it up.
SETUP_RETRY_SECONDS = 0.02


class StoreError(Exception):
    pass


def connect(path: Path, settings: Settings) -> sqlite3.Connection:
    """Open (creating and migrating when needed) the database at ``path``, mode 0600."""
    paths.private_dir(path.parent)
    # Create the file ourselves so that it is never world-readable, not even for an instant.
    # SQLite gives the -wal and -shm files the database file's permissions.
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, paths.PRIVATE_FILE)
        os.close(fd)
    except FileExistsError:
        paths.restrict(path)
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, so nothing commits behind our back.
    conn = sqlite3.connect(
        path, timeout=settings.busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {int(settings.busy_timeout_ms)}")
    if settings.synchronous.upper() not in {"NORMAL", "FULL", "EXTRA"}:
        raise StoreError(f"synchronous must be NORMAL, FULL or EXTRA, not {settings.synchronous}")
    conn.execute(f"PRAGMA synchronous = {settings.synchronous.upper()}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA cache_size = -{int(settings.cache_kib)}")
    # No commit copies the WAL into the database (SQLite's default every 1000 pages, an fsync a
    # request would wait for): the host does it while idle, the last connection when it closes,
    # and a commit only past this many pages.
    conn.execute(f"PRAGMA wal_autocheckpoint = {int(settings.wal_checkpoint_pages)}")
    deadline = time.monotonic() + settings.busy_timeout_ms / 1000
    while True:
        # Switching to WAL and migrating can meet another process doing the same at the same
        # instant, and SQLite then answers "locked" without waiting: wait here instead.
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StoreError(f"{path}: could not switch to WAL mode (got {mode})")
            _migrate(conn, path)
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                conn.close()
                raise
            time.sleep(SETUP_RETRY_SECONDS)
    for suffix in ("-wal", "-shm"):  # left behind looser by an older host
        with contextlib.suppress(FileNotFoundError):
            paths.restrict(Path(f"{path}{suffix}"))
    return conn


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer flattr-host (schema {version} > {SCHEMA_VERSION}); "
            f"upgrade with: {upgrade_command()}"
        )
    if version == SCHEMA_VERSION:
        return
    with transaction(conn):
        # Re-read inside the write lock: another host process may have migrated meanwhile.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for step in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[step].split(";"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction taken up front (BEGIN IMMEDIATE), so that it never fails half-way with
    "database is locked": waiting for the lock happens at BEGIN, within the busy timeout."""
    if conn.in_transaction:
        # Nested use joins the outer transaction (group commit in the native loop).
        yield conn
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled back already (disk full, I/O error)
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def get(conn: sqlite3.Connection, key: str, default: Any = None) -> Any:
    row = conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
    return default if row is None else json.loads(row[0])


def put(conn: sqlite3.Connection, key: str, value: Any) -> None:
    if value is None:
        conn.execute("DELETE FROM kv WHERE key = ?", (key,))
    else:
        conn.execute(
            "INSERT INTO kv (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value)),
        )
