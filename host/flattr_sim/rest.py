"""The api.flattr.com role: everything under /rest/v2.

Formats (docs/flattr-api.md#formats): JSON by default, chosen by a ".json" suffix or the Accept
header; the activity feeds also speak Activity Streams (".as", application/stream+json); every
other documented format is 406 not_acceptable. ``jsonp=<callback>`` wraps any JSON answer.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Callable

from . import bulk, endpoints
from .constants import API_PREFIX, JSONP_CALLBACK_PATTERN, JSONP_CONTENT_TYPE
from .error_codes import ApiError
from .messages import Request, Response, error_response
from .metering import limited
from .state import SimState

JSON_FORMAT = "json"
ACTIVITY_FORMAT = "as"
# Suffix formats the docs list but this server does not render (docs/flattr-api.md#formats): 406.
_UNSUPPORTED_SUFFIXES = (".xml", ".yaml", ".atom", ".txt")
_JSON_MEDIA = frozenset({"application/json", "application/*", "*/*"})
_ACTIVITY_MEDIA = frozenset({"application/stream+json"})
_JSONP_CALLBACK = re.compile(JSONP_CALLBACK_PATTERN)
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

Handler = Callable[..., Response]


def handle(req: Request, state: SimState) -> Response:
    response = _dispatch(req, state)
    response.headers.extend(CORS_HEADERS)
    return response


def _dispatch(req: Request, state: SimState) -> Response:
    path = req.path[len(API_PREFIX) :]
    if req.method == "OPTIONS":
        return Response(204, headers=list(PREFLIGHT_HEADERS))
    path, fmt = _negotiate(req, path)
    if fmt is None:
        return error_response(ApiError("not_acceptable"))
    if path == "/flattr/bulk" and req.method == "POST":
        return bulk.handle(req, state)  # its own fault handling and request log
    callback = req.arg("jsonp")
    if callback is not None and not _JSONP_CALLBACK.match(callback):
        return error_response(
            ApiError("invalid_parameters", "jsonp must be a JavaScript identifier")
        )
    with state.lock:
        step = state.faults.next_step(path)
    if step is not None and step.delay:
        time.sleep(step.delay)  # outside the lock: other requests keep being served
    if step is not None and step.replaces_answer and not step.accept:
        return bulk.fault_answer(step)
    response = _answer(req, state, path, fmt)
    if step is not None and step.replaces_answer:
        return bulk.fault_answer(step)
    return _jsonp(response, callback) if callback is not None else response


def _answer(req: Request, state: SimState, path: str, fmt: str) -> Response:
    if path == "/rate_limit" and req.method == "GET":
        return endpoints.rate_limit(req, state)  # not rate limited itself
    handler, args = _route(req.method, path)
    if fmt == ACTIVITY_FORMAT and handler not in ACTIVITY_HANDLERS:
        return error_response(ApiError("not_acceptable", "Activity Streams only for activities"))
    return limited(req, state, lambda token: handler(req, state, token, *args))


def _negotiate(req: Request, path: str) -> tuple[str, str | None]:
    """The path without its format suffix and the format asked for (None: not acceptable)."""
    if path.endswith(".json"):
        return path[: -len(".json")], JSON_FORMAT
    if path.endswith(".as"):
        return path[: -len(".as")], ACTIVITY_FORMAT
    if path.endswith(_UNSUPPORTED_SUFFIXES):
        return path, None
    accept = req.header("accept")
    if not accept:
        return path, JSON_FORMAT
    media = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    if media & _JSON_MEDIA:
        return path, JSON_FORMAT
    if media & _ACTIVITY_MEDIA:
        return path, ACTIVITY_FORMAT
    return path, None


def _jsonp(response: Response, callback: str) -> Response:
    """callback(<json>); the status and headers stay (rate-limit headers included)."""
    if response.drop or not response.body:
        return response
    response.body = f"/**/{callback}(".encode() + response.body + b");"
    response.content_type = JSONP_CONTENT_TYPE
    return response


_SEGMENT = r"([^/]+)"
_GET_ROUTES: list[tuple[re.Pattern[str], Handler]] = [
    (re.compile(r"^/?$"), endpoints.hello),
    (re.compile(r"^/user$"), endpoints.me),
    (re.compile(r"^/user/things$"), endpoints.my_things),
    (re.compile(r"^/user/flattrs$"), endpoints.my_flattrs),
    (re.compile(r"^/user/activities$"), endpoints.my_activities),
    (re.compile(rf"^/users/{_SEGMENT}$"), endpoints.user_profile),
    (re.compile(rf"^/users/{_SEGMENT}/things$"), endpoints.user_things),
    (re.compile(rf"^/users/{_SEGMENT}/flattrs$"), endpoints.user_flattrs),
    (re.compile(rf"^/users/{_SEGMENT}/activities$"), endpoints.user_activities),
    (re.compile(r"^/things$"), endpoints.things_query),
    (re.compile(r"^/things/lookup/?$"), endpoints.lookup),
    (re.compile(r"^/things/search$"), endpoints.search_things),
    (re.compile(rf"^/things/{_SEGMENT}$"), endpoints.things_by_ids),
    (re.compile(rf"^/things/{_SEGMENT}/flattrs$"), endpoints.thing_flattrs),
    (re.compile(r"^/categories$"), endpoints.categories),
    (re.compile(r"^/languages$"), endpoints.languages),
]
_POST_ROUTES: list[tuple[re.Pattern[str], Handler]] = [
    (re.compile(r"^/flattr$"), endpoints.flattr_url),
    (re.compile(r"^/things/([0-9]+)/flattr$"), endpoints.flattr_thing),
    (re.compile(r"^/user/verify$"), endpoints.verify_me),
    (re.compile(rf"^/users/{_SEGMENT}/verify$"), endpoints.verify_user),
]
# Only these speak Activity Streams (".as").
ACTIVITY_HANDLERS: frozenset[Handler] = frozenset(
    {endpoints.my_activities, endpoints.user_activities}
)


def _route(method: str, path: str) -> tuple[Handler, tuple[str, ...]]:
    table = _GET_ROUTES if method == "GET" else _POST_ROUTES if method == "POST" else []
    for pattern, handler in table:
        if match := pattern.match(path):
            groups = match.groups()
            # Thing ids stay raw: only a literal comma separates them ("%2C" does not).
            raw = handler is endpoints.things_by_ids
            return handler, groups if raw else tuple(urllib.parse.unquote(g) for g in groups)
    return endpoints.not_found, ()
