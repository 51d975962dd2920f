"""JSON shapes of users and things (docs/flattr-api.md#objects), with token-dependent fields."""

from __future__ import annotations

import time
import urllib.parse
from typing import Any

from .catalog import FlattrRecord, Thing
from .partners import is_identity
from .users import Accounts, Token, User


def _q(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def mini_user(username: str, base: str) -> dict[str, Any] | None:
    if not username or is_identity(username):  # unclaimed: no Flattr user owns it yet
        return None
    return {
        "type": "user",
        "resource": f"{base}/rest/v2/users/{_q(username)}",
        "link": f"{base}/user/{_q(username)}",
        "username": username,
    }


def user_json(user: User, base: str, viewer: Token | None = None) -> dict[str, Any]:
    """A full user; email and registered_at only for the user themself with the right scope."""
    data = mini_user(user.username, base) or {}
    data.update(
        {
            "id": user.user_id,
            "url": data["link"],
            "firstname": "",
            "lastname": "",
            "avatar": "",
            "about": "",
            "city": "",
            "country": "",
            "active_supporter": 1 if user.subscription_active else 0,
        }
    )
    if viewer is not None and viewer.username == user.username:
        if viewer.scopes & {"email", "extendedread"}:
            data["email"] = user.email
        if "extendedread" in viewer.scopes:
            data["registered_at"] = user.registered_at
    return data


def mini_thing(thing: Thing, base: str) -> dict[str, Any]:
    return {
        "type": "thing",
        "resource": f"{base}/rest/v2/things/{thing.id}",
        "link": f"{base}/thing/{thing.id}",
        "id": thing.id,
        "url": thing.url,
        "title": thing.title,
        "image": "",
        "flattrs": thing.flattrs,
        "owner": mini_user(thing.owner, base),
    }


def thing_json(
    thing: Thing, base: str, accounts: Accounts, viewer: Token | None, full: bool
) -> dict[str, Any]:
    data = mini_thing(thing, base)
    owner = accounts.users.get(thing.owner)
    if full and owner is not None:
        data["owner"] = user_json(owner, base, viewer)
    data.update(
        {
            "flattrs_user_count": len(thing.flattr_users),
            "description": thing.description,
            "tags": list(thing.tags),
            "language": thing.language,
            "category": thing.category,
            "created_at": thing.created_at,
            "hidden": thing.hidden,
        }
    )
    if viewer is not None:
        data["flattred"] = viewer.username in thing.flattr_users
        data["subscribed"] = False
        if viewer.username == thing.owner:
            data["last_flattr_at"] = thing.last_flattr_at or 0
            data["updated_at"] = thing.updated_at
    return data


def flattr_json(
    record: FlattrRecord,
    thing: Thing,
    base: str,
    accounts: Accounts,
    viewer: Token | None,
    full: bool,
) -> dict[str, Any]:
    """A flattr: the thing (mini, with its owner) and who flattred it (mini user); ``full``
    expands both."""
    flattrer = accounts.users.get(record.username)
    owner: dict[str, Any] | None = mini_user(record.username, base)
    if full and flattrer is not None:
        owner = user_json(flattrer, base, viewer)
    shown = thing_json(thing, base, accounts, viewer, True) if full else mini_thing(thing, base)
    return {
        "type": "flattr",
        "thing": shown,
        "owner": owner,
        "created_at": record.created_at,
    }


def activity_json(record: FlattrRecord, thing: Thing, base: str) -> dict[str, Any]:
    """One Activity Streams item: a user "liked" (flattred) a bookmark (a thing)."""
    published = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(record.created_at))
    day = published[:10]
    name = thing.title or thing.url
    return {
        "published": published,
        "title": f"{record.username} flattred {name}",
        "actor": {
            "displayName": record.username,
            "url": f"{base}/user/{_q(record.username)}",
            "objectType": "person",
        },
        "verb": "like",
        "object": {"displayName": name, "url": thing.url, "objectType": "bookmark"},
        "id": f"tag:flattr.com,{day}:{record.username}/flattr/{record.id}",
    }
