"""The control interface under /_sim/: how tests drive and inspect the server (JSON both ways).

POST /_sim/reset        {"users": bool}  forget requests, flattrs, things, faults, limits, codes
POST /_sim/users        {"username", "token"?, "subscription_active"?, "means"?, "hide_flattrs"?}
POST /_sim/revoke       {"token"} or {"username"}  those tokens get 401 from now on
POST /_sim/subscription {"username"?, "active"?, "legacy_402"?}  legacy_402 is server-wide
POST /_sim/faults       {"script": [step...], "reject_urls": [...], "dedupe": bool|null}
POST /_sim/rate_limit   {"limit"?, "remaining"?, "reset_in"?}  one window for every token
POST /_sim/app          {"client_id"?, "client_secret"?, "redirect_uri"?, "echo_state"?,
                         "code_ttl"?}
POST /_sim/things       {"url", "owner", "title"?, "description"?, "tags"?, "language"?,
                         "category"?, "hidden"?}  a thing as if registered on flattr.com
POST /_sim/partners     {"name", "namespaces": [...], "webhook_url"?, "token"?}
GET  /_sim/received | /_sim/flattrs | /_sim/faults | /_sim/things | /_sim/webhooks | /_sim/health
Omitted or null fields leave a setting unchanged; a bad request gets 400 {"error": why}.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .autosubmit import AutoSubmit
from .catalog import Candidate
from .constants import DEFAULT_CATEGORY, DEFAULT_LANGUAGE
from .faults import parse_step
from .messages import Request, Response, json_response
from .partners import Partner, check_webhook_url
from .state import SimState
from .users import valid_username

CONTROL_PREFIX = "/_sim"


class ControlError(Exception):
    """A bad control request: 400 with {"error": message}."""


def handle(req: Request, state: SimState) -> Response:
    name = req.path[len(CONTROL_PREFIX) :].strip("/")
    route = _GET.get(name) if req.method == "GET" else _POST.get(name)
    if route is None:
        return json_response(404, {"error": f"no control endpoint {req.method} /_sim/{name}"})
    try:
        body = _body(req) if req.method == "POST" else {}
        with state.lock:
            return json_response(200, route(state, body))
    except ControlError as exc:
        return json_response(400, {"error": str(exc)})


def _body(req: Request) -> dict[str, Any]:
    if not req.body.strip():
        return {}
    try:
        data = json.loads(req.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ControlError(f"malformed JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ControlError("the body must be a JSON object")
    return data


def _opt(body: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    """body[key] if present and not null, checked against kind (bools are not numbers here)."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) and kind is not bool:
        raise ControlError(f"{key} must not be a boolean")
    if not isinstance(value, kind):
        raise ControlError(f"{key} has the wrong type")
    return value


def _username(body: dict[str, Any], state: SimState, *, must_exist: bool) -> str:
    name = _opt(body, "username", str) or state.accounts.demo_username
    if not valid_username(name):
        raise ControlError(f"invalid username {name!r}")
    if must_exist and name not in state.accounts.users:
        raise ControlError(f"no user {name!r}")
    return str(name)


def _health(state: SimState, body: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True}


def _reset(state: SimState, body: dict[str, Any]) -> dict[str, Any]:
    state.reset(users=bool(_opt(body, "users", bool)))
    return {"ok": True}


def _users(state: SimState, body: dict[str, Any]) -> dict[str, Any]:
    username = _username(body, state, must_exist=False)
    token = _opt(body, "token", str)
    if token is not None and not token:
        raise ControlError("token must not be empty")
    means = _opt(body, "means", int)
    user = state.accounts.upsert_user(
        username,
        token,
        subscription_active=_opt(body, "subscription_active", bool),
        means=means,
        hide_flattrs=_opt(body, "hide_flattrs", bool),
    )
    return {
        "ok": True,
        "username": user.username,
        "subscription_active": user.subscription_active,
        "means": user.means,
    }


def _revoke(state: SimState, body: dict[str, Any]) -> dict[str, Any]:
    token = _opt(body, "token", str)
    if token:
        return {"ok": True, "revoked": 1 if state.accounts.revoke(token) else 0}
    if body.get("username"):
        username = _username(body, state, must_exist=True)
        return {"ok": True, "revoked": state.accounts.revoke_user(username)}
    raise ControlError("give token (one token) or username (all of that user's tokens)")


def _subscription(state: SimState, body: dict[str, Any]) -> dict[str, Any]:
    username = _username(body, state, must_exist=True)
    user = state.accounts.users[username]
    active = _opt(body, "active", bool)
    if active is not None:
        user.subscription_active = active
    legacy = _opt(body, "legacy_402", bool)
    if legacy is not None:
        state.legacy_402 = legacy  # server-wide, like the pre-2018 server
    return {"ok": True, "active": user.subscription_active, "legacy_402": state.legacy_402}


def _set_faults(state: SimState, body: dict[str, Any]) -> dict[str, Any]:
    raw_script = _opt(body, "script", list) or []
    try:
        script = [parse_step(step) for step in raw_script]
    except ValueError as exc:
        raise ControlError(f"bad fault step: {exc}") from exc
    reject = _opt(body, "reject_urls", list) or []
    if not all(isinstance(url, str) for url in reject):
        raise ControlError("reject_urls must be a list of strings")
    state.faults.replace(script, reject, _opt(body, "dedupe", bool))
    return {"ok": True, **state.faults.to_json()}


def _get_faults(state: SimState, body: dict[str, Any]) -> dict[str, Any]:
    return {**state.faults.to_json(), "dedupe_effective": state.dedupe}


def _rate_limit(state: SimState, body: dict[str, Any]) -> dict[str, Any]:
    limit = _opt(body, "limit", int)
    remaining = _opt(body, "remaining", int)
    reset_in = _opt(body, "reset_in", (int, float))
    if (limit is not None and limit < 0) or (remaining is not None and remaining < 0):
        raise ControlError("limit and remaining must not be negative")
    if reset_in is not None and reset_in <= 0:
        raise ControlError("reset_in must be positive")
    state.rate_limiter.configure(limit, remaining, reset_in)
    return {"ok": True, "limit": state.rate_limiter.limit}


def _app(state: SimState, body: dict[str, Any]) -> dict[str, Any]:
    app = state.accounts.app
    for key in ("client_id", "client_secret", "redirect_uri"):
        value = _opt(body, key, str)
        if value is not None:
            setattr(app, key, value)
    echo = _opt(body, "echo_state", bool)
    if echo is not None:
        app.echo_state = echo
    ttl = _opt(body, "code_ttl", (int, float))
    if ttl is not None:
        if ttl < 0:
            raise ControlError("code_ttl must not be negative")
        app.code_ttl_seconds = float(ttl)
    # The secret is the test's own value; echoing it back is harmless and handy.
    return {
        "ok": True,
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "redirect_uri": app.redirect_uri,
        "echo_state": app.echo_state,
    }


def _received(state: SimState, body: dict[str, Any]) -> dict[str, Any]:
    return {"requests": [entry.to_json() for entry in state.journal.received]}


def _flattrs(state: SimState, body: dict[str, Any]) -> dict[str, Any]:
    return {"flattrs": [entry.to_json() for entry in state.journal.flattrs]}


def _add_thing(state: SimState, body: dict[str, Any]) -> dict[str, Any]:
    url, owner = _opt(body, "url", str), _opt(body, "owner", str)
    if not url or not owner:
        raise ControlError("url and owner are required")
    if state.catalog.by_url(url) is not None:
        raise ControlError(f"{url} is already a thing")
    tags = _opt(body, "tags", list) or []
    if not all(isinstance(tag, str) for tag in tags):
        raise ControlError("tags must be a list of strings")
    submit = AutoSubmit(
        url=url,
        owner=owner,
        title=_opt(body, "title", str) or "",
        description=_opt(body, "description", str) or "",
        language=_opt(body, "language", str) or DEFAULT_LANGUAGE,
        category=_opt(body, "category", str) or DEFAULT_CATEGORY,
        tags=list(tags),
        hidden=bool(_opt(body, "hidden", bool)),
    )
    thing = state.catalog.create(Candidate(url, owner, submit))
    return {"ok": True, "id": thing.id}


def _partners(state: SimState, body: dict[str, Any]) -> dict[str, Any]:
    name = _opt(body, "name", str)
    namespaces = _opt(body, "namespaces", list) or []
    if not name or not namespaces or not all(isinstance(n, str) for n in namespaces):
        raise ControlError('give a name and namespaces, e.g. ["partner:example", "email"]')
    webhook = _opt(body, "webhook_url", str)
    if webhook is not None:
        try:
            check_webhook_url(webhook)
        except ValueError as exc:
            raise ControlError(str(exc)) from None
    token = _opt(body, "token", str)
    state.partners.by_name[name] = Partner(name, frozenset(namespaces), webhook, token)
    return {"ok": True, "name": name, "namespaces": sorted(namespaces), "webhook_url": webhook}


def _webhooks(state: SimState, body: dict[str, Any]) -> dict[str, Any]:
    return {"deliveries": [d.to_json() for d in state.partners.deliveries]}


def _things(state: SimState, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "things": [
            {"id": t.id, "url": t.url, "owner": t.owner, "flattrs": t.flattrs}
            for t in state.catalog.things.values()
        ]
    }


Route = Callable[[SimState, dict[str, Any]], dict[str, Any]]
_GET: dict[str, Route] = {
    "health": _health,
    "received": _received,
    "flattrs": _flattrs,
    "faults": _get_faults,
    "things": _things,
    "webhooks": _webhooks,
}
_POST: dict[str, Route] = {
    "reset": _reset,
    "users": _users,
    "revoke": _revoke,
    "subscription": _subscription,
    "faults": _set_faults,
    "rate_limit": _rate_limit,
    "app": _app,
    "things": _add_thing,
    "partners": _partners,
}
