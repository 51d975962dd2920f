"""Every route to a flattr (issue: routes and creators), in a real browser with the real host and
the local Flattr server:

- creators named by `<meta name="flattr:id">` or by an embedded Flattr button get their flattrs
  through auto-submit URLs, and the popup's state says who gets them;
- daily visit flattrs: visits accumulated by actual navigations, processed once the attention day
  changed (the stored visits are moved two days back, the test's injected clock) at the host's
  next start, and delivered as `https://<site>/`.
"""

from __future__ import annotations

import sqlite3
import time
import urllib.parse
from collections import Counter

import pytest

from . import sites
from .companion import Companion, read, wait_until
from .rig import E2E_SETTINGS, Rig

# Short visit rules: a burst is 4 visits, each at least 1 s after the preceding navigation.
VISIT_SETTINGS = {"visit_burst_gap": 1.0, "visit_quiet_after": 0.3}
RIG_OPTIONS = {"settings": {**E2E_SETTINGS, **VISIT_SETTINGS}}
SHORT_READ_SECONDS = 3.6  # past the first threshold (3 s)
NAVIGATION_PAUSE_SECONDS = 1.5  # longer than visit_burst_gap
DELIVERY_SECONDS = 10.0
DAY_SECONDS = 86_400.0
META_PAGE = f"http://{sites.CREATOR}{sites.CREATOR_META_PATH}"
BUTTON_PAGE = f"http://{sites.CREATOR}{sites.CREATOR_BUTTON_PATH}"
NEWS_PAGE = f"http://{sites.NEWS}/today"
BLOG_PAGE = f"http://{sites.BLOG}/posts/attention-is-all"
SPA_USER = "spa-creator"


def auto_submit(page: str, user: str, **extra: str) -> str:
    query = urllib.parse.urlencode({"url": page, "user_id": user, **extra})
    return f"https://flattr.com/submit/auto?{query}"


pytestmark = pytest.mark.usefixtures("signed_in")


def delivered(rig: Rig) -> Counter[str]:
    return Counter(f["url"] for f in rig.control.flattrs())


def wait_delivered(rig: Rig, *urls: str) -> None:
    try:
        wait_until(lambda: all(u in delivered(rig) for u in urls), DELIVERY_SECONDS, "delivery")
    except AssertionError:
        raise AssertionError(
            f"expected {urls}; the local Flattr API has {dict(delivered(rig))}; "
            f"host flattrs: {rig.query('SELECT url, state, reason FROM flattrs')}"
        ) from None


def test_creators_named_by_meta_and_button_get_the_flattrs(rig: Rig, companion: Companion) -> None:
    meta_target = auto_submit(META_PAGE, sites.CREATOR_META_USER)
    button_target = auto_submit(BUTTON_PAGE, sites.CREATOR_BUTTON_USER, category="text")

    page = rig.b.new_tab(META_PAGE)
    state = companion.wait_state(
        lambda s: (s.get("page") or {}).get("creator") is not None, "creator known", META_PAGE
    )
    creator = state["page"]["creator"]
    assert (creator["name"], creator["source"]) == (sites.CREATOR_META_USER, "flattr_meta")
    assert creator["url"] == meta_target
    popup = companion.open_popup()
    popup.wait_for("document.getElementById('page-creator').textContent !== ''")
    text = companion.popup_text(popup, "page-creator")
    popup.close()
    read(page, SHORT_READ_SECONDS)
    page.close()
    wait_delivered(rig, meta_target)

    page = rig.b.new_tab(BUTTON_PAGE)
    read(page, SHORT_READ_SECONDS)
    page.close()
    wait_delivered(rig, meta_target, button_target)
    # The pages themselves were never sent: their creators got the flattrs.
    assert META_PAGE not in delivered(rig) and BUTTON_PAGE not in delivered(rig)
    assert text == f"Goes to {sites.CREATOR_META_USER} on Flattr"


def test_a_creator_declared_without_a_reload_is_seen(rig: Rig, companion: Companion) -> None:
    """A single-page app changes its URL (history.pushState) and its declarations without a new
    load: the content script does not run again, and the background reads the new metadata from
    the content script's world (scripting.executeScript) once the tab has loaded."""
    start = f"http://{sites.CREATOR}/app"
    after = f"http://{sites.CREATOR}/app/next"
    tab = rig.b.new_tab(start)
    tab.wait_loaded(start)
    companion.wait_state(lambda s: s.get("page") is not None, "page status", start)
    assert (companion.state(start)["page"] or {}).get("creator") is None
    tab.eval(
        "(document.head.insertAdjacentHTML('beforeend', "
        f"\"<meta name='flattr:id' content='{SPA_USER}'>\"), "
        "history.pushState(null, '', '/app/next'), true)"
    )
    state = companion.wait_state(
        lambda s: ((s.get("page") or {}).get("creator") or {}).get("name") == SPA_USER,
        "the creator declared after the same-document navigation",
        after,
    )
    assert state["tab"]["url"] == after
    tab.close()


def _travel_two_days(rig: Rig) -> None:
    """The injected clock: every stored visit happened two days earlier, and the day's visit
    check is due again."""
    conn = sqlite3.connect(rig.run.database, timeout=10)
    try:
        with conn:
            conn.execute("UPDATE visits SET at = at - ?", (2 * DAY_SECONDS,))
            conn.execute("DELETE FROM kv WHERE key = 'visits.processed_day'")
    finally:
        conn.close()


def test_daily_visit_flattrs_from_real_navigations(rig: Rig, companion: Companion) -> None:
    tab = rig.b.new_tab(BLOG_PAGE)
    for _ in range(4):
        for url in (NEWS_PAGE, BLOG_PAGE):
            time.sleep(NAVIGATION_PAUSE_SECONDS)
            tab.goto(url)

    def kept() -> dict[str, int]:
        rows = rig.query("SELECT site, COUNT(*) AS n FROM visits GROUP BY site")
        return {r["site"]: r["n"] for r in rows}

    wait_until(
        lambda: kept().get("example.net", 0) >= 4 and kept().get("example.org", 0) >= 4,
        DELIVERY_SECONDS,
        "the host kept the visits",
    )
    tab.close()
    assert "https://example.net/" not in delivered(rig)  # not before the day changed

    _travel_two_days(rig)
    companion.kill_host()
    wait_delivered(rig, "https://example.net/", "https://example.org/")
    reasons = rig.query("SELECT DISTINCT reason FROM flattrs WHERE url LIKE 'https://example.%/'")
    assert reasons == [{"reason": "visits"}]
    left = kept()  # processed visits are deleted (other sites' wait for later days)
    assert "example.net" not in left and "example.org" not in left
    assert delivered(rig)["https://example.net/"] == 1


def test_the_options_switch_turns_visit_flattrs_off_and_on(rig: Rig, companion: Companion) -> None:
    options = rig.b.extension_tab("src/options/options.html")
    options.wait_for("document.getElementById('main').getAttribute('aria-busy') === 'false'")
    options.wait_for("document.getElementById('visit-flattrs').checked === true")
    options.click_element("#visit-flattrs")  # a real click: off
    wait_until(
        lambda: (
            rig.query("SELECT value FROM kv WHERE key = 'visit_flattrs'") == [{"value": "false"}]
        ),
        DELIVERY_SECONDS,
        "the host stored the switch",
    )
    assert rig.query("SELECT COUNT(*) AS n FROM visits") == [{"n": 0}]  # and forgot the visits
    assert companion.state()["visitFlattrs"] is False
    tab = rig.b.new_tab(NEWS_PAGE)
    time.sleep(NAVIGATION_PAUSE_SECONDS)
    assert rig.query("SELECT COUNT(*) AS n FROM visits") == [{"n": 0}]  # nothing recorded
    tab.close()
    options.click_element("#visit-flattrs")  # on again
    options.wait_for("document.getElementById('visit-flattrs').checked === true")
    wait_until(lambda: companion.state()["visitFlattrs"] is True, DELIVERY_SECONDS, "on again")
    options.close()
