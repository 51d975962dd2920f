"""Scenario 2: the flattr.com events fired from anywhere but the top frame of https://flattr.com
plant no token and get no answer. Every page offers Mallory's token (a real one at the local
Flattr server), so a leak would show as a stored token."""

from __future__ import annotations

import time

import pytest

from . import sites
from .companion import Companion, wait_until
from .rig import MALLORY, MALLORY_TOKEN, Rig

# Long enough for a content script, the background and the host to act on an event (a local
# round trip takes a few milliseconds).
SETTLE_SECONDS = 0.6
FIRE_TIMEOUT_SECONDS = 10.0
# The local Flattr server's handshake page, offering Mallory's token.
MALLORY_PAGE = f"/oauth/ext?sim_user={MALLORY}"
# Only the page carrying this marker gets the early events (the preload script stays installed).
EARLY_MARKER = "early=1"


pytestmark = pytest.mark.usefixtures("host_ready")


def assert_no_token(rig: Rig, companion: Companion) -> None:
    time.sleep(SETTLE_SECONDS)
    assert rig.stored_tokens() == []
    account = companion.state()["account"]
    assert account is None or account["signed_in"] is False


@pytest.mark.parametrize(
    "url",
    [f"http://{sites.EVIL}{sites.HOSTILE_PATH}", "http://flattr.com/oauth/ext"],
    ids=["another-site", "http-flattr-com"],
)
def test_events_from_a_hostile_page(rig: Rig, companion: Companion, url: str) -> None:
    page = rig.b.new_tab(url)
    page.wait_for("window.__hostile && window.__hostile.fired >= 2", timeout=FIRE_TIMEOUT_SECONDS)
    assert_no_token(rig, companion)
    assert page.eval("window.__hostile.received") == [], "the extension answered a hostile page"
    page.close()


def test_the_real_handshake_page_on_a_lookalike_domain(rig: Rig, companion: Companion) -> None:
    # https://flattr.com.evil.example is served by the local Flattr server itself: the very
    # handshake page, over TLS, on the wrong origin.
    page = rig.b.new_tab(f"https://{sites.LOOKALIKE}{MALLORY_PAGE}")
    page.eval("(window.__flattrSim.trigger(), window.__flattrSim.sendToken(), true)")
    assert_no_token(rig, companion)
    assert page.eval("window.__flattrSim.received") == []
    assert page.eval("window.__flattrSim.status") == "authenticating"  # it never heard back
    page.close()


def test_a_flattr_com_frame_inside_another_site(rig: Rig, companion: Companion) -> None:
    page = rig.b.new_tab(f"http://{sites.EVIL}{sites.FRAME_PATH}")
    frame = "https://flattr.com/oauth/ext"
    wait_until(
        lambda: page.frame_eval(frame, "document.readyState") == "complete",
        FIRE_TIMEOUT_SECONDS,
        "the flattr.com frame loads",
    )
    page.frame_eval(frame, "(window.__flattrSim.trigger(), window.__flattrSim.sendToken(), true)")
    assert_no_token(rig, companion)
    assert page.frame_eval(frame, "window.__flattrSim.received") == []
    page.close()


def test_events_fired_before_the_content_script_is_ready(rig: Rig, companion: Companion) -> None:
    # On https://flattr.com itself, a page script fires everything at document start, once.
    script = sites.hostile_script(MALLORY_TOKEN, again=False)
    rig.b.add_preload_script(f"if (location.search.includes('{EARLY_MARKER}')) {{ {script} }}")
    page = rig.b.new_tab(f"https://flattr.com{MALLORY_PAGE}&auto=0&{EARLY_MARKER}")
    page.wait_for("window.__hostile && window.__hostile.fired === 1")
    # The content script did start (the page learns of the extension), yet nothing was kept.
    page.wait_for("window.__flattrSim.extension !== null", timeout=FIRE_TIMEOUT_SECONDS)
    assert_no_token(rig, companion)
    page.close()


def test_the_real_page_still_signs_in(rig: Rig, companion: Companion) -> None:
    """The control: the same extension does accept the token where it should."""
    assert rig.sim is not None
    companion.sign_in()
    assert rig.stored_tokens() == [rig.sim.token]
