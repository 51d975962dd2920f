"""Figures 5-6 in headless Chromium (Debian's, through Playwright): the popup's time to status from
a cold service worker, and the content script's cost per page load."""

from __future__ import annotations

import contextlib
import http.server
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .common import REPO, Figure, Launchers

CHROMIUM = Path("/usr/lib/chromium/chromium")  # what /usr/bin/chromium execs
EXTENSION_ID = "pceboilfpeijfppedbhfdflpddadaoml"
HOST_NAME = "org.flattr_companion.host"
POPUP = "src/popup/popup.html"
# A page of ours that only reads chrome.storage.session: the least any popup could do.
REFERENCE_POPUP = "bench-reference.html"
POPUP_GOAL = 1.5
CONTENT_SCRIPT_GOAL_MS = 1.0
ARTICLE_HOST = "news.example.com"
# Nothing listens there: the host's submission fails fast (no request leaves the machine).
OFFLINE_API = "http://127.0.0.1:9"
# The content script runs at document_idle and sets itself up right after: let it finish.
SETTLE_SECONDS = 0.5
WAIT_MS = 30_000
# How long to wait for a stopped worker to be gone before asking again.
STOP_CHECK_MS = 100
# How often we look for the status (it is timed by the page itself, not by this polling).
POLL_MS = 20
# Set on the popup's <main> when a status is on screen (popup.js): aria-busy=false for any true
# status, the last one kept or the host's; data-status=live once it is the background's answer,
# and the host's status once the host card (e.g. "Connecting…") is hidden. Recorded by a
# MutationObserver in the page itself, in the page's own clock (ms since navigation began).
SHOWN_RECORDER = """
(() => {
  if (!location.href.startsWith('chrome-extension://')) return;
  const check = () => {
    const main = document.getElementById('main');
    if (main && main.getAttribute('aria-busy') === 'false' && window.__shownAt === undefined) {
      window.__shownAt = performance.now();
    }
    // The host's own answer: not the last status kept, nor the host card ("Connecting…").
    const host = document.getElementById('host');
    const live = main && main.dataset.status !== 'last-known' && !(host && !host.hidden);
    if (live && main.getAttribute('aria-busy') === 'false' && window.__liveAt === undefined) {
      window.__liveAt = performance.now();
    }
  };
  new MutationObserver(check).observe(document, {subtree: true, childList: true, attributes: true});
})();
"""


def popup_time_to_status(work: Path, launchers: Launchers, runs: int) -> Figure:
    from playwright.sync_api import sync_playwright

    extension = _build_extension(work)
    # The user's Chromium profile, where `flattr-host install` put the host's manifest.
    profile = launchers.home / ".config" / "chromium"
    times: dict[str, list[float]] = {"ours": [], "ref": [], "live": []}
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=_args(extension),
            ignore_default_args=["--disable-extensions"],
            env={**launchers.env, "FLATTR_API_BASE": OFFLINE_API},
        )
        try:
            context.add_init_script(SHOWN_RECORDER)
            blank = context.pages[0] if context.pages else context.new_page()
            cdp = context.new_cdp_session(blank)
            _worker(context)  # the extension is up, its host connected once
            _open(context, POPUP)
            for _ in range(runs):
                for kind, path in (("ref", REFERENCE_POPUP), ("ours", POPUP)):
                    _stop_workers(context, cdp)
                    shown, live = _open(context, path)
                    times[kind].append(shown)
                    if kind == "ours":
                        times["live"].append(live)
        finally:
            context.close()
    ours, ref = statistics.median(times["ours"]), statistics.median(times["ref"])
    live = statistics.median(times["live"])
    return Figure(
        "popup time to status (cold worker)",
        "ms",
        ours,
        ref,
        f"≤ {POPUP_GOAL}×",
        ours / ref <= POPUP_GOAL,
        # The last status kept is painted first; the host's own answer follows.
        f"live status after {live:.0f} ms, {live / ref:.1f}×",
    )


def _open(context: Any, path: str) -> tuple[float, float]:
    """(status shown, live status shown) in ms since the page's navigation began."""
    page = context.new_page()
    try:
        page.goto(f"chrome-extension://{EXTENSION_ID}/{path}", wait_until="commit")
        deadline = time.monotonic() + WAIT_MS / 1000
        while (times := page.evaluate("() => [window.__shownAt, window.__liveAt]"))[1] is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{path} showed no live status within {WAIT_MS / 1000:.0f} s")
            page.wait_for_timeout(POLL_MS)
        return float(times[0]), float(times[1])
    finally:
        page.close()


def _worker(context: Any) -> None:
    deadline = time.monotonic() + WAIT_MS / 1000
    while not any(
        w.url.startswith(f"chrome-extension://{EXTENSION_ID}") for w in context.service_workers
    ):
        if time.monotonic() > deadline:
            raise RuntimeError("the extension's service worker never started")
        context.pages[0].wait_for_timeout(50)


def _stop_workers(context: Any, cdp: Any) -> None:
    """A cold start: the worker stopped (and with it the host's port), as after 30 s idle."""
    deadline = time.monotonic() + WAIT_MS / 1000
    browser = context.browser.new_browser_cdp_session()
    # Asked again until it is gone: the extension's once-a-minute alarm may wake it meanwhile.
    while True:
        cdp.send("ServiceWorker.enable")
        cdp.send("ServiceWorker.stopAllWorkers")
        cdp.send("ServiceWorker.disable")
        context.pages[0].wait_for_timeout(STOP_CHECK_MS)
        if not any(
            t["type"] == "service_worker"
            and t["url"].startswith(f"chrome-extension://{EXTENSION_ID}")
            for t in browser.send("Target.getTargets")["targetInfos"]
        ):
            break
        if time.monotonic() > deadline:
            raise RuntimeError("the service worker would not stop")
    browser.detach()
    time.sleep(0.3)  # the host notices its closed stdin and exits


def content_script_cost(work: Path, loads: int) -> Figure:
    """Script time per load of a long article (CDP Performance.getMetrics ScriptDuration), with the
    extension and without, each in its own headless Chromium, loads interleaved."""
    from playwright.sync_api import sync_playwright

    extension = _build_extension(work)
    costs: dict[str, list[float]] = {"ours": [], "ref": []}
    with _article_server() as port, sync_playwright() as pw:
        contexts = {
            kind: pw.chromium.launch_persistent_context(
                str(work / f"content-{kind}"),
                executable_path=str(CHROMIUM),
                headless=True,
                args=_args(extension if kind == "ours" else None, port),
                ignore_default_args=["--disable-extensions"] if kind == "ours" else [],
            )
            for kind in ("ours", "ref")
        }
        try:
            url = f"http://{ARTICLE_HOST}/2026/11/29/a-long-read.html"
            for context in contexts.values():
                _script_ms(context, url)  # warm caches
            for _ in range(loads):
                for kind, context in contexts.items():
                    costs[kind].append(_script_ms(context, url))
        finally:
            for context in contexts.values():
                context.close()
    ours, ref = statistics.median(costs["ours"]), statistics.median(costs["ref"])
    return Figure(
        "content script per page load",
        "ms script",
        ours,
        ref,
        f"≤ +{CONTENT_SCRIPT_GOAL_MS:.0f} ms",
        ours - ref <= CONTENT_SCRIPT_GOAL_MS,
        f"added {ours - ref:.2f} ms",
    )


def _script_ms(context: Any, url: str) -> float:
    page = context.new_page()
    try:
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        page.goto(url, wait_until="load")
        page.wait_for_timeout(SETTLE_SECONDS * 1000)
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        return float(metrics["ScriptDuration"]) * 1000
    finally:
        page.close()


def _args(extension: Path | None, port: int | None = None) -> list[str]:
    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--password-store=basic",
    ]
    if extension is not None:
        args += [f"--disable-extensions-except={extension}", f"--load-extension={extension}"]
    if port is not None:
        args.append(f"--host-resolver-rules=MAP {ARTICLE_HOST} 127.0.0.1:{port}")
    return args


_BUILT: dict[Path, Path] = {}


def _build_extension(work: Path) -> Path:
    """The real Chromium build, plus the reference popup (only in this throwaway copy)."""
    if work in _BUILT:
        return _BUILT[work]
    out = work / "extension"
    subprocess.run(
        [str(REPO / "scripts" / "build-extension"), "--out", str(out)],
        check=True,
        capture_output=True,
        cwd=REPO,
    )
    chromium = out / "chromium"
    (chromium / REFERENCE_POPUP).write_text(
        '<!doctype html><meta charset="utf-8"><link rel="stylesheet" href="src/popup/popup.css">'
        '<main id="main" aria-busy="true"></main><script src="bench-reference.js"></script>\n'
    )
    (chromium / "bench-reference.js").write_text(
        "chrome.storage.session.get(null).then((s) => {\n"
        "  const main = document.getElementById('main');\n"
        "  main.textContent = Object.keys(s).join(', ') || 'nothing stored';\n"
        "  main.setAttribute('aria-busy', 'false');\n"
        "});\n"
    )
    _BUILT[work] = chromium
    return chromium


def article_html() -> bytes:
    """A long read as news sites serve it: header, nav, ~2500 words, figures, a comments block."""
    words = [
        *("attention", "flattr", "reader", "creator", "page", "minutes", "story", "thought"),
        *("detail", "evidence", "argument", "paragraph", "history", "source", "quote"),
        *("example", "figure", "chapter", "note"),
    ]
    paragraphs = []
    for n in range(60):
        text = " ".join(words[(n * 7 + k) % len(words)] for k in range(45))
        paragraphs.append(f"<p>{text.capitalize()}.</p>")
        if n % 12 == 0:
            paragraphs.append(
                f"<h2>Part {n // 12 + 1}</h2><figure><div style='height:200px'></div>"
                f"<figcaption>Figure {n // 12 + 1}</figcaption></figure>"
            )
    nav = "".join(f"<li><a href='/section/{k}'>Section {k}</a></li>" for k in range(30))
    comments = "".join(
        f"<article><b>Reader {k}</b><p>{words[k % 19]} comment</p></article>" for k in range(40)
    )
    html = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>A long read about attention</title>"
        "<link rel='canonical' href='http://news.example.com/2026/11/29/a-long-read.html'>"
        "<meta name='author' content='A. Writer'>"
        "<script>window.dataLayer = []; document.addEventListener('scroll', () => {});</script>"
        f"</head><body><header><nav><ul>{nav}</ul></nav></header><main><article>"
        f"<h1>A long read about attention</h1>{''.join(paragraphs)}</article>"
        f"<section id='comments'>{comments}</section></main><footer>© News</footer></body></html>"
    )
    return html.encode()


@contextlib.contextmanager
def _article_server() -> Iterator[int]:
    body = article_html()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
