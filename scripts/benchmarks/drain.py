"""Figure 4: a backlog delivered to the local Flattr server, against a plain httpx client posting
the same batches to the same server."""

from __future__ import annotations

import json
import math
import statistics
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from .common import Figure

if TYPE_CHECKING:
    from flattr_sim import SimProcess

DRAIN_GOAL = 1.2
BULK_PATH = "/rest/v2/flattr/bulk"
# Headroom over the requests the drain needs (the sign-in check reads GET /user once).
RATE_LIMIT_HEADROOM = 50
RATE_LIMIT_WINDOW = 3600.0


def backlog_drain(home: Path, count: int, runs: int) -> Figure:
    from flattr_host import accounts, flattrs, store
    from flattr_host.settings import Settings
    from flattr_host.submitter import Submitter
    from flattr_sim import SimProcess

    with SimProcess(dedupe=True) as sim:
        settings = Settings(api_base=sim.base, submit_delay=0.0, request_timeout=30.0)
        requests = math.ceil(count / settings.batch_size)
        limit = requests + settings.rate_limit_reserve + RATE_LIMIT_HEADROOM
        urls = [f"https://blog{n % 997}.example.org/post/{n}" for n in range(count)]
        problems: list[str] = []

        def window() -> None:
            sim.control.reset()
            sim.control.set_rate_limit(limit=limit, remaining=limit, reset_in=RATE_LIMIT_WINDOW)

        def ours(run: int) -> float:
            window()
            conn = store.connect(home / f"drain-{run}.sqlite3", settings)
            now = time.time()
            with store.transaction(conn):
                account = accounts.sign_in(conn, sim.token, True, now)
                for url in urls:
                    flattrs.enqueue(
                        conn,
                        url=url,
                        page_url=url,
                        site="example.org",
                        title=None,
                        day="2026-11-29",
                        reason="attention",
                        account_id=account.id,
                        now=now,
                    )
            submitter = Submitter(conn, settings)
            started = time.perf_counter()
            report = submitter.flush()
            elapsed = time.perf_counter() - started
            submitter.close()
            conn.close()
            _check(sim, count, requests, limit, report.delivered, "ours", problems)
            return elapsed

        def reference() -> float:
            import httpx

            window()
            batches = [
                urls[i : i + settings.batch_size] for i in range(0, count, settings.batch_size)
            ]
            headers = {"Authorization": f"Bearer {sim.token}", "Content-Type": "application/json"}
            started = time.perf_counter()
            with httpx.Client(timeout=settings.request_timeout) as client:
                for batch in batches:
                    body = json.dumps([{"url": u} for u in batch]).encode()
                    key = {"Idempotency-Key": uuid.uuid4().hex}
                    client.post(sim.base + BULK_PATH, content=body, headers={**headers, **key})
            elapsed = time.perf_counter() - started
            _check(sim, count, requests, limit, count, "reference", problems)
            return elapsed

        times: dict[str, list[float]] = {"host": [], "ref": []}
        for run in range(runs):
            times["ref"].append(reference())
            times["host"].append(ours(run))
    ours_s, ref_s = statistics.median(times["host"]), statistics.median(times["ref"])
    met = ours_s / ref_s <= DRAIN_GOAL and not problems
    return Figure(
        f"backlog drain ({count} flattrs)",
        "s",
        ours_s,
        ref_s,
        f"≤ {DRAIN_GOAL}×, {requests} requests, no 429",
        met,
        "; ".join(problems),
    )


def _check(
    sim: SimProcess,
    count: int,
    requests: int,
    limit: int,
    delivered: int,
    who: str,
    problems: list[str],
) -> None:
    received = sim.control.received()
    flattrs = len(sim.control.flattrs())
    statuses = {r.get("status") for r in received}
    if len(received) != requests:
        problems.append(f"{who}: {len(received)} requests, not {requests}")
    if 429 in statuses or len(received) > limit:
        problems.append(f"{who}: the rate limit was exceeded")
    if flattrs != count or delivered != count:
        problems.append(
            f"{who}: {flattrs} flattrs reached the server, {delivered} delivered, not {count}"
        )
