"""Who a page's flattrs go to: the creator the page names, read in one documented order
(docs/attention.md#creator-metadata).

1. ``<link rel="payment">`` to a Flattr auto-submit URL;
2. ``<meta name="flattr:id" content="USER">`` (with the ``flattr:*`` family for the thing's
   details): an auto-submit URL for the page with ``user_id=USER`` (or ``owner=`` for a community
   identifier such as ``twitter:user:id:123``);
3. Flattr button markup in the page (``button_url``): an auto-submit URL, or a Flattr thing link.

The page is hostile input: every value is checked here again, and a value that fails is ignored
(the next declaration, or the page itself, is used instead).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

from . import urls

SOURCE_PAYMENT = "payment_link"
SOURCE_META = "flattr_meta"
SOURCE_BUTTON = "button"
KIND_USER = "user"  # a Flattr username (user_id=)
KIND_OWNER = "owner"  # a community identifier (owner=), claimed by its owner later
KIND_THING = "thing"  # a registered Flattr thing
AUTO_SUBMIT_BASE = "https://flattr.com/submit/auto"
THING_BASE = "https://flattr.com/thing/"
# A Flattr username; a community identifier is "<namespace>:<id>" (e.g. email:<md5>,
# twitter:user:id:123, partner:<namespace>:<id>).
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
OWNER_RE = re.compile(r"^[a-z][a-z0-9_-]*(:[A-Za-z0-9_.@+-]+)+$")
THING_PATH_RE = re.compile(r"^/thing/(\d{1,18})(/[^/]*)?/?$")
# The flattr:* meta tags (and auto-submit parameters) describing the thing, in URL order.
THING_PARAMS = ("title", "description", "language", "tags", "category", "hidden")
MAX_PARAM_LENGTH = 1024


@dataclass(frozen=True)
class Creator:
    submit_url: str  # what is submitted to Flattr
    name: str | None  # username, community identifier or thing id; None when the URL names none
    kind: str | None
    source: str


def named_in(auto_submit: str) -> tuple[str | None, str | None]:
    """The (name, kind) an auto-submit URL names: ``user_id``, else ``owner``."""
    params = dict(parse_qsl(urlsplit(auto_submit).query, keep_blank_values=True))
    if params.get("user_id"):
        return params["user_id"], KIND_USER
    if params.get("owner"):
        return params["owner"], KIND_OWNER
    return None, None


def thing_link(href: str | None) -> str | None:
    """``https://flattr.com/thing/<id>`` for a link to a Flattr thing (http or https, any slug)."""
    if not href or len(href) > urls.MAX_SUBMIT_URL_LENGTH:
        return None
    parts = urlsplit(href.strip())
    match = THING_PATH_RE.match(parts.path)
    host = (parts.hostname or "").lower()
    if parts.scheme not in urls.HTTP_SCHEMES or host != urls.AUTO_SUBMIT_HOST or parts.port:
        return None
    if match is None or parts.username or parts.password:
        return None
    return THING_BASE + match.group(1)


def build_auto_submit(page: str, flattr_id: str, params: dict[str, str]) -> str | None:
    """The auto-submit URL for ``page`` owned by ``flattr_id`` (username or community id)."""
    who = owner_param(flattr_id)
    if who is None:
        return None
    query = [("url", page), who]
    for key in THING_PARAMS:
        value = (params.get(key) or "").strip()
        if value and len(value) <= MAX_PARAM_LENGTH:
            query.append((key, value))
    return urls.valid_auto_submit(f"{AUTO_SUBMIT_BASE}?{urlencode(query)}")


def owner_param(flattr_id: str) -> tuple[str, str] | None:
    """``("user_id", name)`` for a Flattr username, ``("owner", id)`` for a community identifier,
    None for anything else."""
    flattr_id = flattr_id.strip()
    if USERNAME_RE.match(flattr_id):
        return ("user_id", flattr_id)
    if OWNER_RE.match(flattr_id) and len(flattr_id) <= urls.MAX_FLATTR_ID_LENGTH:
        return ("owner", flattr_id)
    return None


def names_a_creator(meta: urls.PageMeta) -> bool:
    """Whether any declaration in ``meta`` is valid (the page declares Flattr metadata)."""
    return (
        urls.valid_auto_submit(meta.payment_url) is not None
        or (bool(meta.flattr_id) and owner_param(meta.flattr_id or "") is not None)
        or urls.valid_auto_submit(meta.button_url) is not None
        or thing_link(meta.button_url) is not None
    )


def declared(page_url: str, meta: urls.PageMeta) -> Creator | None:
    """The creator the page declares, by the order above; None when it declares none."""
    payment = urls.valid_auto_submit(meta.payment_url)
    if payment is not None:
        return Creator(payment, *named_in(payment), SOURCE_PAYMENT)
    if meta.flattr_id:
        page = urls.page_target(page_url, meta)
        built = build_auto_submit(page, meta.flattr_id, dict(meta.flattr_params))
        if built is not None:
            return Creator(built, *named_in(built), SOURCE_META)
    button = urls.valid_auto_submit(meta.button_url)
    if button is not None:
        return Creator(button, *named_in(button), SOURCE_BUTTON)
    thing = thing_link(meta.button_url)
    if thing is not None:
        return Creator(thing, thing.rsplit("/", 1)[1], KIND_THING, SOURCE_BUTTON)
    return None


@functools.lru_cache(maxsize=urls.URL_CACHE_SIZE)
def resolve_target(page_url: str, meta: urls.PageMeta) -> str:
    """The URL to submit for this page: the creator's auto-submit or thing URL when the page
    declares one (``declared``), else ``urls.page_target``."""
    creator = declared(page_url, meta)
    return creator.submit_url if creator is not None else urls.page_target(page_url, meta)
