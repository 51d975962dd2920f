"""``flattr-host login``: sign in from the terminal with OAuth's code flow and a loopback redirect
(RFC 8252): the browser comes back to http://127.0.0.1:<free port>/callback, where this process
listens for exactly one answer.

The token is stored exactly as the extension's flattr.com sign-in stores it (accounts.sign_in),
and checked with GET /rest/v2/user as the submitter checks a new token (accounts.verify).
"""

from __future__ import annotations

import html
import os
import queue
import secrets
import sqlite3
import sys
import threading
import time
import urllib.parse
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

from . import accounts, store
from .api import FlattrClient, FlattrError, TransportError, Unauthorized
from .api.oauth import OAuthError, authorize_url, exchange_code
from .settings import Settings

CALLBACK_PATH = "/callback"
STATE_BYTES = 24
# How long the browser's tab waits for the outcome to show it.
PAGE_WAIT_SECONDS = 60.0
CONNECTION_TIMEOUT_SECONDS = 10.0
RUN_AGAIN = "Run `flattr-host login` again"


class LoginFailed(Exception):
    """Ends the login; the message says what happened and what to do."""


@dataclass(frozen=True)
class Outcome:
    ok: bool
    text: str


class LoopbackReceiver:
    """A one-shot HTTP server on 127.0.0.1 that takes the authorization answer and shows the
    browser the outcome once the caller has one."""

    def __init__(self) -> None:
        self._answers: queue.Queue[dict[str, str]] = queue.Queue(maxsize=1)
        self._outcome: Outcome | None = None
        self._decided = threading.Event()
        self._taken = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        # close() waits for the handler threads, so the browser always gets its page.
        self._server.daemon_threads = False
        self._server.block_on_close = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}{CALLBACK_PATH}"

    def wait(self, timeout: float) -> dict[str, str] | None:
        try:
            return self._answers.get(timeout=timeout)
        except queue.Empty:
            return None

    def finish(self, outcome: Outcome) -> None:
        self._outcome = outcome
        self._decided.set()

    def close(self) -> None:
        self._decided.set()
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            timeout = CONNECTION_TIMEOUT_SECONDS  # a silent connection cannot hold up the exit

            def do_GET(self) -> None:
                split = urllib.parse.urlsplit(self.path)
                if split.path != CALLBACK_PATH:
                    self._page(404, "Not found", "This address only takes Flattr's answer.")
                    return
                if not receiver._taken.acquire(blocking=False):
                    self._page(409, "Already done", "This sign-in has already finished.")
                    return
                params = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
                receiver._answers.put(params)
                receiver._decided.wait(PAGE_WAIT_SECONDS)
                outcome = receiver._outcome or Outcome(False, "The sign-in did not finish.")
                title = "Signed in" if outcome.ok else "Not signed in"
                self._page(200 if outcome.ok else 400, title, outcome.text)

            def _page(self, status: int, title: str, text: str) -> None:
                body = (
                    "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
                    f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}"
                    f"</h1><p>{html.escape(text)}</p><p>You can close this tab.</p></body></html>"
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("Referrer-Policy", "no-referrer")  # the URL holds the code
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the request line holds the code

        return Handler


def check_settings(settings: Settings) -> tuple[str, str]:
    client_id, secret = settings.oauth_client_id, settings.oauth_client_secret
    if not client_id or not secret:
        raise LoginFailed(
            "No Flattr app is configured for signing in from the terminal. Register one at "
            f"{settings.web_base}/apps/new with the callback http://127.0.0.1, then set "
            "oauth_client_id and oauth_client_secret in settings.json (or FLATTR_CLIENT_ID and "
            "FLATTR_CLIENT_SECRET) and run `flattr-host login` again."
        )
    return client_id, secret


def run_login(
    conn: sqlite3.Connection,
    settings: Settings,
    *,
    scopes: tuple[str, ...],
    open_browser: bool,
    timeout: float,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    browser: Callable[[str], bool] = webbrowser.open,
) -> str:
    """Sign in; returns the username. Raises LoginFailed with a sentence for the user."""
    client_id, secret = check_settings(settings)
    receiver = LoopbackReceiver()
    try:
        state = secrets.token_urlsafe(STATE_BYTES)
        redirect_uri = receiver.redirect_uri
        try:
            url = authorize_url(settings.web_base, client_id, redirect_uri, scopes, state)
        except FlattrError as exc:
            raise LoginFailed(str(exc)) from None
        if open_browser and _open(browser, url):
            print(
                f"Opened your browser at {settings.web_base}. Waiting for you to allow access…",
                file=err,
                flush=True,
            )
        else:
            print(url, file=out, flush=True)
            print(
                "Open the address above in a browser and allow access. Waiting…",
                file=err,
                flush=True,
            )
        try:
            username = _complete(
                conn,
                settings,
                receiver.wait(timeout),
                state,
                redirect_uri,
                client_id,
                secret,
                timeout,
            )
        except LoginFailed as exc:
            receiver.finish(Outcome(False, str(exc)))
            raise
        receiver.finish(Outcome(True, f"Flattr Companion is signed in as {username}."))
        return username
    finally:
        receiver.close()


def _open(browser: Callable[[str], bool], url: str) -> bool:
    """Open the system browser; False when there is none to open (then the address is printed).

    Without a display, Python's webbrowser would start a text browser in this very terminal and
    block, so on such machines we do not try."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return False
    try:
        return bool(browser(url))
    except Exception:  # no usable browser: fall back to printing the address
        return False


def _complete(
    conn: sqlite3.Connection,
    settings: Settings,
    params: dict[str, str] | None,
    state: str,
    redirect_uri: str,
    client_id: str,
    secret: str,
    timeout: float,
) -> str:
    if params is None:
        raise LoginFailed(
            f"No answer from Flattr reached {redirect_uri} within {timeout:.0f} s. If the "
            "browser said the redirect_uri does not match, the app in oauth_client_id must "
            f"accept http://127.0.0.1 (any port) as its callback. {RUN_AGAIN} to retry."
        )
    returned_state = params.get("state")
    if returned_state is not None and not secrets.compare_digest(returned_state, state):
        raise LoginFailed(
            "The answer that reached this computer belongs to another sign-in (its state does "
            f"not match), so it was ignored and nothing was stored. {RUN_AGAIN}."
        )
    error = params.get("error")
    if error == "access_denied":
        raise LoginFailed(
            "You declined access on Flattr, so nothing was stored. To sign in, "
            f"{RUN_AGAIN[0].lower()}{RUN_AGAIN[1:]} and choose Allow."
        )
    if error:
        detail = params.get("error_description") or error
        raise LoginFailed(f"Flattr refused the sign-in ({detail}). {RUN_AGAIN}.")
    code = params.get("code")
    if not code:
        raise LoginFailed(f"Flattr's answer carried no authorization code. {RUN_AGAIN}.")
    try:
        grant = exchange_code(
            settings.web_base,
            client_id,
            secret,
            code,
            redirect_uri,
            verify=settings.ca_bundle or True,
            timeout=settings.request_timeout,
        )
    except OAuthError as exc:
        raise LoginFailed(_exchange_failure(exc)) from None
    return _store(conn, settings, grant.access_token)


def _exchange_failure(exc: OAuthError) -> str:
    text = exc.description.lower()
    if exc.error == "invalid_client":
        return (
            "Flattr did not accept the app's client id and secret. Check oauth_client_id and "
            f"oauth_client_secret in settings.json, then {RUN_AGAIN[0].lower()}{RUN_AGAIN[1:]}."
        )
    if exc.error == "invalid_grant" and "redirect" in text:
        return (
            "Flattr says the redirect address differs from the one the code was issued for, "
            f"so nothing was stored. {RUN_AGAIN}."
        )
    if exc.error == "invalid_grant" and "expired" in text:
        return f"The authorization code expired before it could be used. {RUN_AGAIN}."
    if exc.error == "invalid_grant":
        return (
            "Flattr did not accept the authorization code: it was already used or is no longer "
            f"valid. {RUN_AGAIN} for a fresh one."
        )
    if exc.error is None:
        return f"Could not get a token from Flattr: {exc.description}. {RUN_AGAIN}."
    return f"Flattr refused to hand out a token ({exc}). {RUN_AGAIN}."


def _store(conn: sqlite3.Connection, settings: Settings, token: str) -> str:
    """Store and verify the token the way the extension's sign-in and the submitter do."""
    try:
        with FlattrClient.from_settings(settings, token) as client:
            username: str | None = client.user().username
    except Unauthorized:
        raise LoginFailed(
            f"Flattr rejected the token it just issued, so nothing was stored. {RUN_AGAIN}."
        ) from None
    except TransportError:
        username = None  # stored unverified; the submitter verifies it on its next run
    except FlattrError as exc:
        raise LoginFailed(f"Could not check the new token: {exc}. {RUN_AGAIN}.") from None
    with store.transaction(conn):
        account = accounts.sign_in(conn, token, None, time.time())
        if username is not None:
            accounts.verify(conn, account.id, username)
    return username or "(not yet verified: the API could not be reached)"
