"""Auto-submit URLs: https://flattr.com/submit/auto?… (docs/flattr-api.md#auto-submit-urls)."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field

from .constants import AUTO_SUBMIT_PREFIXES, DEFAULT_CATEGORY, DEFAULT_LANGUAGE


@dataclass(frozen=True)
class AutoSubmit:
    url: str  # the inner URL: the thing's identity
    owner: str | None  # user_id, or a partner identifier given as owner=
    # owner= (a partner identifier) rather than user_id= (a Flattr username).
    owner_is_identity: bool = False
    # Both user_id= and owner= were given: exactly one is allowed.
    ambiguous_owner: bool = False
    title: str = ""
    description: str = ""
    language: str = DEFAULT_LANGUAGE
    category: str = DEFAULT_CATEGORY
    tags: list[str] = field(default_factory=list)
    hidden: bool = False


def is_auto_submit(url: str) -> bool:
    head = url.split("?", 1)[0].rstrip("/")
    return head in AUTO_SUBMIT_PREFIXES


def parse_auto_submit(url: str) -> AutoSubmit | None:
    """The decoded parameters, or None when url is not an auto-submit URL or has no inner url."""
    if not is_auto_submit(url):
        return None
    params = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query, keep_blank_values=True)

    def first(name: str) -> str:
        values = params.get(name)
        return values[0] if values else ""

    inner = first("url")
    if not inner:
        return None
    tags = [tag.strip() for tag in first("tags").split(",") if tag.strip()]
    return AutoSubmit(
        url=inner,
        owner=first("user_id") or first("owner") or None,
        owner_is_identity=bool(first("owner")) and not first("user_id"),
        ambiguous_owner=bool(first("owner")) and bool(first("user_id")),
        title=first("title"),
        description=first("description"),
        language=first("language") or DEFAULT_LANGUAGE,
        category=first("category") or DEFAULT_CATEGORY,
        tags=tags,
        hidden=first("hidden") in ("1", "true"),
    )
