"""Every request type through a real host process; every reply and event checked against the
committed JSON Schema (the contract the extension is tested against)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from flattr_sim import SimProcess
from helpers import make_home, sim_env
from hostproc import HEADER, HostProcess

SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "protocol.schema.json").read_text())
FLATTR_PAGE = "https://flattr.com/oauth/ext"


def validator(ref: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$ref": ref, "$defs": SCHEMA["$defs"]})


class CheckedHost(HostProcess):
    """A host whose every reply and event must match the schema."""

    def request(self, type_: str, timeout: float = 10.0, **fields: Any) -> dict[str, Any]:
        reply = super().request(type_, timeout, **fields)
        if reply["ok"]:
            validator("#/$defs/OkReply").validate(reply)
            validator(SCHEMA["results"][type_]["$ref"]).validate(reply["result"])
        else:
            validator("#/$defs/ErrorReply").validate(reply)
            assert reply["error"]["code"] in SCHEMA["error_codes"]
        for event in self.events:
            validator("#/$defs/Event").validate(event)
        return reply


@pytest.fixture()
def host(tmp_path: Path, fresh_sim: SimProcess) -> Any:
    fresh_sim.control.add_user("alice", "alice-token")
    home = make_home(tmp_path / "home")
    with CheckedHost(home, env=sim_env(home, fresh_sim)) as process:
        assert process.request("hello", protocol=1)["ok"]
        yield process


def test_sign_in_subscription_and_sign_out(host: CheckedHost) -> None:
    bad = host.request("token", token="x", page_url="https://evil.example/flattr.com")
    assert bad["error"]["code"] == "untrusted_origin"
    also_bad = host.request("token", token="x", page_url="http://flattr.com/oauth/ext")
    assert also_bad["error"]["code"] == "untrusted_origin"
    assert host.request("status")["result"]["account"]["signed_in"] is False

    # The original test page's token event has no subscription: it must just work.
    signed_in = host.request("token", token="alice-token", page_url=FLATTR_PAGE)["result"]
    assert signed_in["signed_in"] is True and signed_in["subscription_active"] is None
    assert host.wait_event("signed_in")["data"]["signed_in"] is True

    sub = host.request("subscription", active=False, page_url=FLATTR_PAGE)["result"]
    assert sub["subscription_active"] is False
    assert host.wait_event("subscription")["data"] == {"active": False}
    assert host.request("subscription", active=True, page_url="https://flattr.co/")["ok"] is False

    out = host.request("sign_out")["result"]
    assert out == {
        "signed_in": False,
        "username": None,
        "subscription_active": None,
        "signed_out_reason": "user",
    }
    assert host.request("status")["result"]["account"]["signed_out_reason"] == "user"
    assert host.request("subscription", active=True, page_url=FLATTR_PAGE)["error"]["code"] == (
        "signed_out"
    )


def test_attention_page_status_and_flattr_now(host: CheckedHost) -> None:
    host.request("token", token="alice-token", subscription={"active": True}, page_url=FLATTR_PAGE)
    url = "https://www.example.org/article?utm_source=x#top"
    first = host.request("attention", segments=[{"url": url, "seconds": 30, "title": "A"}])
    (r,) = first["result"]["results"]
    assert r == {
        "url": "https://www.example.org/article",
        "site": "example.org",
        "counted": True,
        "reason": None,
        "error": None,
        "seconds_today": 30.0,
        "flattrs_queued": 0,
    }
    status = host.request("page_status", url=url)["result"]
    assert status["next_threshold"] == 50 and status["progress"] == pytest.approx(0.6)
    mixed = host.request(
        "attention",
        segments=[
            {"url": url, "seconds": 25},
            {"url": "http://192.168.1.1/admin", "seconds": 99},
            {"url": "https://intranet/", "seconds": 99},
            {"url": "https://www.paypal.com/myaccount", "seconds": 99},
            {"url": "https://private.example.com/", "seconds": 99, "private": True},
            {"url": "https://music.example.net/", "seconds": 30, "kind": "audio"},
        ],
    )["result"]["results"]
    assert [x["reason"] for x in mixed] == [
        None,
        "ip_address",
        "intranet",
        "blocked",
        "private",
        None,
    ]
    assert mixed[0]["flattrs_queued"] == 1 and mixed[4]["url"] is None
    now = host.request("flattr_now", url=url, title="A")["result"]
    assert now["url"] == "https://www.example.org/article" and now["flattr_id"] > 0
    after = host.request("page_status", url=url)["result"]
    assert after["flattrs_today_url"] == 2 and after["next_threshold"] == 138
    private = host.request("page_status", url=url, private=True)["result"]
    assert private["decision"]["reason"] == "private"
    refused = host.request("flattr_now", url="https://localhost/")
    assert refused["error"]["code"] == "not_counted"
    payment = (
        "https://flattr.com/submit/auto?user_id=creator&url=https%3A%2F%2Fcreator.example.com%2Fp"
    )
    creator = host.request(
        "flattr_now", url="https://creator.example.com/p", meta={"payment_url": payment}
    )["result"]
    assert creator["url"] == payment


def test_sites_mode_history_export_and_tick(host: CheckedHost) -> None:
    host.request("token", token="alice-token", page_url=FLATTR_PAGE)
    for n in range(5):
        host.request("flattr_now", url=f"https://blog.example.com/{n}")
    entry = host.request("set_site", site="https://sub.blog.example.com/x", setting="disabled")
    assert entry["result"]["site"] == "example.com" and entry["result"]["setting"] == "disabled"
    off = host.request("attention", segments=[{"url": "https://blog.example.com/9", "seconds": 60}])
    assert off["result"]["results"][0]["reason"] == "disabled"
    assert host.request("set_site", site="example.com", setting="default")["ok"]
    assert host.request("set_site", site="localhost", setting="enabled")["ok"] is False
    listing = host.request("set_mode", mode="metadata")["result"]
    assert listing["mode"] == "metadata" and "banking" in listing["builtin"]
    nometa = host.request("attention", segments=[{"url": "https://x.example.com/", "seconds": 60}])
    assert nometa["result"]["results"][0]["reason"] == "no_metadata"
    assert host.request("sites")["result"]["mode"] == "metadata"

    page = host.request("history", limit=2)["result"]
    assert len(page["items"]) == 2 and page["items"][0]["id"] > page["items"][1]["id"]
    rest = host.request("history", before=page["next_before"], limit=10)["result"]
    assert len(rest["items"]) == 3 and rest["next_before"] is None

    parts: dict[str, int] = {}
    cursor = None
    while True:
        page = host.request("export", **({"cursor": cursor} if cursor else {}))["result"]
        parts[page["part"]] = parts.get(page["part"], 0) + len(page["rows"])
        cursor = page["cursor"]
        if cursor is None:
            break
    assert parts["flattrs"] == 5 and parts["accounts"] == 1
    assert host.request("export", cursor="bogus:1")["error"]["code"] == "invalid_request"

    tick = host.request("tick", force=True)["result"]
    assert tick["scheduled"] is True
    queue = host.wait_event("queue", timeout=20)["data"]
    assert queue["delivered"] + queue["in_flight"] + queue["pending"] == 5


def test_a_resent_attention_batch_is_recorded_once(host: CheckedHost) -> None:
    host.request("token", token="alice-token", page_url=FLATTR_PAGE)
    batch = {"batch": "b-0001", "segments": [{"url": "https://once.example.com/", "seconds": 60}]}
    first = host.request("attention", **batch)["result"]
    again = host.request("attention", **batch)["result"]
    assert first == again and first["results"][0]["flattrs_queued"] == 1
    status = host.request("page_status", url="https://once.example.com/")["result"]
    assert status["seconds_today"] == 60 and status["flattrs_today_url"] == 1
    other = host.request("attention", batch="b-0002", segments=batch["segments"])["result"]
    assert other["results"][0]["seconds_today"] == 120


def _wait_for_queue(host: CheckedHost, done: Any, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        queue: dict[str, Any] = host.request("status")["result"]["queue"]
        if done(queue) or time.monotonic() > deadline:
            return queue
        time.sleep(0.2)


def test_a_new_sign_in_with_an_active_subscription_sends_at_once(
    tmp_path: Path, fresh_sim: SimProcess
) -> None:
    fresh_sim.control.add_user("alice", "alice-token")
    fresh_sim.control.set_subscription(username="alice", active=False, legacy_402=True)
    home = make_home(tmp_path / "home", failed_retry_interval=6 * 3600.0)
    with CheckedHost(home, env=sim_env(home, fresh_sim)) as host:
        assert host.request("hello", protocol=1)["ok"]
        active = {"active": True}
        host.request("token", token="alice-token", subscription=active, page_url=FLATTR_PAGE)
        assert host.request("flattr_now", url="https://renewed.example.com/")["ok"]
        assert host.wait_event("subscription", timeout=20)["data"] == {"active": False}
        held = host.request("status")["result"]
        assert held["queue"]["hold"] == "subscription_inactive"
        assert held["account"]["subscription_active"] is False
        # Renewed on flattr.com, whose sign-in hands over a fresh token, subscription active.
        fresh_sim.control.set_subscription(username="alice", active=True)
        fresh_sim.control.add_user("alice", "alice-token-2")
        host.request("token", token="alice-token-2", subscription=active, page_url=FLATTR_PAGE)
        queue = _wait_for_queue(host, lambda q: q["delivered"] == 1)
        assert (queue["delivered"], queue["hold"]) == (1, None), queue
    assert [f["url"] for f in fresh_sim.control.flattrs()] == ["https://renewed.example.com/"]


def test_a_segment_of_the_schemas_maximum_counts_in_full(host: CheckedHost) -> None:
    # One figure, read from the schema the extension is tested against: what may be sent counts.
    most = SCHEMA["$defs"]["Segment"]["properties"]["seconds"]["maximum"]
    host.request("token", token="alice-token", page_url=FLATTR_PAGE)
    url = "https://radio.example.com/live"
    full, over = host.request(
        "attention",
        segments=[
            {"url": url, "seconds": most, "kind": "audio"},
            {"url": url, "seconds": most + 0.001, "kind": "audio"},
        ],
    )["result"]["results"]
    assert full["seconds_today"] == most and full["flattrs_queued"] == 5
    assert over["reason"] == "invalid" and "seconds" in over["error"]
    assert host.request("page_status", url=url)["result"]["seconds_today"] == most


# Half an emoji, as `title.slice(0, 1024)` leaves it, escaped as JSON.stringify writes it.
CUT_EMOJI_TITLE = "\\ud83d"


def test_one_malformed_segment_costs_the_others_nothing(host: CheckedHost) -> None:
    host.request("token", token="alice-token", page_url=FLATTR_PAGE)
    # A real frame, written by hand: lone surrogates arrive as \\uXXXX escapes.
    payload = (
        '{"id": "a-1", "type": "attention", "batch": "b-cut", "segments": ['
        '{"url": "https://one.example.com/", "seconds": 60},'
        '{"url": "https://two.example.com/", "seconds": 60, "title": "Cut '
        + CUT_EMOJI_TITLE
        + '"},'
        '{"url": "https://three.example.com/", "seconds": 60, "meta": {"flattr_id": "\\udc00"}},'
        '{"url": "https://four.example.com/", "seconds": 60, "title": "Whole \\ud83d\\ude00"}]}'
    ).encode()
    host.send_raw(HEADER.pack(len(payload)) + payload)
    first = host.reply_to("a-1")
    validator("#/$defs/OkReply").validate(first)
    validator(SCHEMA["results"]["attention"]["$ref"]).validate(first["result"])
    one, two, three, four = first["result"]["results"]
    assert one["flattrs_queued"] == four["flattrs_queued"] == 1
    assert (two["counted"], two["reason"], two["url"]) == (False, "invalid", None)
    assert two["error"].startswith("title: not well-formed Unicode")
    assert three["reason"] == "invalid" and three["error"].startswith("meta.flattr_id: ")
    # The batch id still holds: a resend gets the first answer and records nothing twice.
    host.send_raw(HEADER.pack(len(payload)) + payload)
    assert host.reply_to("a-1") == first
    for url, seconds in [("one", 60), ("two", 0), ("three", 0), ("four", 60)]:
        status = host.request("page_status", url=f"https://{url}.example.com/")["result"]
        assert status["seconds_today"] == seconds, url
    history = host.request("history")["result"]["items"]
    assert sorted(x["title"] or "" for x in history) == ["", "Whole \N{GRINNING FACE}"]


def test_a_request_id_with_a_lone_surrogate_is_answered_with_id_null(host: CheckedHost) -> None:
    payload = b'{"id": "r-\\ud800", "type": "status"}'
    host.send_raw(HEADER.pack(len(payload)) + payload)
    reply = host.read_frame()
    assert reply["id"] is None and reply["error"]["code"] == "invalid_request"
    assert "not well-formed Unicode" in reply["error"]["message"]
    assert host.request("status")["ok"]  # and the host is still there


NOT_FLATTR_PAGES = [
    "https://user:pw@flattr.com/",  # user info: a page of flattr.com never has it
    "https://flattr.com@evil.example/",
    "https://flattr.com:99999/",  # no such port: refused, not a crash
    "https://flattr.com:8443/",
    "https://flattr.com:/",
    "https://flattr.com.evil.example/",
    "https://www.flattr.com/",
    "https://FLATTR.COM/",
    "http://flattr.com/",
    "https://[::1]/",
    "flattr.com",
]


def test_only_a_flattr_com_page_may_hand_over_a_token(host: CheckedHost) -> None:
    for url in NOT_FLATTR_PAGES:
        token = host.request("token", token="alice-token", page_url=url)
        assert token["ok"] is False and token["error"]["code"] == "untrusted_origin", (url, token)
        change = host.request("subscription", active=False, page_url=url)
        assert change["error"]["code"] == "untrusted_origin", (url, change)
    assert host.request("status")["result"]["account"]["signed_in"] is False
    for url in [FLATTR_PAGE, "https://flattr.com:443/oauth/ext", "https://flattr.com"]:
        assert host.request("token", token="alice-token", page_url=url)["ok"] is True, url
