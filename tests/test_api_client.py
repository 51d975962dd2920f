"""flattr_host.api against the local Flattr server: every endpoint, its documented errors and
paging, over real sockets."""

from __future__ import annotations

import base64
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from flattr_host import api
from flattr_host.api import FlattrClient
from flattr_sim import SimProcess

ALICE_TOKEN = "alice-token-0123456789"


SIM_DEDUPE = False  # the module's server (conftest's `sim`) records every flattr sent


@pytest.fixture(autouse=True)
def _fresh(users_sim: SimProcess) -> None:
    users_sim.control.add_user("alice", ALICE_TOKEN)


@pytest.fixture
def client(sim: SimProcess) -> Iterator[FlattrClient]:
    with FlattrClient(sim.base, sim.token) as c:
        yield c


@pytest.fixture
def anonymous(sim: SimProcess) -> Iterator[FlattrClient]:
    with FlattrClient(sim.base) as c:
        yield c


def auto_submit(url: str, **params: str) -> str:
    return "https://flattr.com/submit/auto?" + urllib.parse.urlencode({"url": url, **params})


def alice_things(sim: SimProcess, n: int, **fields: Any) -> list[int]:
    return [
        sim.control.add_thing(f"https://alice.example/{i}", "alice", title=f"Post {i}", **fields)
        for i in range(n)
    ]


def scoped_token(sim: SimProcess, scope: str) -> str:
    """A token with only these scopes, through the real code flow."""
    with httpx.Client(base_url=sim.base, trust_env=False) as http:
        query = {
            "response_type": "code",
            "client_id": "flattr-sim-client",
            "redirect_uri": "http://localhost/callback",
            "scope": scope,
        }
        location = http.get("/oauth/authorize", params=query).headers["Location"]
        code = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)["code"][0]
        basic = base64.b64encode(b"flattr-sim-client:flattr-sim-secret").decode()
        body = {"code": code, "grant_type": "authorization_code"}
        answer = http.post("/oauth/token", json=body, headers={"Authorization": f"Basic {basic}"})
        token: str = answer.json()["access_token"]
        return token


# --- users --------------------------------------------------------------------------------


def test_user_and_me(client: FlattrClient, anonymous: FlattrClient) -> None:
    me = client.user()
    assert me.username == "demo" and me.email  # control tokens carry every scope
    alice = anonymous.user("alice")
    assert alice.username == "alice" and alice.email is None
    assert alice.link.endswith("/user/alice")
    with pytest.raises(api.NotFound):
        anonymous.user("nobody")
    with pytest.raises(api.Unauthorized) as caught:
        anonymous.user()
    assert caught.value.status == 401 and caught.value.code == "unauthorized"


def test_email_needs_its_scope(sim: SimProcess) -> None:
    with FlattrClient(sim.base, scoped_token(sim, "flattr")) as plain:
        assert plain.user().email is None and plain.user().registered_at is None
    with FlattrClient(sim.base, scoped_token(sim, "extendedread")) as extended:
        me = extended.user()
        assert me.email and me.registered_at


# --- things -------------------------------------------------------------------------------


def test_things_of_a_user_page_by_page(sim: SimProcess, anonymous: FlattrClient) -> None:
    ids = alice_things(sim, 7)
    first = anonymous.things("alice", count=3, page=1)
    assert [t.id for t in first] == ids[::-1][:3]  # newest first
    assert first[0].owner is not None and first[0].owner.username == "alice"
    assert first[0].description is not None  # the full thing shape
    last = anonymous.things("alice", count=3, page=3)
    assert [t.id for t in last] == [ids[0]]
    assert anonymous.things("alice", count=3, page=4) == []
    pages: list[tuple[int, int, int | None]] = []
    walked = list(anonymous.iter_things("alice", count=3, on_page=lambda *p: pages.append(p)))
    assert [t.id for t in walked] == ids[::-1]
    assert pages == [(1, 3, None), (2, 6, None), (3, 7, None)]
    assert len(list(anonymous.iter_things("alice", count=3, max_pages=2))) == 6
    with pytest.raises(api.NotFound):
        anonymous.things("nobody")
    with pytest.raises(api.InvalidParameters):
        anonymous.things("alice", count=0)
    with pytest.raises(api.InvalidParameters):
        anonymous.things("alice", page=0)


def test_own_things_include_hidden(sim: SimProcess, anonymous: FlattrClient) -> None:
    alice_things(sim, 1)
    hidden = sim.control.add_thing("https://alice.example/secret", "alice", hidden=True)
    assert hidden not in [t.id for t in anonymous.things("alice")]
    with FlattrClient(sim.base, ALICE_TOKEN) as alice:
        mine = alice.things()
        assert hidden in [t.id for t in mine]
        assert all(t.updated_at is not None for t in mine)  # owner-only field
    with pytest.raises(api.Unauthorized):
        anonymous.things()


def test_one_and_several_things(sim: SimProcess, client: FlattrClient) -> None:
    a, b = alice_things(sim, 2)
    one = client.thing(a)
    assert one.id == a and one.flattred is False  # token-only field present
    assert [t.id for t in client.things_by_id([a, b])] == [a, b]
    assert [t.id for t in client.things_by_id([b, a], query_form=True)] == [b, a]
    assert [t.id for t in client.things_by_id([a], query_form=True)] == [a]
    full = client.thing(a, full=True)
    assert full.owner is not None and full.owner.firstname is not None
    assert client.thing(a).owner is not None and client.thing(a).owner.firstname is None
    with pytest.raises(api.NotFound):
        client.thing(999)
    with pytest.raises(api.NotFound):
        client.things_by_id([a, 999])
    # "%2C" is not a separator.
    assert client.send("GET", f"/things/{a}%2C{b}").status == 404


def test_lookup(sim: SimProcess, anonymous: FlattrClient) -> None:
    (a,) = alice_things(sim, 1)
    found = anonymous.lookup("https://alice.example/0")
    assert found.message == "found" and found.thing_id == a
    flattrable = anonymous.lookup(auto_submit("https://new.example/", user_id="alice"))
    assert flattrable.message == "flattrable" and flattrable.thing_id is None
    assert anonymous.lookup("https://unknown.example/").message == "not_found"
    with pytest.raises(api.InvalidParameters):
        anonymous.lookup("")
    with pytest.raises(api.InvalidParameters):  # owner mismatch: validation
        anonymous.lookup(auto_submit("https://alice.example/0", user_id="bob"))


def test_search_every_parameter(sim: SimProcess, anonymous: FlattrClient) -> None:
    c = sim.control
    game = c.add_thing("https://g.example/1", "alice", title="A game", tags=["game"])
    games = c.add_thing(
        "https://g.example/2", "demo", title="More", tags=["games"], language="sv_SE"
    )
    soft = c.add_thing(
        "https://g.example/3", "alice", title="Tool", tags=["game", "software"], category="software"
    )
    hidden = c.add_thing(
        "https://g.example/4", "alice", title="Hidden game", tags=["game"], hidden=True
    )

    def ids(**kw: Any) -> list[int]:
        return [t.id for t in anonymous.search(**kw).things]

    assert ids(query="tool") == [soft]
    assert sorted(ids(query="game")) == sorted([game, games, soft])  # never the hidden one
    assert hidden not in ids(tags="game")
    assert sorted(ids(tags="game | games ! software")) == sorted([game, games])
    assert ids(tags="game & software") == [soft]
    assert ids(url="https://g.example/2") == [games]
    assert ids(language="sv_SE") == [games]
    assert sorted(ids(language=["sv_SE", "en_GB"])) == sorted([game, games, soft])
    assert ids(category="software") == [soft]
    assert ids(user="demo") == [games]
    result = anonymous.search(count=2, page=2, sort="flattrs")
    assert (result.total_items, result.items, result.page) == (3, 1, 2)
    walked = list(anonymous.iter_search(count=2))
    assert sorted(t.id for t in walked) == sorted([game, games, soft])
    with pytest.raises(api.InvalidParameters):
        anonymous.search(sort="cheapest")  # type: ignore[arg-type]
    with pytest.raises(api.InvalidParameters):
        anonymous.search(tags="game |")


# --- flattrs ------------------------------------------------------------------------------


def test_flattr_a_thing_and_its_errors(sim: SimProcess, client: FlattrClient) -> None:
    a, b = alice_things(sim, 2)
    done = client.flattr(a)
    assert done.message == "ok" and done.thing is not None and done.thing.id == a
    with pytest.raises(api.FlattrOnce):
        client.flattr(a)
    with pytest.raises(api.NotFound):
        client.flattr(999)
    with FlattrClient(sim.base, ALICE_TOKEN) as alice, pytest.raises(api.FlattrOwner):
        alice.flattr(b)
    sim.control.add_user("demo", means=0)
    with pytest.raises(api.NoMeans) as caught:
        client.flattr(b)
    assert caught.value.status == 401  # the same status as unauthorized: the code decides
    thing_scope_only = scoped_token(sim, "thing")
    with FlattrClient(sim.base, thing_scope_only) as no_scope, pytest.raises(api.InsufficientScope):
        no_scope.flattr(b)
    with FlattrClient(sim.base) as nobody, pytest.raises(api.Unauthorized):
        nobody.flattr(b)


def test_flattr_url_auto_submit_appears_everywhere(
    sim: SimProcess, client: FlattrClient, anonymous: FlattrClient
) -> None:
    url = auto_submit("https://blog.example/p", user_id="alice", title="A post", tags="x,y")
    done = client.flattr_url(url)
    assert done.thing is not None and done.thing.url == "https://blog.example/p"
    thing_id = done.thing.id
    assert anonymous.lookup("https://blog.example/p").thing_id == thing_id
    assert [t.id for t in anonymous.search(query="post").things] == [thing_id]
    assert [f.thing.id for f in anonymous.flattrs("demo")] == [thing_id]
    assert [f.thing.id for f in client.flattrs()] == [thing_id]
    assert [f.owner.username for f in client.flattrs(thing_id=thing_id) if f.owner] == ["demo"]
    assert [t.id for t in anonymous.things("alice")] == [thing_id]
    with pytest.raises(api.NotFound):
        client.flattr_url("https://nothing.example/")
    with pytest.raises(api.InvalidParameters):
        client.flattr_url("")
    with pytest.raises(api.InvalidParameters):  # an owner= that is no supported identifier
        client.flattr_url(auto_submit("https://p.example/", owner="myspace:42"))


def test_flattr_lists_paging_full_and_hiding(
    sim: SimProcess, client: FlattrClient, anonymous: FlattrClient
) -> None:
    ids = alice_things(sim, 5)
    for thing_id in ids:
        client.flattr(thing_id)
    page2 = anonymous.flattrs("demo", count=2, page=2)
    assert [f.thing.id for f in page2] == [ids[2], ids[1]]
    assert page2[0].thing.description is None  # mini thing
    full = anonymous.flattrs("demo", count=1, full=True)[0]
    assert full.thing.description is not None and full.owner and full.owner.firstname is not None
    assert [f.thing.id for f in anonymous.iter_flattrs("demo", count=2)] == ids[::-1]
    with pytest.raises(api.NotFound):
        anonymous.flattrs("nobody")
    with pytest.raises(api.Unauthorized):
        anonymous.flattrs()
    with pytest.raises(api.Unauthorized):  # the one documented error of /things/:id/flattrs
        anonymous.flattrs(thing_id=ids[0])
    with pytest.raises(api.NotFound):
        client.flattrs(thing_id=999)


def test_hidden_flattrs_are_an_empty_list(sim: SimProcess, client: FlattrClient) -> None:
    (thing_id,) = alice_things(sim, 1)
    client.flattr(thing_id)
    sim.control.add_user("demo", hide_flattrs=True)
    with FlattrClient(sim.base) as anonymous:
        assert anonymous.flattrs("demo") == []
    assert len(client.flattrs()) == 1  # your own list still shows them


def test_bulk(sim: SimProcess, client: FlattrClient) -> None:
    result = client.flattr_bulk(["https://a.example/", "https://a.example/"], idempotency_key="k1")
    assert result.status == "success" and result.subscription and result.subscription.active
    assert [f["url"] for f in sim.control.flattrs()] == ["https://a.example/"] * 2
    with FlattrClient(sim.base) as nobody, pytest.raises(api.Unauthorized):
        nobody.flattr_bulk(["https://a.example/"])


# --- activities, reference lists, rate limit ------------------------------------------------


def test_activities(sim: SimProcess, client: FlattrClient, anonymous: FlattrClient) -> None:
    (thing_id,) = alice_things(sim, 1)
    client.flattr(thing_id)
    outgoing = anonymous.activities("demo")
    assert len(outgoing.items) == 1
    item = outgoing.items[0]
    assert item.verb == "like" and item.actor.displayName == "demo"
    assert item.object.url == "https://alice.example/0" and item.id.startswith("tag:flattr.com,")
    assert anonymous.activities("demo", type="incoming").items == []
    with FlattrClient(sim.base, ALICE_TOKEN) as alice:
        assert len(alice.activities(type="incoming").items) == 1
        assert alice.activities().items == []
    with pytest.raises(api.InvalidParameters):
        anonymous.activities("demo", type="sideways")  # type: ignore[arg-type]
    with pytest.raises(api.NotFound):
        anonymous.activities("nobody")
    with pytest.raises(api.Unauthorized):
        anonymous.activities()


def test_categories_languages_rate_limit(anonymous: FlattrClient) -> None:
    categories = {c.id: c.text for c in anonymous.categories()}
    assert categories["rest"] == "Other" and "software" in categories
    assert {"id": "en_GB", "text": "English"} in [
        lang.model_dump() for lang in anonymous.languages()
    ]
    before = anonymous.rate_limit()
    anonymous.categories()
    after = anonymous.rate_limit()
    assert after.current_hits == before.current_hits + 1  # /rate_limit itself is not counted
    assert after.remaining_hits == after.hourly_limit - after.current_hits


def test_formats_suffix_accept_and_jsonp(sim: SimProcess) -> None:
    with FlattrClient(sim.base, format_suffix=True) as suffixed:
        assert suffixed.categories()
        assert suffixed.activities("demo").items == []
        assert suffixed.send("GET", "/categories", accept="text/xml").status == 200  # .json wins
    with FlattrClient(sim.base) as plain:
        refused = plain.send("GET", "/categories", accept="text/xml")
        assert refused.status == 406 and refused.code == "not_acceptable"
        with pytest.raises(api.NotAcceptable):
            plain.call("GET", "/categories", accept="application/yaml")
        assert plain.send("GET", "/categories.xml").status == 406
    jsonp = httpx.get(f"{sim.base}/rest/v2/users/demo?jsonp=cb", trust_env=False)
    assert jsonp.status_code == 200 and jsonp.text.startswith("/**/cb({")
    assert jsonp.headers["content-type"].startswith("application/javascript")
    assert "X-RateLimit-Remaining" in jsonp.headers
    bad = httpx.get(f"{sim.base}/rest/v2/users/demo?jsonp=alert(1)", trust_env=False)
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_parameters"


def test_rate_limit_headers_on_every_answer(sim: SimProcess, client: FlattrClient) -> None:
    answer = client.call("GET", "/categories")
    assert answer.rate is not None
    assert answer.rate.limit == 1000 and answer.rate.remaining == 999 and answer.rate.current == 1
    assert answer.rate.reset is not None and answer.rate.reset > answer.received_at
    assert client.rate == answer.rate
    error = client.send("GET", "/users/nobody")
    assert error.status == 404 and error.rate is not None and error.rate.current == 2


class RecordingClient(FlattrClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.statuses: list[int | None] = []

    def send(self, *args: Any, **kwargs: Any) -> api.Answer:
        answer = super().send(*args, **kwargs)
        self.statuses.append(answer.status)
        return answer


def test_client_waits_instead_of_exceeding_the_limit(sim: SimProcess) -> None:
    sim.control.set_rate_limit(remaining=1, reset_in=30)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        sim.control.set_rate_limit(remaining=1000)  # the hour passes

    with RecordingClient(sim.base, sim.token, sleep=sleep) as client:
        client.categories()  # uses the last request of the window
        assert waits == []
        client.languages()  # must wait for the reset rather than be refused
        assert len(waits) == 1 and 0 < waits[0] <= 32
    assert client.statuses == [200, 200]


def test_client_gives_up_on_a_long_wait_without_sending(sim: SimProcess) -> None:
    sim.control.set_rate_limit(remaining=1, reset_in=3000)
    with FlattrClient(sim.base, sim.token, sleep=lambda s: None, max_rate_wait=60) as client:
        client.categories()
        before = client.rate_limit().current_hits
        with pytest.raises(api.RateLimitExceeded) as caught:
            client.languages()
        assert caught.value.reset_at is not None
        assert client.rate_limit().current_hits == before  # nothing was sent


def test_a_refused_request_is_retried_after_the_window(sim: SimProcess) -> None:
    sim.control.set_rate_limit(remaining=0, reset_in=20)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        sim.control.set_rate_limit(remaining=1000)

    with RecordingClient(sim.base, sim.token, sleep=sleep) as client:
        assert client.categories()
    assert len(waits) == 1
    assert client.statuses == [403, 200]


# --- faults, transport, security ----------------------------------------------------------


def test_faults_apply_to_every_endpoint(sim: SimProcess, client: FlattrClient) -> None:
    sim.control.set_faults(
        script=[
            {"endpoint": "/categories", "status": 503, "retry_after": 7},
            {"endpoint": "/languages", "drop": True},
            {"endpoint": "*", "status": 500},
        ]
    )
    with pytest.raises(api.ServerError) as caught:
        client.categories()
    assert caught.value.answer.retry_after == 7.0
    with pytest.raises(api.TransportError):
        client.languages()
    with pytest.raises(api.ServerError):
        client.user()
    assert client.user().username == "demo"  # the script is used up


def test_tokens_stay_home(sim: SimProcess) -> None:
    with pytest.raises(api.ConfigError):
        FlattrClient("http://api.flattr.example", "secret")
    with FlattrClient(sim.base, "secret-token-value") as client:
        assert "secret-token-value" not in repr(client)
        with pytest.raises(api.Unauthorized) as caught:
            client.user()
        assert "secret-token-value" not in str(caught.value)


def test_redirects_are_not_followed(sim: SimProcess) -> None:
    """Another host's redirect would carry the token: the 302 is the answer."""
    landed: list[str] = []

    class Redirector(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/elsewhere"):
                landed.append(self.headers.get("Authorization") or "")
            self.send_response(302)
            self.send_header("Location", f"{sim.base}/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with FlattrClient(f"http://127.0.0.1:{server.server_port}", "tok") as client:
            with pytest.raises(api.ApiError) as caught:
                client.user()
            assert caught.value.status == 302
    finally:
        server.shutdown()
        server.server_close()
    assert landed == []


# --- partners -----------------------------------------------------------------------------


class HookReceiver:
    def __init__(self) -> None:
        self.forms: list[dict[str, list[str]]] = []
        self.arrived = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                assert self.headers["Content-Type"] == "application/x-www-form-urlencoded"
                outer.forms.append(urllib.parse.parse_qs(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                outer.arrived.set()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_unclaimed_thing_flattr_calls_the_partner_hook(
    sim: SimProcess, client: FlattrClient
) -> None:
    hook = HookReceiver()
    try:
        sim.control.add_partner("example", ["partner:example"], webhook_url=hook.url)
        url = auto_submit("https://community.example/a", owner="partner:example:42", title="Hi")
        done = client.flattr_url(url)
        assert done.thing is not None and done.thing.owner is None  # nobody claimed it
        assert hook.arrived.wait(10)
    finally:
        hook.close()
    (form,) = hook.forms
    assert form["_event"] == ["pendingclickcreate"]
    assert form["thing_id"] == [str(done.thing.id)]
    assert form["thing_owner_id"] == ["partner:example:42"]
    assert form["thing_clicks_total"] == ["1"]
    assert form["flattrer_username"] == ["demo"]
    claim = httpx.get(form["claim_url"][0], trust_env=False)
    assert claim.status_code == 200 and "partner:example:42" in claim.text
    # A thing owned by a Flattr user sends nothing.
    client.flattr_url(auto_submit("https://community.example/b", user_id="alice"))
    assert len(sim.control.webhooks()) == 1


def test_verify_identity(sim: SimProcess, client: FlattrClient) -> None:
    sim.control.add_partner("example", ["partner:example"], token="partner-credential")
    with FlattrClient(sim.base, ALICE_TOKEN) as alice:
        alice.flattr_url(auto_submit("https://c.example/1", owner="partner:example:7"))
        alice.flattr_url(auto_submit("https://c.example/2", owner="partner:example:8"))
        with pytest.raises(api.Unauthorized):  # not one of the supported identifiers
            alice.verify_identity("bogus")
        with pytest.raises(api.Unauthorized):  # no partner may verify this namespace
            alice.verify_identity("partner:other:7")
    client.verify_identity("partner:example:7")
    owners = {t["url"]: t["owner"] for t in sim.control.things()}
    assert owners["https://c.example/1"] == "demo"
    assert owners["https://c.example/2"] == "partner:example:8"
    with pytest.raises(api.Unauthorized):  # a user token is no partner credential
        client.verify_identity("partner:example:8", username="alice")
    client.verify_identity(
        "partner:example:8", username="alice", partner_token="partner-credential"
    )
    assert {t["url"]: t["owner"] for t in sim.control.things()}["https://c.example/2"] == "alice"
    with pytest.raises(api.NotFound):
        client.verify_identity(
            "partner:example:9", username="nobody", partner_token="partner-credential"
        )
    with FlattrClient(sim.base) as nobody, pytest.raises(api.Unauthorized):
        nobody.verify_identity("partner:example:7")


def test_every_paged_listing_walks_its_pages(sim: SimProcess, client: FlattrClient) -> None:
    ids = alice_things(sim, 5)
    for thing_id in ids:
        client.flattr(thing_id)
    with FlattrClient(sim.base, ALICE_TOKEN) as alice:
        listings = {
            "/users/:u/things": lambda page: alice.things("alice", count=2, page=page),
            "/user/things": lambda page: alice.things(count=2, page=page),
            "/users/:u/flattrs": lambda page: client.flattrs("demo", count=2, page=page),
            "/user/flattrs": lambda page: client.flattrs(count=2, page=page),
            "/things/search": lambda page: client.search(count=2, page=page).things,
        }
        for name, fetch in listings.items():
            sizes = [len(fetch(page)) for page in (1, 2, 3, 4)]
            assert sizes == [2, 2, 1, 0], name
    popular = sim.control.add_thing("https://alice.example/popular", "alice")
    for username in ("u1", "u2", "u3"):
        sim.control.add_user(username, f"{username}-token")
        with FlattrClient(sim.base, f"{username}-token") as fan:
            fan.flattr(popular)
    on_thing = [len(client.flattrs(thing_id=popular, count=2, page=p)) for p in (1, 2, 3)]
    assert on_thing == [2, 1, 0]
    walked = list(client.iter_flattrs(thing_id=popular, count=2))
    assert sorted(f.owner.username for f in walked if f.owner) == ["u1", "u2", "u3"]
