"""`flattr-host login` end to end: a real process, the local Flattr server, and a real HTTP client
playing the browser that follows the authorization URL."""

from __future__ import annotations

import subprocess
import sys
import urllib.parse
from pathlib import Path

import httpx
import pytest

from flattr_host import accounts, paths, store
from flattr_host.settings import load_settings
from flattr_sim import SimProcess
from helpers import make_home
from hostproc import host_env

CLIENT_ID = "companion-test-app"
CLIENT_SECRET = "companion-test-secret"
PROCESS_TIMEOUT = 60
# How long a login under test waits for the browser: a broken flow fails instead of hanging.
LOGIN_TIMEOUT = "20"


SIM_DEDUPE = False  # the module's server (conftest's `sim`) records every flattr sent


@pytest.fixture(autouse=True)
def _app(users_sim: SimProcess) -> None:
    users_sim.control.set_app(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri="http://127.0.0.1/callback",
        echo_state=True,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return make_home(tmp_path / "home")


def env_for(home: Path, sim: SimProcess, **extra: str) -> dict[str, str]:
    values = {
        "FLATTR_API_BASE": sim.base,
        "FLATTR_WEB_BASE": sim.base,
        "FLATTR_CLIENT_ID": CLIENT_ID,
        "FLATTR_CLIENT_SECRET": CLIENT_SECRET,
        **extra,
    }
    return host_env(home, **values)


class Login:
    """`flattr-host login --no-browser` running; `.url` is the first line it printed."""

    def __init__(self, home: Path, sim: SimProcess, *args: str, **env: str) -> None:
        if "--timeout" not in args:
            args = (*args, "--timeout", LOGIN_TIMEOUT)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "flattr_host", "login", "--no-browser", *args],
            env=env_for(home, sim, **env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        self.query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.url).query))

    def finish(self) -> tuple[int, str, str]:
        try:
            out, err = self.proc.communicate(timeout=PROCESS_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        return self.proc.returncode, out, err


def browse(url: str) -> httpx.Response:
    """A browser: follows the authorization URL and its redirect to the loopback listener."""
    return httpx.get(url, follow_redirects=True, trust_env=False, timeout=PROCESS_TIMEOUT)


def stored_account(home: Path) -> accounts.Account | None:
    conn = store.connect(paths.database_path(home), load_settings(home))
    try:
        return accounts.current(conn)
    finally:
        conn.close()


def authorize_only(url: str, **changes: str) -> str:
    """The authorize request without following: the Location (loopback callback) it redirects to."""
    split = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(split.query))
    query.update(changes)
    response = httpx.get(
        split._replace(query=urllib.parse.urlencode(query)).geturl(), trust_env=False
    )
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def test_login_end_to_end(home: Path, sim: SimProcess) -> None:
    login = Login(home, sim)
    assert login.url.startswith(f"{sim.base}/oauth/authorize?")
    q = login.query
    assert q["response_type"] == "code" and q["client_id"] == CLIENT_ID
    assert q["scope"] == "flattr" and len(q["state"]) >= 20
    redirect = urllib.parse.urlsplit(q["redirect_uri"])
    assert redirect.scheme == "http" and redirect.hostname == "127.0.0.1"
    assert redirect.port and redirect.path == "/callback"

    page = browse(login.url)
    assert page.status_code == 200 and "signed in as demo" in page.text
    code, out, err = login.finish()
    assert code == 0, err
    assert out.splitlines() == ["Signed in to Flattr as demo."]  # after the URL line
    account = stored_account(home)
    assert account is not None and account.username == "demo" and account.token
    assert account.token not in out + err + page.text
    # The stored token works: the same account model the extension's sign-in fills.
    me = httpx.get(
        f"{sim.base}/rest/v2/user",
        headers={"Authorization": f"Bearer {account.token}"},
        trust_env=False,
    )
    assert me.json()["username"] == "demo"
    # `status` sees the account as signed in and verified.
    status = subprocess.run(
        [sys.executable, "-m", "flattr_host", "status"],
        env=env_for(home, sim),
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
    )
    assert "signed in as demo" in status.stdout


def test_login_merges_with_the_earlier_account_of_the_user(home: Path, sim: SimProcess) -> None:
    for _ in range(2):
        login = Login(home, sim)
        browse(login.url)
        assert login.finish()[0] == 0
    conn = store.connect(paths.database_path(home), load_settings(home))
    try:
        rows = conn.execute("SELECT username FROM accounts").fetchall()
    finally:
        conn.close()
    assert [r["username"] for r in rows] == ["demo"]


def test_scopes_are_chosen_with_scope(home: Path, sim: SimProcess) -> None:
    login = Login(home, sim, "--scope", "flattr", "--scope", "extendedread")
    assert login.query["scope"] == "flattr extendedread"
    assert "%20" in login.url  # spaces, as the docs show
    browse(login.url)
    assert login.finish()[0] == 0


def test_denied_consent(home: Path, sim: SimProcess) -> None:
    login = Login(home, sim)
    page = browse(login.url + "&sim_deny=1")
    code, _out, err = login.finish()
    assert code == 1
    assert "You declined access on Flattr" in err and "flattr-host login" in err
    assert "You declined access" in page.text
    assert stored_account(home) is None


def test_wrong_state_is_refused(home: Path, sim: SimProcess) -> None:
    login = Login(home, sim)
    browse(authorize_only(login.url, state="forged-by-someone-else"))
    code, _out, err = login.finish()
    assert code == 1 and "state does not match" in err and "flattr-host login" in err
    assert stored_account(home) is None


def test_reused_code(home: Path, sim: SimProcess) -> None:
    login = Login(home, sim)
    callback = authorize_only(login.url)
    code_value = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback).query))["code"]
    spent = httpx.post(
        f"{sim.base}/oauth/token",
        json={
            "code": code_value,
            "grant_type": "authorization_code",
            "redirect_uri": login.query["redirect_uri"],
        },
        auth=(CLIENT_ID, CLIENT_SECRET),
        trust_env=False,
    )
    assert spent.status_code == 200  # someone else redeemed it first
    browse(callback)
    code, _out, err = login.finish()
    assert code == 1 and "already used" in err and "flattr-host login" in err
    assert stored_account(home) is None


def test_expired_code(home: Path, sim: SimProcess) -> None:
    sim.control.set_app(code_ttl=0)
    login = Login(home, sim)
    browse(login.url)
    code, _out, err = login.finish()
    assert code == 1 and "expired" in err and "flattr-host login" in err


def test_code_for_another_redirect(home: Path, sim: SimProcess) -> None:
    login = Login(home, sim)
    other = "http://127.0.0.1:9/callback"  # a loopback URI the server accepts, not ours
    callback = authorize_only(login.url, redirect_uri=other)
    ours = urllib.parse.urlsplit(login.query["redirect_uri"])
    delivered = urllib.parse.urlsplit(callback)._replace(netloc=ours.netloc).geturl()
    browse(delivered)
    code, _out, err = login.finish()
    assert code == 1 and "redirect address differs" in err and "flattr-host login" in err


def test_unregistered_redirect_ends_with_a_sentence(home: Path, sim: SimProcess) -> None:
    sim.control.set_app(redirect_uri="https://companion.example/callback")
    login = Login(home, sim, "--timeout", "2")
    page = browse(login.url)
    assert page.status_code == 400 and "redirect_uri does not match" in page.text
    code, _out, err = login.finish()
    assert code == 1 and "redirect_uri does not match" in err and "127.0.0.1" in err


def test_wrong_client_secret(home: Path, sim: SimProcess) -> None:
    login = Login(home, sim, FLATTR_CLIENT_SECRET="not-the-secret")
    browse(login.url)
    code, _out, err = login.finish()
    assert code == 1 and "client id and secret" in err and "not-the-secret" not in err


def test_no_app_configured(home: Path, sim: SimProcess) -> None:
    env = env_for(home, sim)
    del env["FLATTR_CLIENT_ID"]
    result = subprocess.run(
        [sys.executable, "-m", "flattr_host", "login", "--no-browser"],
        env=env,
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
    )
    assert result.returncode == 1 and result.stdout == ""
    assert "oauth_client_id" in result.stderr and "/apps/new" in result.stderr


def test_other_paths_on_the_listener_are_ignored(home: Path, sim: SimProcess) -> None:
    login = Login(home, sim)
    port = urllib.parse.urlsplit(login.query["redirect_uri"]).port
    stray = httpx.get(f"http://127.0.0.1:{port}/favicon.ico", trust_env=False)
    assert stray.status_code == 404
    browse(login.url)
    assert login.finish()[0] == 0
