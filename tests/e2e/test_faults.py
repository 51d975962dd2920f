"""Scenario 4: the Flattr API fails. 503 twice then success: delivered once. 401: signed out,
the token gone, the flattr kept for the same account. 402: the subscription shows inactive."""

from __future__ import annotations

import pytest

from . import sites
from .companion import Companion, wait_until
from .rig import Rig

PAGE_A = f"http://{sites.BLOG}/posts/attention-is-all"
PAGE_B = f"http://{sites.BLOG}/posts/second-post"
PAGE_C = f"http://{sites.NEWS}/today"
DELIVERY_SECONDS = 10.0


pytestmark = pytest.mark.usefixtures("signed_in")


def bulk_requests(rig: Rig, url: str) -> list[dict[str, object]]:
    return [r for r in rig.control.received() if url in r["urls"]]


def delivered(rig: Rig) -> list[str]:
    return [f["url"] for f in rig.control.flattrs()]


def test_503_twice_then_delivered_once(rig: Rig, companion: Companion) -> None:
    rig.control.set_faults(script=[{"status": 503}, {"status": 503}])
    page = rig.b.new_tab(PAGE_A)
    companion.flattr_now(page)
    wait_until(lambda: PAGE_A in delivered(rig), DELIVERY_SECONDS, "delivered after retries")
    attempts = bulk_requests(rig, PAGE_A)
    assert [r["status"] for r in attempts] == [503, 503, 200]
    assert len({r["idempotency_key"] for r in attempts}) == 1, "one batch, retried"
    assert delivered(rig).count(PAGE_A) == 1
    page.close()


def test_401_signs_out_and_keeps_the_flattr(rig: Rig, companion: Companion) -> None:
    assert rig.sim is not None
    rig.control.revoke(rig.sim.token)
    page = rig.b.new_tab(PAGE_B)
    companion.flattr_now(page)
    wait_until(lambda: bulk_requests(rig, PAGE_B), DELIVERY_SECONDS, "the API answered 401")
    assert [r["status"] for r in bulk_requests(rig, PAGE_B)] == [401]
    state = companion.wait_state(lambda s: s["account"]["signed_in"] is False, "signed out")
    assert state["account"]["signed_out_reason"] == "token_rejected"
    assert rig.stored_tokens() == []
    page.activate()
    popup = companion.open_popup()
    assert companion.popup_text(popup, "account-title") == "Signed out"
    assert companion.popup_text(popup, "sign-in") is not None
    companion.screenshot_popup(popup, "signed-out-401")
    popup.close()
    # The flattr waits for the same account: signing in again (a new token) delivers it.
    assert rig.query("SELECT state FROM flattrs WHERE url = ?", PAGE_B) == [{"state": "pending"}]
    companion.sign_in()
    wait_until(lambda: PAGE_B in delivered(rig), DELIVERY_SECONDS, "delivered after sign-in")
    page.close()


def test_402_shows_the_subscription_inactive(rig: Rig, companion: Companion) -> None:
    rig.control.set_subscription(active=False, legacy_402=True)
    page = rig.b.new_tab(PAGE_C)
    companion.flattr_now(page)
    wait_until(lambda: bulk_requests(rig, PAGE_C), DELIVERY_SECONDS, "the API answered 402")
    assert [r["status"] for r in bulk_requests(rig, PAGE_C)] == [402]
    state = companion.wait_state(
        lambda s: s["account"]["subscription_active"] is False, "subscription inactive"
    )
    assert state["account"]["signed_in"] is True
    page.activate()
    popup = companion.open_popup()
    text = companion.popup_text(popup, "subscription-text") or ""
    assert "not paid out until your subscription is active" in text
    companion.screenshot_popup(popup, "subscription-inactive")
    popup.close()
    page.close()
