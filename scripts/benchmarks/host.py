"""Figures 1-3: the host process against the stdlib echo host, both started as the launcher does."""

from __future__ import annotations

import random
import statistics
import time
from typing import Any

from .common import Figure, Launchers, finish, frame, read_reply, request, rss_mb

COLD_START_GOAL = 1.2
INTAKE_GOAL = 0.5
MEMORY_RATIO_GOAL = 2.5
MEMORY_MB_GOAL = 25.0
# The extension sends a burst when its outbox has piled up (service worker woke, host restarted).
BURST_SIZE = 10
# Requests answered before the clock starts (imports, prepared statements, caches).
WARM_UP = 5
# Requests are refused unless they come from a flattr.com page; a token in Bearer's charset.
SIGN_IN = {
    "type": "token",
    "token": "bench-token-0123456789",
    "page_url": "https://flattr.com/oauth/ext",
}
# Nothing listens there: the submission loop fails fast and backs off (no request leaves the box).
OFFLINE_API = {"FLATTR_API_BASE": "http://127.0.0.1:9"}
# Memory is read once the host has been idle this long (the browser keeps it connected).
SETTLE_SECONDS = 1.0


def cold_start(launchers: Launchers, runs: int) -> Figure:
    """Spawn → reply to hello, median of ``runs`` each, the two kinds interleaved."""
    times: dict[str, list[float]] = {"host": [], "echo": []}
    for _ in range(2):  # first starts: the database is created, the clean install noted
        _spawn_to_hello("host", launchers)
    for _ in range(runs):
        for kind in ("echo", "host"):
            times[kind].append(_spawn_to_hello(kind, launchers))
    ours, ref = statistics.median(times["host"]), statistics.median(times["echo"])
    ratio = ours / ref
    return Figure(
        "cold start (spawn → hello)",
        "ms",
        ours * 1000,
        ref * 1000,
        f"≤ {COLD_START_GOAL}×",
        ratio <= COLD_START_GOAL,
    )


def _spawn_to_hello(kind: str, launchers: Launchers) -> float:
    started = time.perf_counter()
    proc = launchers.spawn(kind, **OFFLINE_API)
    reply = request(proc, {"id": 1, "type": "hello", "protocol": 1})
    elapsed = time.perf_counter() - started
    assert reply.get("ok"), reply
    finish(proc)
    return elapsed


def intake(launchers: Launchers, segments: int, runs: int) -> Figure:
    """Acknowledged segments per second on one connection, the extension's pattern: half sent one
    at a time (each reply awaited), half in bursts; against the echo host on the same driver."""
    rates: dict[str, list[float]] = {"host": [], "echo": []}
    for _ in range(runs):
        for kind in ("echo", "host"):
            launchers.forget_data()
            rates[kind].append(_intake_rate(kind, launchers, segments))
    ours, ref = statistics.median(rates["host"]), statistics.median(rates["echo"])
    return Figure(
        "durable intake", "segments/s", ours, ref, f"≥ {INTAKE_GOAL}×", ours / ref >= INTAKE_GOAL
    )


def _intake_rate(kind: str, launchers: Launchers, count: int) -> float:
    proc = launchers.spawn(kind, **OFFLINE_API)
    assert proc.stdin is not None and proc.stdout is not None
    request(proc, {"id": 0, "type": "hello", "protocol": 1})
    assert request(proc, {"id": -1, **SIGN_IN}).get("ok")  # warm: validation imported, signed in
    for n in range(WARM_UP):  # the first attention imports and prepares what the rest reuse
        assert request(proc, _attention(-1 - n)).get("ok")
    messages = [_attention(n) for n in range(count)]
    started = time.perf_counter()
    single = count // 2
    for message in messages[:single]:
        reply = request(proc, message)
        assert reply.get("ok"), reply
    for at in range(single, count, BURST_SIZE):
        burst = messages[at : at + BURST_SIZE]
        proc.stdin.write(b"".join(frame(m) for m in burst))
        proc.stdin.flush()
        for _ in burst:
            reply = read_reply(proc.stdout)  # type: ignore[arg-type]
            assert reply.get("ok"), reply
    rate = count / (time.perf_counter() - started)
    finish(proc)
    return rate


def _attention(n: int) -> dict[str, Any]:
    page = n % 40
    segment = {
        "url": f"https://news{page % 7}.example.com/2026/11/article-{page}",
        "title": f"Article {page}",
        "seconds": 15,
        "started_at": time.time() - 15,
    }
    return {"id": n + 1, "type": "attention", "segments": [segment], "batch": f"b{n}"}


def memory(launchers: Launchers, runs: int) -> Figure:
    """RSS of an idle connected host after a day of browsing replayed, against the echo host."""
    ours = statistics.median(_rss_after_day("host", launchers) for _ in range(runs))
    ref = statistics.median(_rss_after_day("echo", launchers) for _ in range(runs))
    met = ours / ref <= MEMORY_RATIO_GOAL and ours <= MEMORY_MB_GOAL
    return Figure(
        "idle memory after a day",
        "MB",
        ours,
        ref,
        f"≤ {MEMORY_RATIO_GOAL}× and ≤ {MEMORY_MB_GOAL:.0f} MB",
        met,
    )


def _rss_after_day(kind: str, launchers: Launchers) -> float:
    launchers.forget_data()
    proc = launchers.spawn(kind, **OFFLINE_API)
    for message in day_of_browsing():
        reply = request(proc, message)
        assert reply.get("ok") or kind == "echo", reply
    time.sleep(SETTLE_SECONDS)
    rss = rss_mb(proc.pid)
    finish(proc)
    return rss


def day_of_browsing(seed: int = 13) -> list[dict[str, Any]]:
    """What one day of an extension's traffic looks like: hello, sign-in, ~120 pages on ~25
    sites, attention every 15 s while reading, visits, page status and a few popup openings."""
    rng = random.Random(seed)
    start = time.time() - 10 * 3600
    messages: list[dict[str, Any]] = [{"type": "hello", "protocol": 1}, SIGN_IN]
    sites = [f"site{n}.example.org" for n in range(25)]
    for page in range(120):
        site = rng.choice(sites)
        url = f"https://{site}/posts/{page}-{rng.randrange(10**6)}"
        at = start + page * 300
        messages.append({"type": "visits", "visits": [{"url": url, "visited_at": at}]})
        messages.append({"type": "page_status", "url": url})
        for flush in range(rng.randrange(1, 16)):
            segment = {
                "url": url,
                "title": f"Post {page}",
                "seconds": 15,
                "started_at": at + flush * 15,
            }
            messages.append(
                {"type": "attention", "segments": [segment], "batch": f"{page}.{flush}"}
            )
        if page % 10 == 0:
            messages += [{"type": "status"}, {"type": "history", "limit": 20}]
    return [{"id": n, **m} for n, m in enumerate(messages)]
