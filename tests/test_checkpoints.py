"""The WAL is checkpointed while the browser waits for nothing, never inside a request's commit.

Read from the WAL index (the ``-shm`` file) that SQLite shares between connections: ``mxFrame``
(frames committed to the WAL) and ``nBackfill`` (frames already copied into the database).
"""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

from hostproc import HostProcess

# sqlite3/src/wal.c: WalIndexHdr.mxFrame at byte 16; two copies of the 48-byte header, then
# WalCkptInfo.nBackfill at byte 96. Native byte order.
MX_FRAME = 16
N_BACKFILL = 96
U32 = struct.Struct("=I")
# Enough commits for SQLite's default auto-checkpoint (1000 pages) to have run several times.
REQUESTS = 600
WAIT_SECONDS = 20.0


def wal_index(home: Path) -> tuple[int, int]:
    """(frames in the WAL, frames checkpointed)."""
    shm = (home / "companion.sqlite3-shm").read_bytes()
    return U32.unpack_from(shm, MX_FRAME)[0], U32.unpack_from(shm, N_BACKFILL)[0]


def attention(host: HostProcess, n: int) -> None:
    segment = {"url": f"https://example.org/page-{n}", "seconds": 5, "title": "x" * 200}
    reply = host.request("attention", segments=[segment], batch=f"batch-{n}")
    assert reply["ok"], reply


def test_a_stream_of_requests_commits_without_checkpointing(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text(json.dumps({"idle_checkpoint_after": 60}))
    with HostProcess(tmp_path) as host:
        assert host.request("hello")["ok"]
        for n in range(REQUESTS):
            attention(host, n)
        frames, checkpointed = wal_index(tmp_path)
        # A checkpoint would have copied frames (nBackfill) and let the WAL start over: every
        # commit's frames are still there, past SQLite's default checkpoint at 1000 pages.
        assert checkpointed == 0
        assert frames > 1000


def test_the_wal_is_checkpointed_once_requests_pause(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text(json.dumps({"idle_checkpoint_after": 0.2}))
    with HostProcess(tmp_path) as host:
        assert host.request("hello")["ok"]
        for n in range(5):
            attention(host, n)
        deadline = time.monotonic() + WAIT_SECONDS
        while (index := wal_index(tmp_path))[1] < index[0] and time.monotonic() < deadline:
            time.sleep(0.05)
        frames, checkpointed = wal_index(tmp_path)
        assert frames > 0 and checkpointed == frames
        assert host.request("status")["ok"]  # still answering after its checkpoint
