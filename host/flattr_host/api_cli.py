"""``flattr-host api …``: Flattr's REST API from the terminal, as the signed-in account.

A readable table by default, ``--json`` for scripts. Listings fetch one page unless ``--pages N``
or ``--all`` asks for more; a progress line on stderr tells how far a long walk got.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict

from . import accounts
from .settings import Settings

if TYPE_CHECKING:  # the client (httpx, pydantic) loads only when an api command runs
    from .api import FlattrClient, FlattrError
    from .api.models import Activity, Flattr, Thing
    from .api.paging import PageHook

PROG = "flattr-host api"
# The API's default page size.
DEFAULT_PAGE_COUNT = 30
MAX_COLUMN = 60
SORTS = ("relevance", "trend", "flattrs", "flattrs_month", "flattrs_week", "flattrs_day")


def add_parser(sub: Any) -> None:
    api = sub.add_parser("api", help="Flattr's REST API as the signed-in account (`api --help`)")
    commands = api.add_subparsers(dest="api_command", metavar="COMMAND", required=True)

    def command(name: str, help: str, *, paged: bool = False) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = commands.add_parser(name, help=help)
        p.add_argument("--json", action="store_true", help="JSON for scripts instead of a table")
        if paged:
            p.add_argument(
                "--count",
                type=_positive,
                default=DEFAULT_PAGE_COUNT,
                help=f"items per page (default {DEFAULT_PAGE_COUNT})",
            )
            p.add_argument("--page", type=_positive, default=1, help="first page (default 1)")
            pages = p.add_mutually_exclusive_group()
            pages.add_argument(
                "--pages", type=_positive, default=1, help="how many pages to fetch (default 1)"
            )
            pages.add_argument("--all", action="store_true", help="every page")
        return p

    user = command("user", "a user (default: you)")
    user.add_argument("username", nargs="?")
    flattrs = command(
        "flattrs", "flattrs made by you, a user (--user) or on a thing (--thing)", paged=True
    )
    who = flattrs.add_mutually_exclusive_group()
    who.add_argument("--user", metavar="U")
    who.add_argument("--thing", metavar="ID", type=_positive)
    things = command("things", "things owned by you or a user (--user)", paged=True)
    things.add_argument("--user", metavar="U")
    thing = command("thing", "one or several things by id")
    thing.add_argument("ids", nargs="+", type=_positive, metavar="ID")
    lookup = command("lookup", "is this URL a thing, or flattrable?")
    lookup.add_argument("url")
    search = command("search", "search things", paged=True)
    search.add_argument("--query", help="free text")
    search.add_argument("--url")
    search.add_argument("--tags", help="| or, & and, ! not: 'game | games ! software'")
    search.add_argument("--language", help="e.g. en_GB, or several: en_GB,sv_SE")
    search.add_argument("--category", help="e.g. text, or several: text,software")
    search.add_argument("--user", metavar="U", help="owner's username")
    search.add_argument("--sort", choices=SORTS)
    activities = command("activities", "what you (or --user) did, or what others did (incoming)")
    activities.add_argument("--user", metavar="U")
    activities.add_argument("--type", choices=("outgoing", "incoming"), default="outgoing")
    command("categories", "thing categories")
    command("languages", "thing languages")
    command("rate-limit", "how many requests are left this hour")
    flattr = command("flattr", "flattr a thing (by id) or a URL (also auto-submit URLs)")
    flattr.add_argument("target", metavar="URL|THING")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def run(conn: sqlite3.Connection, settings: Settings, args: argparse.Namespace) -> int:
    from .api import FlattrClient, FlattrError

    account = accounts.current(conn)
    token = account.token if account is not None else None
    try:
        with FlattrClient.from_settings(settings, token, on_wait=_waiting) as client:
            handler = _COMMANDS[args.api_command]
            return handler(client, args)
    except FlattrError as exc:
        print(f"{PROG}: {_explain(exc, signed_in=token is not None)}", file=sys.stderr)
        return 1


def _explain(exc: FlattrError, *, signed_in: bool) -> str:
    from .api import (
        ConfigError,
        FlattrOnce,
        FlattrOwner,
        InsufficientScope,
        NoMeans,
        NotFound,
        RateLimitExceeded,
        TransportError,
        Unauthorized,
    )

    if isinstance(exc, Unauthorized):
        if signed_in:
            return "Flattr rejected the stored token. Sign in again: flattr-host login"
        return "this needs a signed-in account. Sign in first: flattr-host login"
    if isinstance(exc, InsufficientScope):
        missing = exc.description or str(exc)
        return f"{missing}. Sign in with that scope: flattr-host login --scope flattr"
    if isinstance(exc, NotFound):
        return f"not found ({exc.description or 'no such resource'})"
    if isinstance(exc, FlattrOnce):
        return "you have already flattred this thing"
    if isinstance(exc, FlattrOwner):
        return "this is your own thing: owners cannot flattr their things"
    if isinstance(exc, NoMeans):
        return "your Flattr account has no means to flattr with; top it up on flattr.com"
    if isinstance(exc, RateLimitExceeded):
        return str(exc.args[0]) if exc.args else "the hourly request limit is used up"
    if isinstance(exc, TransportError | ConfigError):
        return f"{exc} (the API base comes from FLATTR_API_BASE or api_base in settings.json)"
    return str(exc)


def _waiting(seconds: float) -> None:
    print(f"rate limit reached: waiting {seconds:.0f} s for the next window…", file=sys.stderr)


# --- output ---------------------------------------------------------------------------------


def _print_json(value: Any) -> None:
    from pydantic import BaseModel

    def plain(item: Any) -> Any:
        if isinstance(item, BaseModel):
            return item.model_dump(mode="json", exclude_none=True)
        if isinstance(item, list):
            return [plain(i) for i in item]
        return item

    print(json.dumps(plain(value), indent=2, ensure_ascii=False))


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    text = " ".join(text.split())
    return text if len(text) <= MAX_COLUMN else text[: MAX_COLUMN - 1] + "…"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], empty: str) -> None:
    cells = [[_cell(v) for v in row] for row in rows]
    if not cells:
        print(empty)
        return
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    for line in [list(headers), *cells]:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())


def _when(ts: int | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def _progress(noun: str) -> tuple[PageHook, Callable[[], None]]:
    """A progress line on stderr once more than one page is fetched."""
    tty = sys.stderr.isatty()
    calls = [0]
    shown = [False]

    def on_page(page: int, seen: int, total: int | None) -> None:
        calls[0] += 1
        if calls[0] == 1:
            return  # one page needs no progress line
        shown[0] = True
        of = f" of {total}" if total is not None else ""
        line = f"fetched page {page}: {seen}{of} {noun}"
        if tty:
            print(f"\r{line}", end="", file=sys.stderr, flush=True)
        else:
            print(line, file=sys.stderr, flush=True)

    def done() -> None:
        if tty and shown[0]:
            print(file=sys.stderr)

    return on_page, done


def _show(
    args: argparse.Namespace,
    value: Any,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    empty: str,
) -> int:
    """``value`` as JSON with --json, else ``rows`` as a table (``empty`` where there are none)."""
    if args.json:
        _print_json(value)
    else:
        _table(headers, rows, empty)
    return 0


def _thing_row(thing: Thing) -> list[Any]:
    owner = thing.owner.username if thing.owner is not None else "(unclaimed)"
    return [thing.id, thing.title or "", thing.flattrs, owner, thing.url]


def _flattr_row(flattr: Flattr) -> list[Any]:
    by = flattr.owner.username if flattr.owner else ""
    thing = flattr.thing
    return [_when(flattr.created_at), by, thing.id, thing.title or "", thing.url]


def _activity_row(activity: Activity) -> list[Any]:
    when = activity.published[:16].replace("T", " ")
    what = activity.object
    return [when, activity.actor.displayName, activity.verb, what.displayName, what.url]


THING_HEADERS = ("ID", "TITLE", "FLATTRS", "OWNER", "URL")
FLATTR_HEADERS = ("WHEN", "BY", "THING", "TITLE", "URL")
SEARCH_FILTERS = ("url", "tags", "language", "category", "user", "sort")


class _Paging(TypedDict):
    """What the client's ``iter_…`` walks take from a paged command's options."""

    count: int
    first_page: int
    max_pages: int | None
    on_page: PageHook


@dataclass(frozen=True)
class _Listing:
    """A paged command: ``walk`` goes through the client's pages of items (``noun`` in the
    progress line); the table has a row of ``row(item)`` for each."""

    walk: Callable[[FlattrClient, argparse.Namespace, _Paging], Iterator[Any]]
    noun: str
    headers: tuple[str, ...]
    row: Callable[[Any], list[Any]]
    empty: str

    def __call__(self, client: FlattrClient, args: argparse.Namespace) -> int:
        on_page, done = _progress(self.noun)
        try:
            max_pages = None if args.all else args.pages
            paging = _Paging(
                count=args.count, first_page=args.page, max_pages=max_pages, on_page=on_page
            )
            found = list(self.walk(client, args, paging))
        finally:
            done()
        return _show(args, found, self.headers, map(self.row, found), self.empty)


_flattrs = _Listing(
    lambda client, args, paging: client.iter_flattrs(args.user, thing_id=args.thing, **paging),
    "flattrs",
    FLATTR_HEADERS,
    _flattr_row,
    "no flattrs",
)
_things = _Listing(
    lambda client, args, paging: client.iter_things(args.user, **paging),
    "things",
    THING_HEADERS,
    _thing_row,
    "no things",
)
_search = _Listing(
    lambda client, args, paging: client.iter_search(
        args.query, **paging, **{name: getattr(args, name) for name in SEARCH_FILTERS}
    ),
    "things",
    THING_HEADERS,
    _thing_row,
    "nothing found",
)


# --- commands -------------------------------------------------------------------------------


def _user(client: FlattrClient, args: argparse.Namespace) -> int:
    user = client.user(args.username)
    if args.json:
        _print_json(user)
        return 0
    fields = user.model_dump(exclude_none=True)
    for key in ("username", "firstname", "lastname", "email", "city", "country", "url"):
        if fields.get(key):
            print(f"{key:<10} {fields[key]}")
    if user.registered_at:
        print(f"{'registered':<10} {_when(user.registered_at)}")
    return 0


def _thing(client: FlattrClient, args: argparse.Namespace) -> int:
    found = client.things_by_id(args.ids)
    one = len(args.ids) == 1 and len(found) == 1  # one id asked: JSON of the thing, not a list
    value = found[0] if one else found
    return _show(args, value, THING_HEADERS, map(_thing_row, found), "no things")


def _lookup(client: FlattrClient, args: argparse.Namespace) -> int:
    result = client.lookup(args.url)
    if args.json:
        _print_json(result)
        return 0
    if result.message == "found":
        print(f"a thing: {result.thing_id} ({result.location})")
    elif result.message == "flattrable":
        print("not a thing yet, but flattrable: flattring it creates the thing")
    else:
        print("not found: not a thing and not flattrable")
        return 1
    return 0


def _activities(client: FlattrClient, args: argparse.Namespace) -> int:
    stream = client.activities(args.user, type=args.type)
    rows = map(_activity_row, stream.items)
    return _show(args, stream, ("WHEN", "WHO", "VERB", "WHAT", "URL"), rows, "no activities")


def _categories(client: FlattrClient, args: argparse.Namespace) -> int:
    found = client.categories()
    return _show(args, found, ("ID", "NAME"), ([c.id, c.text] for c in found), "no categories")


def _languages(client: FlattrClient, args: argparse.Namespace) -> int:
    found = client.languages()
    return _show(args, found, ("ID", "NAME"), ([x.id, x.text] for x in found), "no languages")


def _rate_limit(client: FlattrClient, args: argparse.Namespace) -> int:
    status = client.rate_limit()
    if args.json:
        _print_json(status)
        return 0
    print(
        f"{status.remaining_hits} of {status.hourly_limit} requests left this hour "
        f"({status.current_hits} used); resets {_when(status.reset_time_in_seconds)}"
    )
    return 0


def _flattr(client: FlattrClient, args: argparse.Namespace) -> int:
    target: str = args.target
    by_id = target.isascii() and target.isdigit()
    result = client.flattr(int(target)) if by_id else client.flattr_url(target)
    if args.json:
        _print_json(result)
        return 0
    thing = result.thing
    name = f"{thing.title or thing.url} (thing {thing.id})" if thing else target
    print(f"flattred {name}")
    return 0


_COMMANDS: dict[str, Callable[[FlattrClient, argparse.Namespace], int]] = {
    "user": _user,
    "flattrs": _flattrs,
    "things": _things,
    "thing": _thing,
    "lookup": _lookup,
    "search": _search,
    "activities": _activities,
    "categories": _categories,
    "languages": _languages,
    "rate-limit": _rate_limit,
    "flattr": _flattr,
}
