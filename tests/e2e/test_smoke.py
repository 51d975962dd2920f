"""The recipe itself, with a stub extension: the browser starts the REAL flattr-host through the
manifest installed in the throwaway profile, and https://flattr.com is the local Flattr server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import sites
from .companion import wait_until
from .hostinstall import CHROMIUM_ID, FIREFOX_ID
from .rig import Rig, open_rig, stub_extension
from .stubext import STATUS_PAGE

STUB_STATE = (
    "(async () => { const api = globalThis.browser ?? globalThis.chrome;"
    " const { stub } = await api.storage.local.get('stub'); return stub ?? null; })()"
)
HELLO_WAIT_SECONDS = 15.0


@pytest.fixture(scope="module")
def rig(request: pytest.FixtureRequest, browser_name: str) -> Iterator[Rig]:
    with open_rig(request, browser_name, stub_extension(browser_name)) as rig:
        yield rig


def test_browser_starts_the_real_host_through_the_installed_manifest(rig: Rig) -> None:
    started = time.monotonic()
    status = rig.b.extension_tab(STATUS_PAGE)
    state = status.wait_for(
        f"(async () => {{ const s = await {STUB_STATE};"
        " return s && (s.hello || s.disconnect) ? s : null; })()",
        timeout=HELLO_WAIT_SECONDS,
        message="the host answers hello",
    )
    rig.timings["hello_after_start"] = (state["helloAt"] - state["started"]) / 1000
    rig.timings["hello_seen"] = time.monotonic() - started
    assert state["disconnect"] is None, f"native port closed: {state['disconnect']}"
    hello = state["hello"]
    assert hello["ok"] is True, hello
    assert hello["result"]["protocol"] == 1
    assert hello["result"]["host_version"]

    # Exactly one host, started by the browser through our launcher, still running (port open).
    (pid,) = rig.host_pids()
    assert pid in rig.live_host_pids()
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    if rig.browser_name == "chromium":
        assert f"chrome-extension://{CHROMIUM_ID}/" in argv, argv
    else:
        assert str(rig.manifest) in argv and FIREFOX_ID in argv, argv
    # The host logged its start into FLATTR_HOST_HOME/logs, with the pid the browser launched
    # (it answers hello first and sets up its log right after).
    wait_until(lambda: f"host started (pid {pid}," in rig.host_log(), 10, "the host's log")
    status.close()


def test_flattr_com_is_the_local_flattr_server_over_tls(rig: Rig) -> None:
    started = time.monotonic()
    page = rig.b.new_tab("https://flattr.com/oauth/ext?auto=0")
    # The content script (match https://flattr.com/*) ran: the real name, the real scheme.
    page.wait_for("document.documentElement.dataset.stubContent === 'ready'")
    rig.timings["flattr_com_page"] = time.monotonic() - started
    assert page.eval("location.href") == "https://flattr.com/oauth/ext?auto=0"
    assert page.eval("window.__flattrSim.username") == "demo"
    assert "connect your browser extension" in page.eval("document.title")
    assert "GET /oauth/ext?auto=0 200" in (rig.sim.log_text() if rig.sim else "")

    status = rig.b.extension_tab(STATUS_PAGE)
    senders = status.wait_for(
        f"(async () => (await {STUB_STATE}).content.map((c) => c.url))()",
        message="the content script's message reaches the background",
    )
    assert senders == ["https://flattr.com/oauth/ext?auto=0"]
    page.close()
    status.close()


def test_content_sites_are_plain_http_and_http_flattr_com_is_not_flattr(rig: Rig) -> None:
    assert rig.sites is not None
    blog = rig.b.new_tab(f"http://{sites.BLOG}/posts/attention-is-all")
    assert blog.eval("location.href") == f"http://{sites.BLOG}/posts/attention-is-all"
    assert blog.eval("document.querySelectorAll('p').length") > sites.PARAGRAPHS

    # http://flattr.com reaches the content server (a hostile page), never the TLS server, and
    # the content script for https://flattr.com/* does not run there.
    fake = rig.b.new_tab("http://flattr.com/oauth/ext")
    assert fake.eval("location.protocol") == "http:"
    fake.wait_for("window.__hostile && window.__hostile.fired >= 2")
    assert fake.eval("document.documentElement.dataset.stubContent ?? null") is None
    assert "/oauth/ext" in [h.path for h in rig.sites.hits("flattr.com")]
    blog.close()
    fake.close()
