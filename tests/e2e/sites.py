"""Local content sites with public-looking names, served over plain HTTP on 127.0.0.1.

The browsers map the names here (Chromium: --host-resolver-rules; Firefox: localDomains and
forcePort 80). Routing is by the Host header. Pages: articles to read (long, scrollable, with a
button and a text field for real input), a creator page declaring a Flattr auto-submit URL, an
audio page, a 404 page, and hostile pages that fire the flattr.com handshake events from the wrong
origin (including http://flattr.com itself, which also lands here).
"""

from __future__ import annotations

import html
import io
import json
import math
import struct
import threading
import urllib.parse
import wave
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BLOG = "blog.example.org"
NEWS = "news.example.net"
CREATOR = "creator.example.com"
MUSIC = "music.example.org"
EVIL = "evil.example.net"
# Looks like flattr.com to a careless suffix check; served by the local Flattr server over TLS.
LOOKALIKE = "flattr.com.evil.example"
# A single-label name, as on a company network.
INTRANET = "intranet"
# Public-looking names that resolve to this server.
PUBLIC_HOSTS = (BLOG, NEWS, CREATOR, MUSIC, EVIL)
# Names that must never count.
PRIVATE_HOSTS = (INTRANET,)

ARTICLE_PATHS = {
    BLOG: ("/posts/attention-is-all", "/posts/second-post"),
    NEWS: ("/today",),
}
CREATOR_PATH = "/work"
CREATOR_PAGE_URL = f"http://{CREATOR}{CREATOR_PATH}"
PAYMENT_URL = "https://flattr.com/submit/auto?user_id=creator&url=" + urllib.parse.quote(
    CREATOR_PAGE_URL, safe=""
)
# A page naming its creator only with <meta name="flattr:id">, and one only with an embedded
# Flattr button (data-flattr-uid): both are flattred through auto-submit URLs naming them.
CREATOR_META_PATH = "/meta"
CREATOR_META_USER = "meta-creator"
CREATOR_BUTTON_PATH = "/button"
CREATOR_BUTTON_USER = "button-creator"
AUDIO_PATH = "/radio"
TONE_PATH = "/tone.wav"
MISSING_PATH = "/missing"
HOSTILE_PATH = "/fire"
FRAME_PATH = "/frame"
PARAGRAPHS = 60

TONE_SECONDS = 2.0
TONE_RATE = 8000
TONE_HZ = 440.0
TONE_AMPLITUDE = 0.4

# Events a hostile page fires, and what it listens for (anything the extension would answer).
HOSTILE_SCRIPT = """
(function () {
  if (window.__hostile) return;
  var token = %(token)s;
  var hostile = { received: [], fired: 0 };
  window.__hostile = hostile;
  ["flattr-installed", "flattr-authenticate", "flattr-authenticated", "flattr-uninstalled"]
    .forEach(function (type) {
      document.addEventListener(type, function (event) {
        var detail = null;
        try { detail = JSON.stringify(event.detail); } catch (e) { detail = "unreadable"; }
        hostile.received.push({ type: type, detail: detail });
      });
    });
  function send(type, detail) {
    document.dispatchEvent(new CustomEvent(type, { detail: detail }));
    document.dispatchEvent(new CustomEvent(type, { detail: JSON.stringify(detail) }));
  }
  hostile.fire = function () {
    hostile.fired += 1;
    send("flattr-trigger", { action: "authentication" });
    send("flattr-token", { accessToken: token, subscription: { active: true } });
    send("flattr-token", { accessToken: token });
    send("flattr-subscription", { subscription: { active: false } });
  };
  hostile.fire();  // before any content script can listen
  if (%(again)s) addEventListener("load", function () { setTimeout(hostile.fire, 200); });
})();
"""


def hostile_script(token: str, again: bool = True) -> str:
    """Fires the page → extension events at once and, with again, once more after load."""
    return HOSTILE_SCRIPT % {"token": json.dumps(token), "again": json.dumps(again)}


def tone_wav() -> bytes:
    """A short sine tone; the page loops it, so the tab stays audible."""
    frames = int(TONE_SECONDS * TONE_RATE)
    peak = TONE_AMPLITUDE * 32767
    samples = b"".join(
        struct.pack("<h", int(peak * math.sin(2 * math.pi * TONE_HZ * i / TONE_RATE)))
        for i in range(frames)
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(TONE_RATE)
        out.writeframes(samples)
    return buffer.getvalue()


def _page(title: str, body: str, head: str = "") -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>{head}"
        "<style>body{font:16px/1.5 sans-serif;margin:2em;max-width:40em}"
        "#act{font-size:1.2em;padding:.5em 1em}</style></head>"
        f"<body>{body}</body></html>"
    )


def article(title: str, head: str = "", extra: str = "") -> str:
    paragraphs = "".join(
        f"<p id='p{i}'>Paragraph {i} of {html.escape(title)}. A calm text to read, scroll and "
        "reread; nothing here is tracked by the page itself.</p>"
        for i in range(PARAGRAPHS)
    )
    body = (
        f"<h1>{html.escape(title)}</h1>{extra}"
        "<p><button id='act' type='button'>Like</button> "
        "<input id='field' type='text' placeholder='Say something'></p>"
        f"{paragraphs}"
    )
    return _page(title, body, head)


TONE = tone_wav()


@dataclass
class Hit:
    host: str
    path: str
    headers: dict[str, str]


@dataclass
class SitesState:
    hostile_token: str
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the hit list is the log

    def do_GET(self) -> None:
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
        path = urllib.parse.urlsplit(self.path).path
        state = self.server.state
        with state.lock:
            state.hits.append(Hit(host, path, dict(self.headers.items())))
        status, content_type, body = route(host, path, state)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)


def route(host: str, path: str, state: SitesState) -> tuple[int, str, bytes]:
    """(status, content type, body) for one request."""
    html_type = "text/html; charset=utf-8"
    if path == TONE_PATH:
        return 200, "audio/wav", TONE
    if host == "flattr.com" or (host == EVIL and path == HOSTILE_PATH):
        # http://flattr.com (never the real, https, origin) and a foreign site fire the events.
        script = f"<script>{hostile_script(state.hostile_token)}</script>"
        return 200, html_type, article("Connect your Flattr extension", head=script).encode()
    if host == EVIL and path == FRAME_PATH:
        frame = (
            "<iframe id='flattr' width='600' height='400' "
            "src='https://flattr.com/oauth/ext?sim_user=mallory'></iframe>"
        )
        return 200, html_type, article("Framed", extra=frame).encode()
    if host == CREATOR and path == CREATOR_PATH:
        head = f"<link rel='payment' href='{html.escape(PAYMENT_URL)}'>"
        return 200, html_type, article("A creator's work", head=head).encode()
    if host == CREATOR and path == CREATOR_META_PATH:
        head = f"<meta name='flattr:id' content='{CREATOR_META_USER}'>"
        return 200, html_type, article("Declared by meta", head=head).encode()
    if host == CREATOR and path == CREATOR_BUTTON_PATH:
        button = (
            f"<a class='FlattrButton' href='http://{CREATOR}{CREATOR_BUTTON_PATH}' "
            f"data-flattr-uid='{CREATOR_BUTTON_USER}' data-flattr-category='text'>Flattr this</a>"
        )
        return 200, html_type, article("Declared by a button", extra=button).encode()
    if host == MUSIC and path == AUDIO_PATH:
        audio = f"<audio id='audio' src='{TONE_PATH}' autoplay loop controls></audio>"
        return 200, html_type, article("Radio", extra=audio).encode()
    if path == MISSING_PATH:
        return 404, html_type, article("Not found").encode()
    return 200, html_type, article(f"{host}{path}").encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: SitesState) -> None:
        self.state = state
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # browsers drop connections (aborted loads, closed tabs) all the time


class ContentSites:
    """The content server in a background thread; close() stops it."""

    def __init__(self, hostile_token: str) -> None:
        self.state = SitesState(hostile_token)
        self._server = _Server(self.state)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="e2e-sites", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def hits(self, host: str | None = None) -> list[Hit]:
        with self.state.lock:
            return [h for h in self.state.hits if host is None or h.host == host]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
