"""Scenario 6 (and the popup's host-missing state of scenario 7): no host installed → the popup
shows the exact command that fixes it, and installing it is picked up; the host killed in the
middle of a session → the extension reconnects and nothing the host acknowledged is lost."""

from __future__ import annotations

from . import sites
from .companion import Companion, read, wait_until
from .rig import Rig

INSTALL_COMMAND = "pipx install flattr-companion && flattr-host install"
FIRST_URL = f"http://{sites.BLOG}/posts/attention-is-all"
SECOND_URL = f"http://{sites.BLOG}/posts/second-post"
# The extension reconnects 1 s after the host exits (RECONNECT_BASE_MS); an opening popup looks
# for a missing host again at most every 5 s (RETRY_NOW_MIN_MS).
RECONNECT_SECONDS = 10.0
DELIVERY_SECONDS = 10.0


RIG_OPTIONS = {"install_host": False}


def test_popup_shows_the_exact_fix_when_the_host_is_missing(rig: Rig, companion: Companion) -> None:
    state = companion.wait_state(lambda s: s["host"]["state"] == "missing", "host missing")
    assert state["host"]["command"] == INSTALL_COMMAND
    popup = companion.open_popup()
    assert companion.popup_text(popup, "host-title") == "Install the Flattr Companion helper"
    assert companion.popup_text(popup, "host-command") == INSTALL_COMMAND
    companion.screenshot_popup(popup, "host-missing")
    popup.close()
    assert rig.host_pids() == []


def test_installing_the_host_is_picked_up_when_the_popup_opens(
    rig: Rig, companion: Companion
) -> None:
    rig.install_host()
    # Each ui:state is what an opening popup sends; it looks for the host again.
    companion.wait_state(
        lambda s: s["host"]["state"] == "ready", "the host is found", timeout=RECONNECT_SECONDS
    )
    assert len(rig.live_host_pids()) == 1
    popup = companion.open_popup()
    assert popup.eval("document.getElementById('host').hidden") is True
    popup.close()


def test_host_killed_mid_session_reconnects_and_loses_nothing(
    rig: Rig, companion: Companion
) -> None:
    companion.sign_in()
    page = rig.b.new_tab(FIRST_URL)
    read(page, 1.5)
    page.goto(SECOND_URL)  # a navigation sends the first page's attention at once
    wait_until(
        lambda: rig.query("SELECT seconds FROM attention WHERE url = ?", FIRST_URL),
        DELIVERY_SECONDS,
        "the host acknowledged the first page",
    )
    (acknowledged,) = rig.query("SELECT seconds FROM attention WHERE url = ?", FIRST_URL)
    read(page, 1.5)

    old_pid = companion.kill_host()  # mid-session, attention on the second page unsent

    read(page, 2.0)  # 3.5 s on the second page in all: past the first threshold
    page.close()
    wait_until(
        lambda: SECOND_URL in [f["url"] for f in rig.control.flattrs()],
        DELIVERY_SECONDS,
        "the second page is flattred across the host's restart",
    )
    (first,) = rig.query("SELECT seconds FROM attention WHERE url = ?", FIRST_URL)
    assert first["seconds"] >= acknowledged["seconds"]
    (second,) = rig.query("SELECT seconds FROM attention WHERE url = ?", SECOND_URL)
    assert second["seconds"] >= 3.0
    assert f"host started (pid {old_pid}," in rig.host_log()
