"""Tabs open before the extension (re)started — an install, an update or a re-enable — count
without a reload: interaction in a tab that was open across the extension's reload earns what
only real input can earn.

The extension is reloaded the way a user's "Allow in private windows" toggle does it (as an update
or a re-enable would): Chromium then leaves the old content scripts orphaned and runs no new ones
in open tabs, so only the background's injection lets the page's interaction count.
"""

from __future__ import annotations

import pytest

from . import sites
from .companion import Companion, read, wait_until
from .rig import E2E_SETTINGS, Rig

# The second threshold is past the 15 s attention window that selecting the tab opens by itself:
# only input reported by a live content script reaches it.
RIG_OPTIONS = {"settings": {**E2E_SETTINGS, "thresholds": [3, 16]}}
PAGE = f"http://{sites.BLOG}/posts/second-post"
LONG_READ_SECONDS = 17.5
DELIVERY_SECONDS = 10.0


pytestmark = pytest.mark.usefixtures("signed_in")


def test_a_tab_open_before_the_extension_restarted_counts(rig: Rig, companion: Companion) -> None:
    tab = rig.b.new_tab(PAGE)
    rig.b.allow_private_browsing()  # reloads the extension; the tab stays open, not reloaded
    companion.forget_api_page()
    companion.wait_host_ready()

    read(tab, LONG_READ_SECONDS)
    state = companion.state(PAGE)
    tab.close()
    try:
        wait_until(
            lambda: [f["url"] for f in rig.control.flattrs()].count(PAGE) >= 2,
            DELIVERY_SECONDS,
            "both thresholds crossed by input in the tab opened before the reload",
        )
    except AssertionError as exc:
        seconds = rig.query("SELECT url, seconds, crossings FROM attention")
        raise AssertionError(
            f"{exc}; attention: {seconds}; tab state: {state.get('tab')}"
        ) from None
    assert state["tab"].get("reload") is False  # nothing for the user to do
