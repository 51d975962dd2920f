"""The api.flattr.com role: everything under /rest/v2."""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from . import bulk
from .accounts import Token
from .catalog import Candidate, Thing
from .errors import ApiError
from .ledger import SOURCE_API, AcceptedFlattr
from .messages import Request, Response, error_response, json_response
from .metering import limited, rate_key
from .objects import mini_thing, thing_json, user_json
from .state import SimState

API_PREFIX = "/rest/v2"
# Suffix formats the docs list but this server does not render (docs/flattr-api.md#formats): 406.
_UNSUPPORTED_SUFFIXES = (".xml", ".yaml", ".as", ".atom", ".txt")
_JSON_MEDIA = frozenset({"application/json", "application/*", "*/*"})
_THING_IDS = re.compile(r"^/things/([^/]+)$")
_THING_FLATTR = re.compile(r"^/things/(\d+)/flattr$")
_USER = re.compile(r"^/users/([^/]+)$")
# Browsers may cache a preflight answer this long.
PREFLIGHT_MAX_AGE_SECONDS = 600
CORS_HEADERS = [
    ("Access-Control-Allow-Origin", "*"),
    (
        "Access-Control-Expose-Headers",
        "X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Current, X-RateLimit-Reset, "
        "Retry-After, Location",
    ),
]
PREFLIGHT_HEADERS = [
    ("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS"),
    ("Access-Control-Allow-Headers", "Authorization, Content-Type, Accept, Idempotency-Key"),
    ("Access-Control-Max-Age", str(PREFLIGHT_MAX_AGE_SECONDS)),
]


def handle(req: Request, state: SimState) -> Response:
    response = _dispatch(req, state)
    response.headers.extend(CORS_HEADERS)
    return response


def _dispatch(req: Request, state: SimState) -> Response:
    path = req.path[len(API_PREFIX) :]
    if req.method == "OPTIONS":
        return Response(204, headers=list(PREFLIGHT_HEADERS))
    if path.endswith(".json"):
        path = path[: -len(".json")]
    elif path.endswith(_UNSUPPORTED_SUFFIXES) or not _accepts_json(req):
        return error_response(ApiError("not_acceptable"))

    if path == "/flattr/bulk" and req.method == "POST":
        return bulk.handle(req, state)
    if path == "/rate_limit" and req.method == "GET":
        return _rate_limit(req, state)  # not rate limited itself
    handler, args = _route(req.method, path)
    return limited(req, state, lambda token: handler(req, state, token, *args))


def _accepts_json(req: Request) -> bool:
    accept = req.header("accept")
    if not accept:
        return True
    media = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return bool(media & _JSON_MEDIA)


def _route(method: str, path: str) -> tuple[Callable[..., Response], tuple[str, ...]]:
    if method == "GET":
        if path in ("", "/"):
            return _hello, ()
        if path in ("/things/lookup", "/things/lookup/"):
            return _lookup, ()
        if path == "/user":
            return _me, ()
        if match := _THING_IDS.match(path):
            return _things, (match.group(1),)
        if match := _USER.match(path):
            return _user, (urllib.parse.unquote(match.group(1)),)
    if method == "POST":
        if path == "/flattr":
            return _flattr_url, ()
        if match := _THING_FLATTR.match(path):
            return _flattr_id, (match.group(1),)
    return _not_found, ()


def _require(token: Token | None, scope: str | None = None) -> Token:
    if token is None:
        raise ApiError("unauthorized")
    if scope is not None and scope not in token.scopes:
        raise ApiError("insufficient_scope", f"The scope '{scope}' is required")
    return token


def _hello(req: Request, state: SimState, token: Token | None) -> Response:
    return json_response(200, {"message": "hello_world"})


def _not_found(req: Request, state: SimState, token: Token | None) -> Response:
    raise ApiError("not_found")


def _rate_limit(req: Request, state: SimState) -> Response:
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


def _me(req: Request, state: SimState, token: Token | None) -> Response:
    viewer = _require(token)
    return json_response(200, user_json(state.accounts.users[viewer.username], req.base, viewer))


def _user(req: Request, state: SimState, token: Token | None, username: str) -> Response:
    user = state.accounts.users.get(username)
    if user is None:
        raise ApiError("not_found", "The requested user could not be found")
    return json_response(200, user_json(user, req.base, token))


def _things(req: Request, state: SimState, token: Token | None, ids: str) -> Response:
    full = "full" in req.query
    # Only a literal comma separates ids; "%2C" stays part of one (invalid) id, as on the server.
    parts = ids.split(",")
    things: list[Thing] = []
    for part in parts:
        thing = state.catalog.things.get(int(part)) if part.isdigit() else None
        if thing is None:
            raise ApiError("not_found")
        things.append(thing)
    rendered = [thing_json(t, req.base, state.accounts, token, full) for t in things]
    return json_response(200, rendered if len(parts) > 1 else rendered[0])


def _lookup(req: Request, state: SimState, token: Token | None) -> Response:
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


def _flattr_url(req: Request, state: SimState, token: Token | None) -> Response:
    viewer = _require(token, "flattr")
    url = req.params_body().get("url")
    if not isinstance(url, str) or not url:
        raise ApiError("invalid_parameters", "The url parameter is required")
    found = state.catalog.resolve(url)
    if found is None:
        raise ApiError("not_found", "No thing or flattrable URL was found")
    return _flattr(req, state, viewer, found)


def _flattr_id(req: Request, state: SimState, token: Token | None, thing_id: str) -> Response:
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
    state.ledger.flattrs.append(
        AcceptedFlattr(thing.url, user.username, time.time(), None, SOURCE_API)
    )
    location = f"{req.base}{API_PREFIX}/things/{thing.id}"
    body: dict[str, Any] = {
        "message": "ok",
        "description": "Thing was successfully flattred",
        "thing": mini_thing(thing, req.base),
        "location": location,  # deprecated but present in real responses
    }
    return json_response(200, body)
