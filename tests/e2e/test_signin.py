"""Scenario 1: sign in through the extension's Sign-in; the handshake on https://flattr.com (the
local Flattr server over TLS) hands the token to the real host; the tab closes, the window stays."""

from __future__ import annotations

import json

import pytest

from .companion import API, SIGN_IN_URL, Companion, close_if_open, is_sign_in_page, wait_until
from .rig import Rig

# The same handshake page at another path: a flattr.com page that is not the sign-in page.
OTHER_FLATTR_PAGE = "https://flattr.com/oauth/ext/"
SETTLE_SECONDS = 10.0


def test_popup_shows_signed_out_with_a_sign_in_button(rig: Rig, companion: Companion) -> None:
    companion.wait_host_ready()
    popup = companion.open_popup()
    assert companion.popup_text(popup, "account-title") == "Signed out"
    assert companion.popup_text(popup, "sign-in") == "Sign in at flattr.com"
    companion.screenshot_popup(popup, "signed-out")
    popup.close()


def test_sign_in_button_stores_the_token_and_closes_the_tab(rig: Rig, companion: Companion) -> None:
    assert rig.sim is not None
    windows_before = [w["id"] for w in companion.normal_windows()]
    popup = companion.open_popup()
    popup.activate()
    popup.click_element("#sign-in")  # a real click on the popup's button
    companion.wait_signed_in()
    (account,) = rig.accounts()
    assert account["token"] == rig.sim.token
    assert "GET /oauth/ext 200" in rig.sim.log_text()
    # The host verified the token with the API and learnt who it belongs to.
    wait_until(lambda: rig.accounts()[0]["username"] == "demo", SETTLE_SECONDS, "username")
    # The sign-in tab is gone, every window stayed.
    assert [w["id"] for w in companion.normal_windows()] == windows_before
    assert not any(is_sign_in_page(url) for url in rig.b.top_level_urls())
    state = companion.wait_state(lambda s: s["account"]["signed_in"] is True, "signed in")
    assert state["account"]["subscription_active"] is True
    # The popup calls window.close() after Sign-in; a browser may refuse that for a tab.
    close_if_open(popup)


def test_the_status_kept_for_the_popup_says_signed_in_and_holds_no_token(
    rig: Rig, companion: Companion
) -> None:
    """What an opening popup paints first (storage.session `lastStatus`) follows the host, and
    nothing the extension keeps there carries the token."""
    assert rig.sim is not None
    read = f"{API}.storage.session.get('lastStatus').then((s) => s.lastStatus ?? null)"

    def kept() -> dict[str, object] | None:
        value = companion.eval(read)
        account = value and value.get("account")
        return value if account and account.get("username") == "demo" else None

    status = wait_until(kept, SETTLE_SECONDS, "the last status kept says signed in")
    assert set(status) == {"host", "account", "queue", "flattrsToday"}
    assert status["host"]["state"] == "ready"
    everything = companion.eval(f"{API}.storage.session.get(null).then((s) => JSON.stringify(s))")
    assert rig.sim.token not in everything


def test_the_window_stays_when_the_sign_in_tab_was_its_last(rig: Rig, companion: Companion) -> None:
    companion.sign_out()
    # A window holding nothing but the sign-in page.
    window_id = companion.eval(
        f"{API}.windows.create({{url: {json.dumps(SIGN_IN_URL)}}}).then((w) => w.id)"
    )
    companion.wait_signed_in()
    windows = {w["id"]: w for w in companion.normal_windows()}
    assert window_id in windows, "the sign-in tab's window was closed with it"
    (tab_url,) = windows[window_id]["tabs"]
    assert not is_sign_in_page(tab_url or "")
    companion.eval(f"{API}.windows.remove({window_id}).then(() => true)")


@pytest.mark.parametrize(
    ("query", "sends_subscription"),
    [("", True), ("?variant=no-subscription", False)],
    ids=["with-subscription", "without-subscription-field"],
)
def test_another_flattr_page_hears_authenticated(
    rig: Rig, companion: Companion, query: str, sends_subscription: bool
) -> None:
    assert rig.sim is not None
    companion.sign_out()
    page = rig.b.new_tab(OTHER_FLATTR_PAGE + query)
    page.wait_for("window.__flattrSim.authenticated === true", timeout=SETTLE_SECONDS)
    received = page.eval("window.__flattrSim.received.map((e) => [e.type, e.detail])")
    assert ["flattr-authenticated", {"authenticated": True}] in received
    names = [e[0] for e in received]
    # The page learns of the extension from flattr-installed or, when the content script was
    # quicker than the page's own script, from the sessionStorage marker (docs/handshake.md).
    expected = ["flattr-installed", "flattr-authenticate"]
    assert names[:2] == expected or names[0] == "flattr-authenticate", names
    (token_event,) = page.eval("window.__flattrSim.sent.filter((e) => e.type === 'flattr-token')")
    assert ("subscription" in token_event["detail"]) is sends_subscription
    assert rig.stored_tokens() == [rig.sim.token]
    # Not the sign-in page: the extension leaves the tab alone.
    assert page.url == OTHER_FLATTR_PAGE + query
    page.close()
