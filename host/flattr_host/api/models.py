"""The API's objects as typed models.

Lenient on purpose: real answers mixed ``"hidden": 0`` with ``false`` and sent
``"flattrs_user_count": "1"`` as a string, and fields come and go with the token, the scope and
``full``. Unknown fields are kept (``model_extra``) rather than refused.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ActivityType = Literal["outgoing", "incoming"]
SearchSort = Literal[
    "relevance", "trend", "flattrs", "flattrs_month", "flattrs_week", "flattrs_day"
]
_THING_ID_AT_END = re.compile(r"/things/(\d+)(?:\.json)?/?$")


class Model(BaseModel):
    # Validators are built at first use: the host imports the client at every start.
    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)


class User(Model):
    """A user; the mini form has only type, resource, link and username. ``email`` needs the
    email or extendedread scope, ``registered_at`` extendedread (and only for yourself)."""

    type: str = "user"
    resource: str = ""
    link: str = ""
    username: str
    id: str | None = None
    url: str | None = None
    firstname: str | None = None
    lastname: str | None = None
    avatar: str | None = None
    about: str | None = None
    city: str | None = None
    country: str | None = None
    email: str | None = None
    registered_at: int | None = None
    active_supporter: bool | None = None


class Thing(Model):
    """A thing; the mini form (inside flattrs and flattr answers) lacks the description fields.
    ``flattred`` and ``subscribed`` come with a token, ``last_flattr_at`` and ``updated_at`` only
    for the owner. ``owner`` is None for a thing nobody has claimed yet."""

    type: str = "thing"
    resource: str = ""
    link: str = ""
    id: int
    url: str
    title: str = ""
    image: str = ""
    flattrs: int = 0
    owner: User | None = None
    flattrs_user_count: int | None = None
    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    language: str | None = None
    category: str | None = None
    created_at: int | None = None
    hidden: bool | None = None
    flattred: bool | None = None
    subscribed: bool | None = None
    last_flattr_at: int | None = None
    updated_at: int | None = None


class Flattr(Model):
    """One flattr: the thing (mini unless ``full``) and who flattred it."""

    type: str = "flattr"
    thing: Thing
    owner: User | None = None
    created_at: int


class FlattrResult(Model):
    """The answer to POST /things/:id/flattr and POST /flattr."""

    message: str
    description: str = ""
    thing: Thing | None = None
    location: str | None = None  # deprecated, still sent


class BulkSubscription(Model):
    active: bool


class BulkResult(Model):
    """POST /flattr/bulk's answer (undocumented; the one published body)."""

    status: str | None = None
    subscription: BulkSubscription | None = None
    sandboxed: bool | None = None


class SearchResult(Model):
    total_items: int
    items: int
    page: int
    things: list[Thing]


class Lookup(Model):
    """GET /things/lookup: ``found`` (a thing, see ``thing_id``), ``flattrable`` (not a thing yet
    but flattring it creates one) or ``not_found``."""

    message: str
    location: str | None = None
    url: str | None = None
    description: str | None = None

    @property
    def thing_id(self) -> int | None:
        match = _THING_ID_AT_END.search(self.location or "")
        return int(match.group(1)) if match else None


class ActivityActor(Model):
    displayName: str
    url: str = ""
    objectType: str = "person"


class ActivityObject(Model):
    displayName: str
    url: str = ""
    objectType: str = "bookmark"


class Activity(Model):
    published: str
    title: str = ""
    actor: ActivityActor
    verb: str
    object: ActivityObject
    id: str


class ActivityStream(Model):
    items: list[Activity]


class RateLimitStatus(Model):
    """GET /rate_limit. ``reset_time_in_seconds`` is an absolute unix time despite its name."""

    hourly_limit: int
    remaining_hits: int
    current_hits: int
    reset_time_in_seconds: int
    reset_time: str = ""


class Category(Model):
    id: str
    text: str


class Language(Model):
    id: str
    text: str


class ErrorBody(Model):
    """The documented error body."""

    error: str
    error_description: str = ""
    error_uri: str | None = None
