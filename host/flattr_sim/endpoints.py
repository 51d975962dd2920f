"""What each endpoint under /rest/v2 answers (docs/flattr-api.md); rest.py routes to them.

Every handler takes the request, the state and the caller's token (None: anonymous), plus the
path's parts; a refusal is raised as an ApiError, answered with Flattr's error body.
"""

from __future__ import annotations

import time
from typing import Any

from . import search
from .catalog import Candidate, FlattrRecord, Thing
from .constants import (
    ACTIVITY_CONTENT_TYPE,
    API_PREFIX,
    CATEGORIES,
    DEFAULT_PAGE_COUNT,
    LANGUAGES,
    MAX_PAGE_COUNT,
)
from .error_codes import ApiError
from .journal import SOURCE_API, AcceptedFlattr
from .messages import Request, Response, json_response
from .metering import rate_key
from .objects import activity_json, flattr_json, mini_thing, thing_json, user_json
from .partners import Delivery, deliver_later, identity_namespace, pending_click_form
from .state import SimState
from .users import Token


def _require(token: Token | None, scope: str | None = None) -> Token:
    if token is None:
        raise ApiError("unauthorized")
    if scope is not None and scope not in token.scopes:
        raise ApiError("insufficient_scope", f"The scope '{scope}' is required")
    return token


def _paging(req: Request) -> tuple[int, int]:
    """count (default 30) and page (from 1); anything else is invalid_parameters."""
    values = []
    for name, default, top in (("count", DEFAULT_PAGE_COUNT, MAX_PAGE_COUNT), ("page", 1, None)):
        raw = req.arg(name)
        if raw is None or raw == "":
            values.append(default)
            continue
        if not _whole(raw) or int(raw) < 1 or (top is not None and int(raw) > top):
            limit = f"1 to {top}" if top else "1 or more"
            raise ApiError("invalid_parameters", f"{name} must be a whole number from {limit}")
        values.append(int(raw))
    return values[0], values[1]


def _whole(text: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts "²", which int() refuses."""
    return text.isascii() and text.isdigit()


def _page(req: Request, items: list[Any]) -> list[Any]:
    count, page = _paging(req)
    return items[(page - 1) * count : page * count]


def _full(req: Request) -> bool:
    return "full" in req.query  # any value, even empty ("?full")


def _visible(thing: Thing, viewer: Token | None) -> bool:
    """Hidden things show only to their owner."""
    return not thing.hidden or (viewer is not None and viewer.username == thing.owner)


def hello(req: Request, state: SimState, token: Token | None) -> Response:
    return json_response(200, {"message": "hello_world"})


def not_found(req: Request, state: SimState, token: Token | None, *args: str) -> Response:
    raise ApiError("not_found")


def rate_limit(req: Request, state: SimState) -> Response:
    with state.lock:
        token = state.accounts.authenticate(req.bearer_token())
        status = state.rate_limiter.peek(rate_key(req, token))
    reset = int(status.reset_at)
    return json_response(
        200,
        {
            "hourly_limit": status.limit,
            "remaining_hits": status.remaining,
            "current_hits": status.current,
            "reset_time_in_seconds": reset,  # absolute unix time despite the name
            "reset_time": time.strftime("%a, %d %b %Y %H:%M:%S +0000 GMT", time.gmtime(reset)),
        },
    )


def categories(req: Request, state: SimState, token: Token | None) -> Response:
    return json_response(200, [{"id": i, "text": t} for i, t in CATEGORIES])


def languages(req: Request, state: SimState, token: Token | None) -> Response:
    return json_response(200, [{"id": i, "text": t} for i, t in LANGUAGES])


# --- users ----------------------------------------------------------------------------------


def _known_user(state: SimState, username: str) -> str:
    if username not in state.accounts.users:
        raise ApiError("not_found", "The requested user could not be found")
    return username


def me(req: Request, state: SimState, token: Token | None) -> Response:
    viewer = _require(token)
    return json_response(200, user_json(state.accounts.users[viewer.username], req.base, viewer))


def user_profile(req: Request, state: SimState, token: Token | None, username: str) -> Response:
    user = state.accounts.users[_known_user(state, username)]
    return json_response(200, user_json(user, req.base, token))


# --- things ---------------------------------------------------------------------------------


def _owned_things(req: Request, state: SimState, token: Token | None, owner: str) -> Response:
    things = sorted(
        (t for t in state.catalog.things.values() if t.owner == owner and _visible(t, token)),
        key=lambda t: -t.id,  # newest first
    )
    full = _full(req)
    return json_response(
        200, [thing_json(t, req.base, state.accounts, token, full) for t in _page(req, things)]
    )


def my_things(req: Request, state: SimState, token: Token | None) -> Response:
    return _owned_things(req, state, token, _require(token).username)


def user_things(req: Request, state: SimState, token: Token | None, username: str) -> Response:
    return _owned_things(req, state, token, _known_user(state, username))


def things_by_ids(req: Request, state: SimState, token: Token | None, ids: str) -> Response:
    """/things/:id and /things/:id,:id,... (a literal comma)."""
    return _things_by_id(req, state, token, ids.split(","), many=len(ids.split(",")) > 1)


def things_query(req: Request, state: SimState, token: Token | None) -> Response:
    """/things?id=a,b: the 2012 form of "several things"; always a list."""
    raw = req.arg("id")
    if not raw:
        raise ApiError("invalid_parameters", "The id parameter is required")
    return _things_by_id(req, state, token, raw.split(","), many=True)


def _things_by_id(
    req: Request, state: SimState, token: Token | None, parts: list[str], *, many: bool
) -> Response:
    things: list[Thing] = []
    for part in parts:
        thing = state.catalog.things.get(int(part)) if _whole(part) else None
        if thing is None:
            raise ApiError("not_found", f"Thing {part} was not found")
        things.append(thing)
    full = _full(req)
    rendered = [thing_json(t, req.base, state.accounts, token, full) for t in things]
    return json_response(200, rendered if many else rendered[0])


def lookup(req: Request, state: SimState, token: Token | None) -> Response:
    url = req.arg("url")
    if not url:
        raise ApiError("invalid_parameters", "The url parameter is required")
    found = state.catalog.resolve(url)
    if isinstance(found, Thing):
        location = f"{req.base}{API_PREFIX}/things/{found.id}"
        response = json_response(302, {"message": "found", "location": location})
        response.headers.append(("Location", location))
        return response
    if isinstance(found, Candidate):
        return json_response(200, {"message": "flattrable", "url": found.url})
    # Not the standard error shape: that is what the real lookup answered.
    return json_response(404, {"message": "not_found", "description": "No thing was found"})


def search_things(req: Request, state: SimState, token: Token | None) -> Response:
    found = search.search(
        state.catalog.things.values(),
        state.catalog.flattrs,
        query=req.arg("query"),
        url=req.arg("url"),
        tags=req.arg("tags"),
        language=req.arg("language"),
        category=req.arg("category"),
        user=req.arg("user"),
        sort=req.arg("sort"),
        visible=lambda t: _visible(t, token),
    )
    count, page = _paging(req)
    items = found[(page - 1) * count : page * count]
    full = _full(req)
    return json_response(
        200,
        {
            "total_items": len(found),
            "items": len(items),
            "page": page,
            "things": [thing_json(t, req.base, state.accounts, token, full) for t in items],
        },
    )


# --- flattrs --------------------------------------------------------------------------------


def _flattr_list(
    req: Request, state: SimState, token: Token | None, records: list[FlattrRecord]
) -> Response:
    full = _full(req)
    things = state.catalog.things
    newest_first = sorted(records, key=lambda r: -r.id)
    return json_response(
        200,
        [
            flattr_json(r, things[r.thing_id], req.base, state.accounts, token, full)
            for r in _page(req, newest_first)
        ],
    )


def _by_user(state: SimState, username: str) -> list[FlattrRecord]:
    return [r for r in state.catalog.flattrs if r.username == username]


def my_flattrs(req: Request, state: SimState, token: Token | None) -> Response:
    viewer = _require(token)
    return _flattr_list(req, state, token, _by_user(state, viewer.username))


def user_flattrs(req: Request, state: SimState, token: Token | None, username: str) -> Response:
    user = state.accounts.users[_known_user(state, username)]
    if user.hide_flattrs and (token is None or token.username != username):
        return json_response(200, [])  # documented: an empty list, not an error
    return _flattr_list(req, state, token, _by_user(state, username))


def thing_flattrs(req: Request, state: SimState, token: Token | None, thing_id: str) -> Response:
    viewer = _require(token)  # the one documented error is 401
    thing = state.catalog.things.get(int(thing_id)) if _whole(thing_id) else None
    if thing is None:
        raise ApiError("not_found", f"Thing {thing_id} was not found")
    users = state.accounts.users
    records = [
        r
        for r in state.catalog.flattrs
        if r.thing_id == thing.id
        and (r.username == viewer.username or not users[r.username].hide_flattrs)
    ]
    return _flattr_list(req, state, token, records)


def flattr_url(req: Request, state: SimState, token: Token | None) -> Response:
    viewer = _require(token, "flattr")
    url = req.params_body().get("url")
    if not isinstance(url, str) or not url:
        raise ApiError("invalid_parameters", "The url parameter is required")
    found = state.catalog.resolve(url)
    if found is None:
        raise ApiError("not_found", "No thing or flattrable URL was found")
    return _flattr(req, state, viewer, found)


def flattr_thing(req: Request, state: SimState, token: Token | None, thing_id: str) -> Response:
    viewer = _require(token, "flattr")
    thing = state.catalog.things.get(int(thing_id))
    if thing is None:
        raise ApiError("not_found")
    return _flattr(req, state, viewer, thing)


def _flattr(req: Request, state: SimState, viewer: Token, found: Thing | Candidate) -> Response:
    user = state.accounts.users[viewer.username]
    # The thing is created on the first flattr even if that flattr is then refused.
    thing = state.catalog.create(found) if isinstance(found, Candidate) else found
    if thing.owner == user.username:
        raise ApiError("flattr_owner")
    if user.username in thing.flattr_users:
        raise ApiError("flattr_once")
    if user.means <= 0:
        raise ApiError("no_means")
    state.catalog.flattr(thing, user.username)
    user.means -= 1
    state.journal.flattrs.append(
        AcceptedFlattr(thing.url, user.username, time.time(), None, SOURCE_API)
    )
    _announce_pending(req, state, thing, user.username)
    location = f"{req.base}{API_PREFIX}/things/{thing.id}"
    body: dict[str, Any] = {
        "message": "ok",
        "description": "Thing was successfully flattred",
        "thing": mini_thing(thing, req.base),
        "location": location,  # deprecated but present in real responses
    }
    return json_response(200, body)


def _announce_pending(req: Request, state: SimState, thing: Thing, flattrer: str) -> None:
    """An unclaimed thing got a flattr: tell its partner's web hook (pendingclickcreate)."""
    if identity_namespace(thing.owner) is None:
        return
    partner = state.partners.for_identity(thing.owner)
    if partner is None or partner.webhook_url is None:
        return
    form = pending_click_form(
        thing.id, thing.owner, thing.flattrs, flattrer, f"{req.base}/claim/{thing.id}"
    )
    delivery = Delivery(partner.webhook_url, form, time.time())
    state.partners.deliveries.append(delivery)
    deliver_later(state.lock, delivery)


# --- activities -----------------------------------------------------------------------------


def _activities(req: Request, state: SimState, username: str) -> Response:
    kind = req.arg("type") or "outgoing"
    if kind not in ("outgoing", "incoming"):
        raise ApiError("invalid_parameters", "type must be outgoing or incoming")
    things = state.catalog.things
    if kind == "outgoing":
        records = _by_user(state, username)
    else:
        records = [r for r in state.catalog.flattrs if things[r.thing_id].owner == username]
    items = [activity_json(r, things[r.thing_id], req.base) for r in reversed(records)]
    response = json_response(200, {"items": items}, content_type=ACTIVITY_CONTENT_TYPE)
    return response


def my_activities(req: Request, state: SimState, token: Token | None) -> Response:
    return _activities(req, state, _require(token).username)


def user_activities(req: Request, state: SimState, token: Token | None, username: str) -> Response:
    return _activities(req, state, _known_user(state, username))


# --- partner verification -------------------------------------------------------------------


def _identity(req: Request) -> str:
    identity = req.params_body().get("identity") or req.arg("identity")
    if not isinstance(identity, str) or not identity:
        raise ApiError("invalid_parameters", "The identity parameter is required")
    if identity_namespace(identity) is None:
        raise ApiError("unauthorized", f"Invalid identifier {identity!r}")
    return identity


def _verified(state: SimState, identity: str, username: str) -> Response:
    claimed = state.catalog.claim(identity, username)
    return json_response(
        200, {"message": "ok", "description": "Identity verified", "claimed_things": claimed}
    )


def verify_me(req: Request, state: SimState, token: Token | None) -> Response:
    """The signed-in user claims a partner identity (the partner vouches for it)."""
    viewer = _require(token)
    identity = _identity(req)
    if state.partners.for_identity(identity) is None:
        raise ApiError("unauthorized", "No partner may verify this identifier")
    return _verified(state, identity, viewer.username)


def verify_user(req: Request, state: SimState, token: Token | None, username: str) -> Response:
    """A partner (its own credential as the Bearer) binds one of its identities to a user."""
    partner = state.partners.by_token(req.bearer_token())
    if partner is None:
        raise ApiError("unauthorized", "Partner credentials are required")
    identity = _identity(req)
    if not partner.covers(identity):
        raise ApiError("unauthorized", "This partner is not allowed to verify this identifier")
    return _verified(state, identity, _known_user(state, username))
