"""The local Flattr server, tested as a real process over real sockets.

The bulk endpoint's behaviour (Bearer required, array of {"url"}, no element de-duplication, the
success body) is our assumption (docs/flattr-api.md#what-the-local-server-assumes), not Flattr's.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from flattr_sim import SimProcess

BULK = "/rest/v2/flattr/bulk"
RATE_HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Current",
    "X-RateLimit-Reset",
)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimProcess]:
    with SimProcess() as proc:
        yield proc
    assert proc.returncode == 0, "SIGTERM must stop the server cleanly"


pytestmark = pytest.mark.usefixtures("users_sim")  # each test starts with no users


@pytest.fixture
def http(sim: SimProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base, trust_env=False, timeout=5) as client:
        yield client


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def bulk(http: httpx.Client, token: str | None, items: Any, **headers: str) -> httpx.Response:
    hdrs = dict(headers)
    if token is not None:
        hdrs.update(auth(token))
    return http.post(BULK, json=items, headers=hdrs)


def auto_submit(url: str, user_id: str = "owner1", **extra: str) -> str:
    return "https://flattr.com/submit/auto?" + urllib.parse.urlencode(
        {"url": url, "user_id": user_id, **extra}
    )


# --- bulk: happy path, auth, validation -----------------------------------------------------


def test_bulk_records_every_element(sim: SimProcess, http: httpx.Client) -> None:
    items = [
        {"url": "https://a.example/1"},
        {"url": "https://a.example/1"},
        {"url": "http://b.example/"},
    ]
    response = bulk(http, sim.token, items)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json;charset=utf-8"
    assert response.json() == {
        "status": "success",
        "subscription": {"active": True},
        "sandboxed": False,
    }
    flattrs = sim.control.flattrs()
    assert [f["url"] for f in flattrs] == [i["url"] for i in items]  # no de-duplication
    assert {f["username"] for f in flattrs} == {"demo"}
    [received] = sim.control.received()
    assert received["status"] == 200 and received["token_ok"] and not received["duplicate"]
    assert received["urls"] == [i["url"] for i in items]
    assert sim.token not in json.dumps(received)


def test_delivered_bulk_flattrs_are_the_users_flattrs(sim: SimProcess, http: httpx.Client) -> None:
    """As on flattr.com, GET /user/flattrs lists every delivered bulk element, each on the thing its
    URL names (created for a plain or auto-submit URL); a refused request adds none."""
    plain, submit = "https://a.example/1", auto_submit("https://blog.example/post", "owner1")
    items = [{"url": plain}, {"url": plain}, {"url": submit}]
    assert bulk(http, sim.token, items).status_code == 200
    sim.control.set_faults(reject_urls=["https://refused.example/"])
    assert bulk(http, sim.token, [{"url": "https://refused.example/"}]).status_code == 400
    mine = http.get("/rest/v2/user/flattrs", headers=auth(sim.token)).json()
    assert sorted(f["thing"]["url"] for f in mine) == [plain, plain, "https://blog.example/post"]
    assert all(f["owner"]["username"] == sim.username for f in mine)
    found = http.get("/rest/v2/things/lookup", params={"url": plain})
    assert found.json()["message"] == "found"
    thing = http.get(found.json()["location"]).json()
    assert thing["flattrs"] == 2


def test_an_unclaimed_thing_goes_to_the_first_auto_submit_url_that_names_an_owner(
    sim: SimProcess, http: httpx.Client
) -> None:
    """A plain URL flattred in bulk makes an unclaimed thing; a creator's auto-submit URL for the
    same page later claims it instead of failing with "Owner mismatch"; a second owner still
    does."""
    page = "https://claim.example/post"
    assert bulk(http, sim.token, [{"url": page}]).status_code == 200
    assert bulk(http, sim.token, [{"url": auto_submit(page, "owner1")}]).status_code == 200
    found = http.get("/rest/v2/things/lookup", params={"url": page}).json()
    thing = http.get(found["location"]).json()
    assert thing["owner"]["username"] == "owner1" and thing["flattrs"] == 2
    assert bulk(http, sim.token, [{"url": auto_submit(page, "owner2")}]).status_code == 200
    assert http.get(found["location"]).json()["flattrs"] == 2  # not filed under owner1's thing


def test_empty_batch_is_fine(sim: SimProcess, http: httpx.Client) -> None:
    assert bulk(http, sim.token, []).status_code == 200
    assert sim.control.flattrs() == []


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_bulk_needs_a_valid_token(sim: SimProcess, http: httpx.Client, token: str | None) -> None:
    response = bulk(http, token, [{"url": "https://a.example/"}])
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert set(response.json()) >= {"error", "error_description", "error_uri"}
    assert sim.control.flattrs() == []
    assert sim.control.received()[0]["token_ok"] is False


def test_revoked_token_gets_401(sim: SimProcess, http: httpx.Client) -> None:
    sim.control.add_user("alice", "alice-1")
    sim.control.add_user("alice", "alice-2")
    assert bulk(http, "alice-1", [{"url": "https://a.example/"}]).status_code == 200
    assert sim.control.revoke("alice-1") == 1
    assert bulk(http, "alice-1", [{"url": "https://a.example/"}]).status_code == 401
    assert bulk(http, "alice-2", [{"url": "https://a.example/"}]).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b'{"url": "https://a.example/"}',  # an object, not an array
        b'[{"url": "https://a.example/"}, {"title": "no url"}]',
        b'[{"url": 5}]',
        b'["https://a.example/"]',
        b"[{not json",
    ],
)
def test_bulk_rejects_bad_bodies(sim: SimProcess, http: httpx.Client, body: bytes) -> None:
    headers = {**auth(sim.token), "Content-Type": "application/json"}
    response = http.post(BULK, content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"] in ("invalid_parameters", "invalid_request")
    assert sim.control.flattrs() == []


# --- bulk: fault script ---------------------------------------------------------------------


def test_fault_statuses_are_consumed_in_order(sim: SimProcess, http: httpx.Client) -> None:
    statuses = [503, 408, 409, 500, 502, 504, 525, 599, 429, 402]
    sim.control.set_faults(script=[{"status": s} for s in statuses])
    seen = [
        bulk(http, sim.token, [{"url": "https://a.example/"}]) for _ in range(len(statuses) + 1)
    ]
    assert [r.status_code for r in seen] == [*statuses, 200]
    assert all("error" in r.json() and "error_uri" in r.json() for r in seen[:-1])
    assert [r["status"] for r in sim.control.received()] == [*statuses, 200]
    assert len(sim.control.flattrs()) == 1  # only the request handled normally counted


def test_fault_retry_after_and_body_override(sim: SimProcess, http: httpx.Client) -> None:
    sim.control.set_faults(
        script=[{"status": 503, "retry_after": 7}, {"status": 500, "body": {"custom": True}}]
    )
    first = bulk(http, sim.token, [{"url": "https://a.example/"}])
    assert first.status_code == 503 and first.headers["Retry-After"] == "7"
    second = bulk(http, sim.token, [{"url": "https://a.example/"}])
    assert second.status_code == 500 and second.json() == {"custom": True}
    assert "Retry-After" not in second.headers


def test_fault_answers_carry_the_rate_limit_window(sim: SimProcess, http: httpx.Client) -> None:
    # The real API sends X-RateLimit-* with every answer of a rate-limited resource (§4).
    sim.control.set_rate_limit(limit=1000, remaining=999, reset_in=3600)
    sim.control.set_faults(
        script=[{"status": 429, "retry_after": 2}, {"status": 503, "accept": True}]
    )
    first = bulk(http, sim.token, [{"url": "https://a.example/"}])
    assert first.status_code == 429 and first.headers["Retry-After"] == "2"
    assert first.headers["X-RateLimit-Remaining"] == "999"
    assert int(first.headers["X-RateLimit-Reset"]) >= time.time() + 3500
    second = bulk(http, sim.token, [{"url": "https://a.example/"}])
    assert second.status_code == 503 and second.headers["X-RateLimit-Remaining"] == "998"


def test_fault_drop_closes_without_answer(sim: SimProcess, http: httpx.Client) -> None:
    sim.control.set_faults(script=[{"drop": True}])
    with pytest.raises(httpx.TransportError):
        bulk(http, sim.token, [{"url": "https://a.example/"}])
    # The next request (new connection) is handled normally.
    assert bulk(http, sim.token, [{"url": "https://b.example/"}]).status_code == 200
    received = sim.control.received()
    assert [r["status"] for r in received] == [0, 200]
    assert received[0]["urls"] == ["https://a.example/"] and not received[0]["accepted"]
    assert [f["url"] for f in sim.control.flattrs()] == ["https://b.example/"]


def test_fault_delay_then_normal(sim: SimProcess, http: httpx.Client) -> None:
    sim.control.set_faults(script=[{"delay": 0.4}, {"delay": 0.2, "status": 504}])
    started = time.monotonic()
    assert bulk(http, sim.token, [{"url": "https://a.example/"}]).status_code == 200
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    assert bulk(http, sim.token, [{"url": "https://a.example/"}]).status_code == 504
    assert time.monotonic() - started >= 0.2


def test_fault_accept_then_drop_records_items(sim: SimProcess, http: httpx.Client) -> None:
    sim.control.set_faults(script=[{"drop": True, "accept": True}])
    with pytest.raises(httpx.TransportError):
        bulk(http, sim.token, [{"url": "https://a.example/"}])
    assert [f["url"] for f in sim.control.flattrs()] == ["https://a.example/"]
    assert sim.control.received()[0]["accepted"] is True


def test_bad_fault_step_is_refused(sim: SimProcess) -> None:
    with pytest.raises(RuntimeError, match="bad fault step"):
        sim.control.set_faults(script=[{"statuss": 503}])


def test_reject_urls_refuses_the_whole_request(sim: SimProcess, http: httpx.Client) -> None:
    bad = "https://bad.example/"
    sim.control.set_faults(reject_urls=[bad])
    items = [{"url": "https://ok.example/"}, {"url": bad}, {"url": bad}]
    response = bulk(http, sim.token, items)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_parameters"
    assert response.json()["invalid_urls"] == [bad]
    assert sim.control.flattrs() == []
    # Split off, the good URL goes through.
    assert bulk(http, sim.token, [{"url": "https://ok.example/"}]).status_code == 200
    assert [f["url"] for f in sim.control.flattrs()] == ["https://ok.example/"]


# --- bulk: idempotency, subscription --------------------------------------------------------


def test_dedupe_by_idempotency_key(sim: SimProcess, http: httpx.Client) -> None:
    sim.control.add_user("bob", "bob-token")
    sim.control.set_faults(dedupe=True)
    items = [{"url": "https://a.example/"}, {"url": "https://a.example/"}]
    first = bulk(http, sim.token, items, **{"Idempotency-Key": "k1"})
    second = bulk(http, sim.token, items, **{"Idempotency-Key": "k1"})
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    other_key = bulk(http, sim.token, items, **{"Idempotency-Key": "k2"})
    other_user = bulk(http, "bob-token", items, **{"Idempotency-Key": "k1"})
    assert other_key.status_code == other_user.status_code == 200
    received = sim.control.received()
    assert [r["duplicate"] for r in received] == [False, True, False, False]
    assert received[1]["idempotency_key"] == "k1"
    flattrs = sim.control.flattrs()
    assert len(flattrs) == 6  # k1 once (2 items), k2 (2), bob's k1 (2)
    assert [f["idempotency_key"] for f in flattrs[:2]] == ["k1", "k1"]


def test_without_dedupe_the_key_is_ignored(sim: SimProcess, http: httpx.Client) -> None:
    for _ in range(2):
        bulk(http, sim.token, [{"url": "https://a.example/"}], **{"Idempotency-Key": "same"})
    assert len(sim.control.flattrs()) == 2


def test_dedupe_after_lost_answer(sim: SimProcess, http: httpx.Client) -> None:
    sim.control.set_faults(script=[{"status": 504, "accept": True}], dedupe=True)
    items = [{"url": "https://a.example/"}]
    assert bulk(http, sim.token, items, **{"Idempotency-Key": "retry-me"}).status_code == 504
    assert bulk(http, sim.token, items, **{"Idempotency-Key": "retry-me"}).status_code == 200
    assert len(sim.control.flattrs()) == 1


def test_inactive_subscription_and_legacy_402(sim: SimProcess, http: httpx.Client) -> None:
    sim.control.set_subscription(active=False)
    response = bulk(http, sim.token, [{"url": "https://a.example/"}])
    assert response.status_code == 200
    assert response.json() == {
        "status": "success",
        "subscription": {"active": False},
        "sandboxed": True,
    }
    assert len(sim.control.flattrs()) == 1  # recorded, not paid
    sim.control.set_subscription(legacy_402=True)
    assert bulk(http, sim.token, [{"url": "https://b.example/"}]).status_code == 402
    assert len(sim.control.flattrs()) == 1
    sim.control.set_subscription(active=True)
    assert bulk(http, sim.token, [{"url": "https://c.example/"}]).status_code == 200


# --- rate limiting --------------------------------------------------------------------------


def test_rate_limit_headers_and_exhaustion(sim: SimProcess, http: httpx.Client) -> None:
    first = bulk(http, sim.token, [{"url": "https://a.example/"}])
    assert all(name in first.headers for name in RATE_HEADERS)
    assert first.headers["X-RateLimit-Limit"] == "1000"
    assert first.headers["X-RateLimit-Remaining"] == "999"
    assert first.headers["X-RateLimit-Current"] == "1"

    sim.control.set_rate_limit(limit=5, remaining=1, reset_in=30)
    now = time.time()
    last = http.get("/rest/v2/user", headers=auth(sim.token))
    assert last.status_code == 200 and last.headers["X-RateLimit-Remaining"] == "0"
    refused = bulk(http, sim.token, [{"url": "https://a.example/"}])
    assert refused.status_code == 403
    assert refused.json()["error"] == "rate_limit_exceeded"
    reset = int(refused.headers["X-RateLimit-Reset"])
    assert now + 25 <= reset <= now + 35
    assert len(sim.control.flattrs()) == 1

    # /rate_limit itself is not limited and carries no X-RateLimit headers.
    info = http.get("/rest/v2/rate_limit", headers=auth(sim.token))
    assert info.status_code == 200
    assert not any(name in info.headers for name in RATE_HEADERS)
    body = info.json()
    assert body["hourly_limit"] == 5 and body["remaining_hits"] == 0 and body["current_hits"] == 5
    assert body["reset_time_in_seconds"] == reset
    assert body["reset_time"].endswith("+0000 GMT")


def test_rate_limit_window_resets(sim: SimProcess, http: httpx.Client) -> None:
    sim.control.set_rate_limit(limit=3, remaining=0, reset_in=0.3)
    assert http.get("/rest/v2/user", headers=auth(sim.token)).status_code == 403
    time.sleep(0.4)
    again = http.get("/rest/v2/user", headers=auth(sim.token))
    assert again.status_code == 200 and again.headers["X-RateLimit-Remaining"] == "2"


# --- the rest of /rest/v2 -------------------------------------------------------------------


def test_hello_and_user(sim: SimProcess, http: httpx.Client) -> None:
    assert http.get("/rest/v2").json() == {"message": "hello_world"}
    me = http.get("/rest/v2/user", headers=auth(sim.token))
    assert me.status_code == 200 and me.json()["username"] == "demo"
    sim.control.add_user("carol", "carol-token")
    assert http.get("/rest/v2/user", headers=auth("carol-token")).json()["username"] == "carol"
    assert http.get("/rest/v2/user").status_code == 401
    public = http.get("/rest/v2/users/carol").json()
    assert public["username"] == "carol" and "email" not in public
    missing = http.get("/rest/v2/users/nobody")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def test_flattr_auto_submit_creates_thing_once(sim: SimProcess, http: httpx.Client) -> None:
    url = auto_submit("https://blog.example/post", title="A post")
    lookup_before = http.get("/rest/v2/things/lookup/", params={"url": url})
    assert lookup_before.status_code == 200 and lookup_before.json()["message"] == "flattrable"

    first = http.post("/rest/v2/flattr", json={"url": url}, headers=auth(sim.token))
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["message"] == "ok" and body["thing"]["url"] == "https://blog.example/post"
    assert body["thing"]["owner"]["username"] == "owner1"
    thing_id = body["thing"]["id"]

    again = http.post("/rest/v2/flattr", json={"url": url}, headers=auth(sim.token))
    assert again.status_code == 403 and again.json()["error"] == "flattr_once"

    # The plain URL is now a thing: lookup answers 302 plus a body, without and with the slash.
    for path in ("/rest/v2/things/lookup", "/rest/v2/things/lookup/"):
        hit = http.get(path, params={"url": "https://blog.example/post"})
        assert hit.status_code == 302
        assert hit.headers["Location"].endswith(f"/rest/v2/things/{thing_id}")
        assert hit.json()["message"] == "found"
    thing = http.get(f"/rest/v2/things/{thing_id}", headers=auth(sim.token)).json()
    assert thing["flattrs"] == 1 and thing["flattred"] is True and thing["title"] == "A post"

    mismatch = http.get(
        "/rest/v2/things/lookup", params={"url": auto_submit("https://blog.example/post", "x")}
    )
    assert mismatch.status_code == 400 and mismatch.json()["error"] == "validation"
    assert [f["source"] for f in sim.control.flattrs()] == ["api"]


def test_flattr_owner_and_no_means(sim: SimProcess, http: httpx.Client) -> None:
    own = http.post(
        "/rest/v2/flattr",
        json={"url": auto_submit("https://mine.example/", "demo")},
        headers=auth(sim.token),
    )
    assert own.status_code == 403 and own.json()["error"] == "flattr_owner"
    sim.control.add_user("poor", "poor-token", means=0)
    broke = http.post(
        "/rest/v2/flattr",
        data={"url": auto_submit("https://x.example/")},
        headers=auth("poor-token"),
    )
    assert broke.status_code == 401 and broke.json()["error"] == "no_means"
    unknown = http.post(
        "/rest/v2/flattr", json={"url": "https://unknown.example/"}, headers=auth(sim.token)
    )
    assert unknown.status_code == 404


def test_lookup_miss_and_thing_lists(sim: SimProcess, http: httpx.Client) -> None:
    miss = http.get("/rest/v2/things/lookup", params={"url": "https://nothing.example/"})
    assert miss.status_code == 404
    assert miss.json() == {"message": "not_found", "description": "No thing was found"}
    ids = []
    for name in ("one", "two"):
        reply = http.post(
            "/rest/v2/flattr",
            json={"url": auto_submit(f"https://{name}.example/")},
            headers=auth(sim.token),
        )
        ids.append(reply.json()["thing"]["id"])
    both = http.get(f"/rest/v2/things/{ids[0]},{ids[1]}")
    assert both.status_code == 200 and [t["id"] for t in both.json()] == ids
    assert http.get(f"/rest/v2/things/{ids[0]}%2C{ids[1]}").status_code == 404
    assert http.get("/rest/v2/things/999").status_code == 404


def test_unknown_format_is_406(http: httpx.Client) -> None:
    assert http.get("/rest/v2/rate_limit.json").status_code == 200
    assert http.get("/rest/v2/users/demo.xml").status_code == 406
    assert http.get("/rest/v2/users/demo", headers={"Accept": "text/xml"}).status_code == 406


# --- flattr.com: OAuth and the handshake page -----------------------------------------------


def _authorize(http: httpx.Client, **params: str) -> httpx.Response:
    query = {"response_type": "code", "client_id": "app1", "scope": "flattr thing", **params}
    return http.get("/oauth/authorize", params=query)


def test_oauth_code_flow_single_use(sim: SimProcess, http: httpx.Client) -> None:
    redirect = "http://localhost:9999/cb"
    sim.control.set_app(client_id="app1", client_secret="s3cret", redirect_uri=redirect)
    assert http.get("/oauth/authorize", params={"response_type": "code"}).status_code == 400
    assert _authorize(http, redirect_uri="http://evil.example/").status_code == 400

    granted = _authorize(http, redirect_uri=redirect, state="xyz")
    assert granted.status_code == 302
    location = urllib.parse.urlsplit(granted.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect
    query = urllib.parse.parse_qs(location.query)
    assert "state" not in query  # the real server did not echo state
    code = query["code"][0]

    basic = base64.b64encode(b"app1:s3cret").decode()
    token_body = {"code": code, "grant_type": "authorization_code", "redirect_uri": redirect}
    wrong_secret = http.post(
        "/oauth/token",
        json=token_body,
        headers={"Authorization": "Basic " + base64.b64encode(b"app1:nope").decode()},
    )
    assert wrong_secret.status_code == 401 and wrong_secret.json()["error"] == "invalid_client"

    ok = http.post("/oauth/token", json=token_body, headers={"Authorization": f"Basic {basic}"})
    assert ok.status_code == 200
    assert ok.json()["token_type"] == "bearer"
    assert ok.headers["Cache-Control"] == "no-store" and ok.headers["Pragma"] == "no-cache"
    assert ok.headers["Expires"] == "Thu, 19 Nov 1981 08:52:00 GMT"
    token = ok.json()["access_token"]
    assert http.get("/rest/v2/user", headers=auth(token)).json()["username"] == "demo"

    reused = http.post("/oauth/token", json=token_body, headers={"Authorization": f"Basic {basic}"})
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"

    # Credentials in a form body, redirect_uri omitted.
    code2 = urllib.parse.parse_qs(
        urllib.parse.urlsplit(_authorize(http).headers["Location"]).query
    )["code"][0]
    form = {
        "code": code2,
        "grant_type": "authorization_code",
        "client_id": "app1",
        "client_secret": "s3cret",
    }
    assert http.post("/oauth/token", data=form).status_code == 200

    denied = _authorize(http, sim_deny="1")
    assert "error=access_denied" in denied.headers["Location"]
    bad_scope = _authorize(http, scope="flattr,fly")
    assert bad_scope.status_code == 403 and bad_scope.json()["error"] == "invalid_scope"


def test_ext_page_hands_out_the_demo_token(sim: SimProcess, http: httpx.Client) -> None:
    page = http.get("/oauth/ext")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    for name in (
        "flattr-installed",
        "flattr-trigger",
        "flattr-authenticate",
        "flattr-token",
        "flattr-authenticated",
        "flattr-subscription",
        "__flattrSim",
        'id="status"',
        "waiting for extension",
    ):
        assert name in html
    assert sim.token in html
    assert page.headers["Cache-Control"] == "no-store"
    config = json.loads(html.split('id="sim-config">')[1].split("</script>")[0])
    assert config["accessToken"] == sim.token and config["sendSubscription"] is True
    variant = http.get("/oauth/ext", params={"variant": "no-subscription"}).text
    assert (
        json.loads(variant.split('id="sim-config">')[1].split("</script>")[0])["sendSubscription"]
        is False
    )

    # Nowhere else: not in API or control answers, not in the server's log.
    bulk(http, sim.token, [{"url": "https://a.example/"}])
    http.get("/rest/v2/user", params={"access_token": sim.token})
    others = [
        http.get("/rest/v2/user", headers=auth(sim.token)).text,
        http.get("/_sim/received").text,
        http.get("/_sim/flattrs").text,
        http.get("/rest/v2/rate_limit", headers=auth(sim.token)).text,
    ]
    assert not any(sim.token in text for text in others)
    assert "/oauth/ext" in sim.log_text() and sim.token not in sim.log_text()


def test_ext_page_reissues_after_revocation(sim: SimProcess, http: httpx.Client) -> None:
    sim.control.revoke(sim.token)
    html = http.get("/oauth/ext").text
    token = json.loads(html.split('id="sim-config">')[1].split("</script>")[0])["accessToken"]
    assert token != sim.token
    assert http.get("/rest/v2/user", headers=auth(token)).json()["username"] == "demo"


def test_submit_auto_page(http: httpx.Client) -> None:
    page = http.get("/submit/auto", params={"url": "https://x.example/", "user_id": "someone"})
    assert page.status_code == 200 and "https://x.example/" in page.text


# --- process level: TLS, ready file, refusing non-loopback ----------------------------------


def test_tls_with_printed_ca(tmp_path: Path) -> None:
    ready_file = tmp_path / "ready.json"
    options = ["--dedupe", "--username", "tls-user"]  # raw options are accepted too
    with SimProcess(
        options, tls=True, state_dir=tmp_path / "state", ready_file=ready_file
    ) as tls_sim:
        assert tls_sim.username == "tls-user" and tls_sim.control.faults()["dedupe_effective"]
        assert tls_sim.base.startswith("https://127.0.0.1:")
        assert tls_sim.ca == str(tmp_path / "state" / "ca.pem") and Path(tls_sim.ca).is_file()
        written = json.loads(ready_file.read_text())
        assert written["base"] == tls_sim.base and written["pid"] == tls_sim.pid
        with httpx.Client(verify=tls_sim.ssl_context(), trust_env=False) as client:
            response = client.post(
                tls_sim.url(BULK), json=[{"url": "https://a.example/"}], headers=auth(tls_sim.token)
            )
            assert response.status_code == 200
            # Routing ignores Host: Firefox sends flattr.com and api.flattr.com to one port.
            page = client.get(tls_sim.url("/oauth/ext"), headers={"Host": "flattr.com"})
            assert tls_sim.token in page.text
        with httpx.Client(trust_env=False) as unverified, pytest.raises(httpx.ConnectError):
            unverified.get(tls_sim.url("/_sim/health"))
        assert tls_sim.control.flattrs()[0]["url"] == "https://a.example/"
    assert tls_sim.returncode == 0


def test_refuses_non_loopback_host() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flattr_sim", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert result.returncode == 2
    assert "loopback" in result.stderr and result.stdout == ""


# --- every documented endpoint: formats, redirects, partners ----------------------------------


def test_authorize_accepts_any_loopback_port_rfc8252(sim: SimProcess, http: httpx.Client) -> None:
    sim.control.set_app(
        client_id="app1", client_secret="s3cret", redirect_uri="http://127.0.0.1/cb"
    )
    for accepted in ("http://127.0.0.1:53124/cb", "http://[::1]:80/cb", "http://localhost:9/cb"):
        answer = _authorize(http, redirect_uri=accepted)
        assert answer.status_code == 302, accepted
        assert answer.headers["Location"].startswith(accepted + "?code=")
    for refused in (
        "http://127.0.0.1:53124/other",  # another path
        "https://127.0.0.1:53124/cb",  # another scheme
        "http://evil.example:53124/cb",  # not loopback
        "http://127.0.0.1:notaport/cb",
    ):
        assert _authorize(http, redirect_uri=refused).status_code == 400, refused
    # A registered non-loopback URI is matched exactly.
    sim.control.set_app(redirect_uri="https://app.example/cb")
    assert _authorize(http, redirect_uri="https://app.example:8443/cb").status_code == 400
    assert _authorize(http, redirect_uri="https://app.example/cb").status_code == 302


def test_activity_streams_and_formats(sim: SimProcess, http: httpx.Client) -> None:
    as_suffix = http.get("/rest/v2/users/demo/activities.as")
    assert as_suffix.status_code == 200 and as_suffix.json() == {"items": []}
    assert as_suffix.headers["content-type"].startswith("application/stream+json")
    negotiated = http.get(
        "/rest/v2/users/demo/activities", headers={"Accept": "application/stream+json"}
    )
    assert negotiated.status_code == 200
    assert http.get("/rest/v2/users/demo/activities.atom").status_code == 406
    assert http.get("/rest/v2/categories.as").status_code == 406  # only activities stream
    assert (
        http.get("/rest/v2/things/lookup/", params={"url": "https://x.example/"}).status_code == 404
    )


def test_control_validates_partners_things_and_fault_endpoints(sim: SimProcess) -> None:
    with pytest.raises(RuntimeError, match="webhook_url"):
        sim.control.add_partner("p", ["partner:p"], webhook_url="http://hooks.example/x")
    with pytest.raises(RuntimeError, match="endpoint"):
        sim.control.set_faults(script=[{"status": 500, "endpoint": "categories"}])
    thing = sim.control.add_thing("https://t.example/", "demo", title="T")
    with pytest.raises(RuntimeError, match="already a thing"):
        sim.control.add_thing("https://t.example/", "demo")
    assert [t["id"] for t in sim.control.things()] == [thing]


def test_fault_steps_without_endpoint_stay_on_the_bulk_endpoint(
    sim: SimProcess, http: httpx.Client
) -> None:
    sim.control.set_faults(script=[{"status": 503}])
    assert http.get("/rest/v2/categories").status_code == 200
    assert bulk(http, sim.token, [{"url": "https://a.example/"}]).status_code == 503


def test_owner_identifiers_are_validated(sim: SimProcess, http: httpx.Client) -> None:
    def lookup(**params: str) -> httpx.Response:
        url = "https://flattr.com/submit/auto?" + urllib.parse.urlencode(
            {"url": "https://o.example/", **params}
        )
        return http.get("/rest/v2/things/lookup", params={"url": url})

    for good in ("email:" + "0" * 32, "twitter:user:id:123", "partner:example:abc-1"):
        assert lookup(owner=good).json()["message"] == "flattrable", good
    for bad in ("email:someone@example.org", "twitter:user:id:abc", "partner::1", "myspace:9"):
        answer = lookup(owner=bad)
        assert answer.status_code == 400 and answer.json()["error"] == "validation", bad
    both = lookup(owner="twitter:user:id:1", user_id="demo")
    assert both.status_code == 400 and "not both" in both.json()["error_description"]


def test_odd_digits_are_refused_not_crashed_on(sim: SimProcess, http: httpx.Client) -> None:
    assert http.get("/rest/v2/things/%C2%B2").status_code == 404  # "²" passes str.isdigit()
    assert http.get("/rest/v2/things/1,%C2%B2").status_code == 404
    paged = http.get("/rest/v2/users/demo/things", params={"count": "²"})
    assert paged.status_code == 400 and paged.json()["error"] == "invalid_parameters"
