"""GET /things/search: filters, the tag expression language and the sort orders
(docs/flattr-api.md, "Search" under Endpoints)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable

from .catalog import FlattrRecord, Thing
from .constants import SEARCH_SORTS
from .error_codes import ApiError

DAY_SECONDS = 86_400
# flattrs_<window>: flattrs received within this many seconds.
_WINDOWS = {"flattrs_day": DAY_SECONDS, "flattrs_week": 7 * DAY_SECONDS}
_WINDOWS["flattrs_month"] = 30 * DAY_SECONDS
_WINDOWS["trend"] = _WINDOWS["flattrs_week"]  # "trending": most flattrs this week
_TAG_TOKEN = re.compile(r"\s*([|&!]|[^|&!\s]+)")


def tag_matcher(expression: str) -> Callable[[Iterable[str]], bool]:
    """``game | games ! software``: | is OR, & is AND, ! is AND NOT (NOT when it leads), read
    left to right; two tags with no operator between them mean AND."""
    tokens = [t for t in _TAG_TOKEN.findall(expression) if t.strip()]
    if not tokens:
        raise ApiError("invalid_parameters", "tags is empty")
    steps: list[tuple[str, str]] = []
    pending, explicit = "&", False
    for token in tokens:
        if token in ("|", "&", "!"):
            if explicit:
                raise ApiError("invalid_parameters", f"two operators in a row: {expression!r}")
            pending, explicit = token, True
            continue
        steps.append((pending, token.lower()))
        pending, explicit = "&", False
    if explicit or not steps:
        raise ApiError("invalid_parameters", f"tags ends with an operator: {expression!r}")

    def matches(tags: Iterable[str]) -> bool:
        have = {t.lower() for t in tags}
        result = True
        for index, (op, tag) in enumerate(steps):
            hit = tag in have
            if index == 0:
                result = not hit if op == "!" else hit
            elif op == "|":
                result = result or hit
            elif op == "!":
                result = result and not hit
            else:
                result = result and hit
        return result

    return matches


def _comma_list(value: str | None) -> set[str] | None:
    if value is None:
        return None
    items = {v.strip() for v in value.split(",") if v.strip()}
    return items or None


def search(
    things: Iterable[Thing],
    flattrs: list[FlattrRecord],
    *,
    query: str | None,
    url: str | None,
    tags: str | None,
    language: str | None,
    category: str | None,
    user: str | None,
    sort: str | None,
    visible: Callable[[Thing], bool],
) -> list[Thing]:
    """The things matching every given filter, in the asked order."""
    order = sort or "relevance"
    if order not in SEARCH_SORTS:
        raise ApiError("invalid_parameters", f"sort must be one of {', '.join(SEARCH_SORTS)}")
    words = (query or "").lower().split()
    tag_ok = tag_matcher(tags) if tags is not None and tags.strip() else None
    languages, categories = _comma_list(language), _comma_list(category)

    def relevance(thing: Thing) -> int:
        text = " ".join([thing.title, thing.description, thing.url, *thing.tags]).lower()
        return sum(text.count(word) for word in words)

    found = [
        t
        for t in things
        if visible(t)
        and (url is None or t.url == url)
        and (user is None or t.owner == user)
        and (languages is None or t.language in languages)
        and (categories is None or t.category in categories)
        and (tag_ok is None or tag_ok(t.tags))
        and (not words or relevance(t) > 0)
    ]
    if order == "relevance":
        return sorted(found, key=lambda t: (-relevance(t), -t.id))
    if order == "flattrs":
        return sorted(found, key=lambda t: (-t.flattrs, -t.id))
    since = time.time() - _WINDOWS[order]
    recent: dict[int, int] = {}
    for record in flattrs:
        if record.created_at >= since:
            recent[record.thing_id] = recent.get(record.thing_id, 0) + 1
    return sorted(found, key=lambda t: (-recent.get(t.id, 0), -t.id))
