"""The user's data as JSON, in pages that each fit a native-messaging frame. Never the token."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__, paths
from .logs import redact

# Tables in export order, with the columns that are the user's data (no tokens, no leases).
PARTS: dict[str, tuple[str, str]] = {
    "accounts": (
        "SELECT id, username, subscription_active, signed_in_at, signed_out_at, "
        "signed_out_reason FROM accounts",
        "id",
    ),
    "settings": ("SELECT key, value FROM kv WHERE key IN ('mode', 'visit_flattrs')", "key"),
    "sites": ("SELECT site, setting, updated_at FROM sites", "site"),
    "attention": (
        "SELECT rowid AS id, day, url, site, title, seconds, audio_seconds, audio_page, crossings, "
        "submit_url, updated_at FROM attention",
        "rowid",
    ),
    "visits": ("SELECT id, site, at, gap_before, followed FROM visits", "id"),
    "flattrs": (
        "SELECT id, url, page_url, site, title, day, reason, account_id, state, error, "
        "created_at, delivered_at FROM flattrs",
        "id",
    ),
}
# Leave room for the reply envelope around the rows.
ENVELOPE_RESERVE = 4096
MAX_ROWS_PER_PAGE = 5000
# The keys a cursor may carry: SQLite's integer range (ids and rowids) or a string.
SQLITE_MIN_INTEGER, SQLITE_MAX_INTEGER = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class Page:
    part: str
    rows: list[dict[str, Any]]
    cursor: str | None


def _parse(cursor: str | None) -> tuple[str, Any]:
    """The part and the key to go on after, exactly as ``page`` wrote them; ValueError otherwise,
    before the database is touched."""
    if cursor is None:
        return next(iter(PARTS)), None
    part, _, after = cursor.partition(":")
    if part not in PARTS:
        raise ValueError(f"bad export cursor {cursor!r}; start again without one")
    if not after:
        return part, None
    try:
        key = json.loads(after)
    except ValueError:
        key = None
    numeric = _key_column(part) in ("id", "rowid")
    if numeric:
        valid = type(key) is int and SQLITE_MIN_INTEGER <= key <= SQLITE_MAX_INTEGER
    else:
        valid = type(key) is str
    if not valid:
        raise ValueError(f"bad export cursor {cursor!r}; start again without one")
    return part, key


def _key_column(part: str) -> str:
    return PARTS[part][1].split(" ")[-1]


def page(conn: sqlite3.Connection, cursor: str | None, max_bytes: int) -> Page:
    """One page of one part; ``cursor`` says where to go on (None when everything was sent)."""
    part, after = _parse(cursor)
    query = PARTS[part][0]
    column = _key_column(part)
    joiner = " AND " if " WHERE " in query else " WHERE "
    where = "" if after is None else f"{joiner}{column} > ?"
    rows = conn.execute(
        f"{query}{where} ORDER BY {column} LIMIT {MAX_ROWS_PER_PAGE + 1}",
        () if after is None else (after,),
    ).fetchall()
    budget = max_bytes - ENVELOPE_RESERVE
    out: list[dict[str, Any]] = []
    for row in rows[:MAX_ROWS_PER_PAGE]:
        item = dict(row)
        if isinstance(item.get("error"), str):  # stored before errors were redacted at the source
            item["error"] = redact(item["error"])
        size = len(json.dumps(item, ensure_ascii=False).encode()) + 1
        if size > budget:
            if not out:  # a single oversized row: cut its free text rather than stall the export
                item = {k: (v[:1024] if isinstance(v, str) else v) for k, v in item.items()}
                out.append(item)
            break
        budget -= size
        out.append(item)
    last_key = out[-1]["id" if column in ("id", "rowid") else column] if out else None
    if len(out) < len(rows):
        return Page(part, out, f"{part}:{json.dumps(last_key)}")
    names = list(PARTS)
    following = names.index(part) + 1
    return Page(part, out, f"{names[following]}:" if following < len(names) else None)


# --- the whole export as one file (``flattr-host export -o``, the dashboard's Export) ----------


def _rows(conn: sqlite3.Connection) -> Iterator[tuple[str, dict[str, Any]]]:
    cursor: str | None = None
    while True:
        found = page(conn, cursor, 1 << 20)
        for row in found.rows:
            yield found.part, row
        if found.cursor is None:
            return
        cursor = found.cursor


def document_text(conn: sqlite3.Connection) -> str:
    data: dict[str, Any] = {"format": "flattr-companion-export", "version": 1, "host": __version__}
    for part, row in _rows(conn):
        data.setdefault(part, []).append(row)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, 0600 whatever the umask: an export is the user's history."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, paths.PRIVATE_FILE)
    with open(fd, "wb") as handle:
        if hasattr(os, "fchmod") and stat.S_ISREG(os.fstat(fd).st_mode):
            os.fchmod(fd, paths.PRIVATE_FILE)  # an existing file keeps its mode otherwise
        handle.write(data)


def write_file(conn: sqlite3.Connection, path: Path) -> None:
    write_private(path, document_text(conn).encode("utf-8"))
