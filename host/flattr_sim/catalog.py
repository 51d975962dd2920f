"""Things and the flattrs of each user: made through POST /flattr, or delivered in bulk."""

from __future__ import annotations

import time
import urllib.parse
from dataclasses import dataclass, field

from .autosubmit import AutoSubmit, parse_auto_submit
from .constants import DEFAULT_CATEGORY, DEFAULT_LANGUAGE, DISCOVERABLE_HOSTS, FIRST_THING_ID
from .error_codes import ApiError
from .partners import is_identity


@dataclass
class Thing:
    id: int
    url: str
    owner: str
    title: str = ""
    description: str = ""
    tags: list[str] = field(default_factory=list)
    language: str = DEFAULT_LANGUAGE
    category: str = DEFAULT_CATEGORY
    hidden: bool = False
    created_at: int = field(default_factory=lambda: int(time.time()))
    updated_at: int = field(default_factory=lambda: int(time.time()))
    last_flattr_at: int | None = None
    flattrs: int = 0
    flattr_users: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class FlattrRecord:
    """One flattr made through the API (POST /flattr or /things/:id/flattr)."""

    id: int
    username: str
    thing_id: int
    created_at: int


@dataclass(frozen=True)
class Candidate:
    """A URL that is not a thing yet but may become one on its first flattr."""

    url: str
    owner: str
    submit: AutoSubmit | None


class Catalog:
    """Not thread-safe on its own; SimState serialises access."""

    def __init__(self) -> None:
        self.things: dict[int, Thing] = {}
        self._by_url: dict[str, int] = {}
        self._next_id = FIRST_THING_ID
        self.discoverable = True
        self.flattrs: list[FlattrRecord] = []

    def reset(self) -> None:
        self.things.clear()
        self._by_url.clear()
        self._next_id = FIRST_THING_ID
        self.discoverable = True
        self.flattrs.clear()

    def by_url(self, url: str) -> Thing | None:
        thing_id = self._by_url.get(url)
        return None if thing_id is None else self.things[thing_id]

    def resolve(self, url: str) -> Thing | Candidate | None:
        """The thing a URL names, a flattrable candidate, or None.

        Raises validation when an auto-submit URL names another owner than the existing thing's.
        """
        submit = parse_auto_submit(url)
        if submit is not None:
            _check_owner(submit)
            thing = self.by_url(submit.url)
            if thing is not None:
                if submit.owner is not None and not thing.owner:
                    thing.owner = submit.owner  # an unclaimed thing goes to the first who names it
                elif submit.owner is not None and submit.owner != thing.owner:
                    raise ApiError(
                        "validation", "Owner mismatch. Current thing owned by other account."
                    )
                return thing
            return Candidate(submit.url, submit.owner or "", submit)
        thing = self.by_url(url)
        if thing is not None:
            return thing
        owner = self._discoverable_owner(url)
        return None if owner is None else Candidate(url, owner, None)

    def _discoverable_owner(self, url: str) -> str | None:
        if not self.discoverable:
            return None
        parts = urllib.parse.urlsplit(url)
        host = (parts.hostname or "").removeprefix("www.")
        if parts.scheme not in ("http", "https") or host not in DISCOVERABLE_HOSTS:
            return None
        segments = [s for s in parts.path.split("/") if s]
        # The profile name is the first path segment on every allow-listed site.
        return f"{host}:{segments[0]}" if segments else None

    def create(self, candidate: Candidate) -> Thing:
        submit = candidate.submit
        thing = Thing(id=self._next_id, url=candidate.url, owner=candidate.owner)
        if submit is not None:
            thing.title = submit.title
            thing.description = submit.description
            thing.tags = list(submit.tags)
            thing.language = submit.language
            thing.category = submit.category
            thing.hidden = submit.hidden
        self._next_id += 1
        self.things[thing.id] = thing
        self._by_url[thing.url] = thing.id
        return thing

    def flattr(self, thing: Thing, username: str) -> None:
        """Apply the flattr rules (owner, once) and count the flattr."""
        if thing.owner == username:
            raise ApiError("flattr_owner")
        if username in thing.flattr_users:
            raise ApiError("flattr_once")
        now = int(time.time())
        thing.flattr_users.add(username)
        thing.flattrs += 1
        thing.last_flattr_at = now
        self.flattrs.append(FlattrRecord(len(self.flattrs) + 1, username, thing.id, now))

    def record_bulk(self, url: str, username: str, now: float) -> None:
        """One delivered bulk element as a flattr of the user (GET /user/flattrs lists it), on the
        thing the URL names: an existing thing, the auto-submit or discoverable thing (created
        now), or a new unclaimed thing for a plain URL. The bulk endpoint records every element, so
        the once-per-thing and owner rules of POST /flattr do not apply."""
        try:
            found = self.resolve(url)
        except ApiError:  # an auto-submit URL naming another owner: no thing to file it under
            return
        if found is None:
            found = Candidate(url, "", None)
        thing = self.create(found) if isinstance(found, Candidate) else found
        thing.flattr_users.add(username)
        thing.flattrs += 1
        thing.last_flattr_at = int(now)
        self.flattrs.append(FlattrRecord(len(self.flattrs) + 1, username, thing.id, int(now)))

    def claim(self, identity: str, username: str) -> int:
        """Give every thing owned by a partner identity to a Flattr user; how many moved."""
        moved = 0
        for thing in self.things.values():
            if thing.owner == identity:
                thing.owner = username
                thing.updated_at = int(time.time())
                moved += 1
        return moved


def _check_owner(submit: AutoSubmit) -> None:
    if submit.ambiguous_owner:
        raise ApiError("validation", "Give either user_id or owner in an auto-submit URL, not both")
    if submit.owner_is_identity and submit.owner is not None and not is_identity(submit.owner):
        raise ApiError(
            "validation",
            f"Unsupported owner identifier {submit.owner!r}: use email:<md5 of the address>, "
            "twitter:user:id:<id> or partner:<namespace>:<id>",
        )
