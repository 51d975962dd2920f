"""Scenario 5: a private window (Chromium incognito, Firefox private browsing, with the extension
allowed there) records nothing, not even with real input or music playing; intranet, localhost
and IP-address pages record nothing either. A public page read the same way is the control."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from . import sites
from .companion import Companion, read, wait_until
from .rig import E2E_SETTINGS, Rig, open_rig

PUBLIC_URL = f"http://{sites.BLOG}/posts/attention-is-all"
PRIVATE_URL = f"http://{sites.BLOG}/posts/second-post"
PRIVATE_AUDIO_URL = f"http://{sites.MUSIC}{sites.AUDIO_PATH}"
# Any counted second would leave a row in the host's attention table.
READ_SECONDS = 1.5
GLANCE_SECONDS = 1.0
SETTLE_SECONDS = 0.8


@pytest.fixture(scope="module")
def rig(
    request: pytest.FixtureRequest, browser_name: str, real_extension: Callable[[Path], Path]
) -> Iterator[Rig]:
    with open_rig(request, browser_name, real_extension, settings=E2E_SETTINGS) as rig:
        rig.b.allow_private_browsing()
        yield rig


def attention_urls(rig: Rig) -> set[str]:
    return {row["url"] for row in rig.query("SELECT url FROM attention")}


# The public page's visit (daily visit flattrs keep a site and a time), and nothing else ever.
ONLY_THE_PUBLIC_VISIT = [{"site": "example.org", "n": 1}]


def visits_kept(rig: Rig) -> list[dict[str, object]]:
    return rig.query("SELECT site, COUNT(*) AS n FROM visits GROUP BY site")


@pytest.fixture(scope="module")
def control(rig: Rig, companion: Companion) -> None:
    """A public page read the same way is recorded: what the other tests compare with (a fixture,
    so that each of them can run alone)."""
    page = rig.b.new_tab(PUBLIC_URL)
    read(page, GLANCE_SECONDS)
    page.close()
    wait_until(lambda: PUBLIC_URL in attention_urls(rig), 10, "the public page is recorded")


pytestmark = [pytest.mark.usefixtures("signed_in"), pytest.mark.usefixtures("control")]


def test_a_public_page_records_the_control(rig: Rig) -> None:
    assert attention_urls(rig) == {PUBLIC_URL}
    assert visits_kept(rig) == ONLY_THE_PUBLIC_VISIT


def test_a_private_window_records_nothing(rig: Rig, companion: Companion) -> None:
    radio = rig.b.new_private_tab(PRIVATE_AUDIO_URL)
    page = rig.b.new_private_tab(PRIVATE_URL)
    assert companion.eval("(globalThis.browser ?? chrome).extension.isAllowedIncognitoAccess()")
    read(page, READ_SECONDS)
    state = companion.state(PRIVATE_URL)
    assert state["page"] is None
    assert state["tab"] == {"url": "", "title": "", "incognito": True}
    page.close()
    radio.close()
    time.sleep(SETTLE_SECONDS)
    assert attention_urls(rig) == {PUBLIC_URL}
    assert visits_kept(rig) == ONLY_THE_PUBLIC_VISIT
    assert rig.query("SELECT url FROM flattrs") == []
    assert rig.control.received() == []


def test_intranet_localhost_and_ip_pages_record_nothing(rig: Rig, companion: Companion) -> None:
    assert rig.sites is not None
    port = rig.sites.port
    pages = {
        f"http://{sites.INTRANET}/posts/attention-is-all": "intranet",
        f"http://localhost:{port}/posts/attention-is-all": "localhost",
        f"http://127.0.0.1:{port}/posts/attention-is-all": "ip_address",
    }
    for url, reason in pages.items():
        page = rig.b.new_tab(url)
        read(page, GLANCE_SECONDS)
        decision = companion.state(url)["page"]["decision"]
        assert (decision["counts"], decision["reason"]) == (False, reason), url
        page.close()
    time.sleep(SETTLE_SECONDS)
    assert attention_urls(rig) == {PUBLIC_URL}
    assert visits_kept(rig) == ONLY_THE_PUBLIC_VISIT
