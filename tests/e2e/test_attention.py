"""Scenario 3 (and the popup's progress / site-off states of scenario 7): real input on content
sites with public-looking names accumulates attention until the host's thresholds cross, and the
local Flattr API receives the bulk POST with exactly those URLs.

The extension keeps attention alive for 15 s after each interaction (and after a page load), with
no override: so the second threshold is 16 s, which only continued input can reach.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from . import sites
from .companion import Companion, read, wait_until
from .rig import E2E_SETTINGS, Rig

# Longer than the 15 s attention window a page load opens: only input gets past it.
THRESHOLDS = [3, 16]
# An audio page (20 s of continuous sound) uses these: 1 flattr at 22 s, where ordinary
# thresholds would give 2 — so the count tells which rule the host applied.
AUDIO_THRESHOLDS = [4, 30]
SETTINGS = {**E2E_SETTINGS, "thresholds": THRESHOLDS, "audio_thresholds": AUDIO_THRESHOLDS}
BLOG_URL = f"http://{sites.BLOG}/posts/attention-is-all"
AUDIO_URL = f"http://{sites.MUSIC}{sites.AUDIO_PATH}"
NEWS_URL = f"http://{sites.NEWS}/today"
RIG_OPTIONS = {"settings": SETTINGS}
LONG_READ_SECONDS = 17.0  # past the second threshold
SHORT_READ_SECONDS = 3.6  # past the first
# Any counted second leaves a row in the host's attention table: enough to show "nothing".
GLANCE_SECONDS = 1.0
SETTLE_SECONDS = 0.8
AUDIO_PAGE_SECONDS = 20.0  # the extension's AUDIO_PAGE_AFTER_SECONDS
DELIVERY_SECONDS = 10.0


pytestmark = pytest.mark.usefixtures("signed_in")


def delivered(rig: Rig) -> Counter[str]:
    return Counter(f["url"] for f in rig.control.flattrs())


def wait_delivered(rig: Rig, expected: Counter[str], exactly: bool = True) -> None:
    """Wait until the local Flattr API holds `expected` (at least, unless exactly)."""

    def arrived() -> bool:
        have = delivered(rig)
        return have == expected if exactly else not (expected - have)

    try:
        wait_until(arrived, DELIVERY_SECONDS, "delivery")
    except AssertionError:
        rows = rig.query("SELECT url, seconds, audio_seconds, crossings FROM attention")
        raise AssertionError(
            f"expected {dict(expected)}, the local Flattr API has {dict(delivered(rig))};"
            f" bulk requests: {rig.control.received()}; host attention: {rows}"
        ) from None
    if exactly:
        time.sleep(0.5)  # and nothing more arrives
        assert delivered(rig) == expected


def test_reading_with_real_input_earns_flattrs(rig: Rig, companion: Companion) -> None:
    started = time.monotonic()
    # Music plays in a background tab the whole time.
    radio = rig.b.new_tab(AUDIO_URL)
    blog = rig.b.new_tab(BLOG_URL)
    read(blog, LONG_READ_SECONDS)
    blog.close()  # closing a tab sends its attention at once
    wait_delivered(rig, Counter({BLOG_URL: 2}), exactly=False)

    # A creator page declaring its Flattr auto-submit URL is flattred through it.
    creator = rig.b.new_tab(sites.CREATOR_PAGE_URL)
    read(creator, SHORT_READ_SECONDS)
    creator.close()
    wait_delivered(rig, Counter({BLOG_URL: 2, sites.PAYMENT_URL: 1}), exactly=False)

    # The audio tab earned in the background, and as an audio page (audio thresholds).
    wait_until(
        lambda: time.monotonic() - started > AUDIO_PAGE_SECONDS + 1, 30, "the audio page time"
    )
    radio.close()
    wait_delivered(rig, Counter({BLOG_URL: 2, sites.PAYMENT_URL: 1, AUDIO_URL: 1}))
    (row,) = rig.query("SELECT audio_page, audio_seconds FROM attention WHERE url = ?", AUDIO_URL)
    assert row["audio_page"] == 1 and row["audio_seconds"] >= AUDIO_PAGE_SECONDS

    # Each flattr went out in a bulk POST carrying exactly those URLs (a retry may repeat one).
    sent = Counter(u for r in rig.control.received() if r["status"] == 200 for u in r["urls"])
    assert sent == Counter({BLOG_URL: 2, sites.PAYMENT_URL: 1, AUDIO_URL: 1})
    rig.timings["attention_scenario"] = time.monotonic() - started


def test_an_error_page_earns_nothing(rig: Rig, companion: Companion) -> None:
    missing = f"http://{sites.BLOG}{sites.MISSING_PATH}"
    page = rig.b.new_tab(missing)
    read(page, GLANCE_SECONDS)
    page.close()
    time.sleep(SETTLE_SECONDS)
    assert rig.query("SELECT url FROM attention WHERE url = ?", missing) == []
    assert missing not in delivered(rig)


def test_popup_shows_progress_on_the_page(rig: Rig, companion: Companion) -> None:
    news = rig.b.new_tab(NEWS_URL)
    read(news, GLANCE_SECONDS)  # half way to the first threshold
    popup = companion.open_popup()
    progress = popup.eval("document.getElementById('progress').value")
    assert 0 < progress < 1, progress
    assert companion.popup_text(popup, "account-title") == "Signed in as demo"
    companion.screenshot_popup(popup, "signed-in-progress")
    popup.close()
    news.close()


def test_switching_a_site_off_in_the_popup(rig: Rig, companion: Companion) -> None:
    news = rig.b.new_tab(NEWS_URL)
    news.activate()
    popup = companion.open_popup()
    popup.activate()
    assert popup.eval("document.getElementById('site-switch').checked") is True
    popup.click_element("#site-switch")  # real click on the switch
    popup.wait_for("document.getElementById('summary').textContent === 'Off'")
    assert rig.query("SELECT site, setting FROM sites") == [
        {"site": "example.net", "setting": "disabled"}
    ]
    companion.screenshot_popup(popup, "site-off")
    popup.close()
    # Reading there now records nothing (and what was recorded is gone).
    read(news, GLANCE_SECONDS)
    news.close()
    time.sleep(SETTLE_SECONDS)
    assert rig.query("SELECT url FROM attention WHERE site = 'example.net'") == []
    assert NEWS_URL not in delivered(rig)
