"""FlattrClient: one call per endpoint of Flattr's REST API v2 (see docs/flattr-api.md).

Two layers:
- ``send()`` makes one request and returns an Answer; it never raises for an HTTP status or a
  network failure. It is what a caller with its own retry policy (the submitter) builds on.
- the endpoint methods wait for the rate-limit window when it is used up, raise the typed errors
  of errors.py and return the models of models.py.

The token goes only to the configured API base: redirects are never followed, and plain http is
refused except to this machine. Nothing here logs a request's headers.
"""

from __future__ import annotations

import ipaddress
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from .. import __version__
from ..backoff import RateLimit
from .answer import Answer, network_failure, read_answer
from .errors import ConfigError, RateLimitExceeded, TransportError, UnexpectedAnswer, error_for
from .models import (
    ActivityStream,
    ActivityType,
    BulkResult,
    Category,
    Flattr,
    FlattrResult,
    Language,
    Lookup,
    RateLimitStatus,
    SearchResult,
    SearchSort,
    Thing,
    User,
)
from .paging import PageHook, iterate_pages

M = TypeVar("M", bound=BaseModel)

API_PREFIX = "/rest/v2"
JSON_MEDIA = "application/json"
ACTIVITY_MEDIA = "application/stream+json"
DEFAULT_TIMEOUT_SECONDS = 20.0
# The documented page size when none is asked for.
DEFAULT_PAGE_COUNT = 30
# Longest the client sleeps for a used-up rate-limit window before giving up with
# RateLimitExceeded (the window is an hour; a CLI user should not wait that long unasked).
DEFAULT_MAX_RATE_WAIT_SECONDS = 120.0
# Come back this long after the announced reset, so the new window has surely begun.
RESET_MARGIN_SECONDS = 1.0
# The one endpoint that is not rate limited.
RATE_LIMIT_PATH = "/rate_limit"

WaitHook = Callable[[float], None]


def check_base(api_base: str) -> str:
    """The base without a trailing slash; https, or http only to this machine."""
    parts = urllib.parse.urlsplit(api_base)
    host = parts.hostname or ""
    if (parts.scheme == "https" and host) or (parts.scheme == "http" and _loopback(host)):
        return api_base.rstrip("/")
    raise ConfigError(
        f"api_base {api_base!r} is not allowed: the token is sent with every request, so it must "
        "be https:// (plain http:// only for 127.0.0.0/8, ::1 or localhost). Fix the api_base "
        "setting (settings.json) or the FLATTR_API_BASE environment variable."
    )


def use_proxy_settings(base: str) -> bool:
    """Honour HTTP(S)_PROXY for the real service, never for this machine (the local server)."""
    return not _loopback(urllib.parse.urlsplit(base).hostname or "")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _q(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


class FlattrClient:
    """A client for one token (or none: public endpoints only). Thread-unsafe; close() it."""

    def __init__(
        self,
        api_base: str,
        token: str | None = None,
        *,
        verify: Any = True,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        transport: httpx.BaseTransport | None = None,
        rate_limit_reserve: int = 0,
        rate_limit_window: float | None = None,
        max_rate_wait: float = DEFAULT_MAX_RATE_WAIT_SECONDS,
        on_wait: WaitHook | None = None,
        format_suffix: bool = False,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base = check_base(api_base)
        self._token = token
        self.rate_limit_reserve = rate_limit_reserve
        # A reset announced further away than this is brought back to it (None: as announced).
        self.rate_limit_window = rate_limit_window
        self.max_rate_wait = max_rate_wait
        self.on_wait = on_wait
        # Ask for the format with a ".json"/".as" suffix instead of (as well as) Accept.
        self.format_suffix = format_suffix
        self._clock = clock
        self._sleep = sleep
        # The last X-RateLimit-* window seen (local times).
        self.rate: RateLimit | None = None
        self._http = httpx.Client(
            transport=transport,
            verify=verify,
            timeout=timeout,
            follow_redirects=False,  # a redirect must not carry the token elsewhere
            trust_env=use_proxy_settings(self.base),
            headers={"User-Agent": f"flattr-companion/{__version__}"},
        )

    @classmethod
    def from_settings(cls, settings: Any, token: str | None, **options: Any) -> FlattrClient:
        """A client for the configured API base, CA bundle, timeout and rate-limit window."""
        return cls(
            settings.api_base,
            token,
            verify=settings.ca_bundle or True,
            timeout=settings.request_timeout,
            rate_limit_reserve=settings.rate_limit_reserve,
            rate_limit_window=settings.rate_limit_window,
            **options,
        )

    def __repr__(self) -> str:  # never the token
        return f"FlattrClient({self.base!r}, signed_in={self._token is not None})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> FlattrClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- one request ----------------------------------------------------------------------

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        accept: str = JSON_MEDIA,
        token: str | None = None,
        reset_margin: float = RESET_MARGIN_SECONDS,
    ) -> Answer:
        """One request to ``{base}/rest/v2{path}``; never raises for a status or a network
        failure. ``token`` overrides the client's (a partner's credential, say)."""
        sent_token = token or self._token
        all_headers = {"Accept": accept}
        if sent_token:
            all_headers["Authorization"] = f"Bearer {sent_token}"
        if content is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(
                method,
                self.base + API_PREFIX + self._suffixed(path, accept),
                params=query,
                json=json,
                content=content,
                headers=all_headers,
            )
        except httpx.HTTPError as exc:
            return network_failure(exc, self._clock())
        answer = read_answer(
            response, self._clock(), reset_margin=reset_margin, window=self.rate_limit_window
        )
        if answer.rate is not None:
            self.rate = answer.rate
        return answer

    def _suffixed(self, path: str, accept: str) -> str:
        if not self.format_suffix:
            return path
        return path + (".as" if accept == ACTIVITY_MEDIA else ".json")

    def call(self, method: str, path: str, **options: Any) -> Answer:
        """send(), but stay within the rate limit and raise for anything but a success."""
        limited = path != RATE_LIMIT_PATH
        if limited:
            self._wait_for_window()
        answer = self.send(method, path, **options)
        if limited and answer.rate_limited and self._window_wait(answer) is not None:
            # Someone else used the window up: wait for the next one once, then try again.
            self._wait_for_window(answer)
            answer = self.send(method, path, **options)
        if answer.status is None:
            raise TransportError(f"could not reach {self.base}: {answer.describe()}")
        if not answer.ok:
            raise error_for(answer)
        return answer

    def _window_wait(self, answer: Answer | None = None) -> float | None:
        """Seconds to wait before the next limited request (None: go now)."""
        rate = self.rate
        if rate is None or rate.remaining is None or rate.reset is None:
            return None
        used_up = rate.remaining <= self.rate_limit_reserve or (
            answer is not None and answer.rate_limited
        )
        now = self._clock()
        return rate.reset - now if used_up and rate.reset > now else None

    def _wait_for_window(self, refused: Answer | None = None) -> None:
        delay = self._window_wait(refused)
        if delay is None:
            return
        if delay > self.max_rate_wait:
            raise RateLimitExceeded(
                Answer(status=403, code="rate_limit_exceeded", rate=self.rate),
                f"the hourly request limit is used up; it resets in {delay:.0f} s "
                "(check with: flattr-host api rate-limit)",
            )
        if self.on_wait is not None:
            self.on_wait(delay)
        self._sleep(delay)
        self.rate = None  # a new window: learn it from the next answer

    def _get(self, path: str, model: type[M], **options: Any) -> M:
        return _parse(self.call("GET", path, **options), model)

    def _get_list(self, path: str, model: type[M], **options: Any) -> list[M]:
        answer = self.call("GET", path, **options)
        try:
            return TypeAdapter(list[model]).validate_python(answer.body)  # type: ignore[valid-type]
        except ValidationError as exc:
            raise UnexpectedAnswer(answer, f"not a list of {model.__name__}: {exc}") from None

    # --- users ----------------------------------------------------------------------------

    def user(self, username: str | None = None) -> User:
        """GET /users/:username, or the token's own user (GET /user) when None."""
        return self._get(f"/users/{_q(username)}" if username else "/user", User)

    # --- things ---------------------------------------------------------------------------

    def things(
        self,
        username: str | None = None,
        *,
        count: int | None = None,
        page: int | None = None,
        full: bool = False,
    ) -> list[Thing]:
        """GET /users/:username/things, or /user/things when None: one page."""
        path = f"/users/{_q(username)}/things" if username else "/user/things"
        return self._get_list(path, Thing, params=_page_params(count, page, full))

    def iter_things(
        self,
        username: str | None = None,
        *,
        count: int = DEFAULT_PAGE_COUNT,
        full: bool = False,
        first_page: int = 1,
        max_pages: int | None = None,
        on_page: PageHook | None = None,
    ) -> Iterator[Thing]:
        return iterate_pages(
            lambda page: (self.things(username, count=count, page=page, full=full), None),
            count=count,
            first_page=first_page,
            max_pages=max_pages,
            on_page=on_page,
        )

    def thing(self, thing_id: int, *, full: bool = False) -> Thing:
        """GET /things/:id."""
        return self._get(f"/things/{int(thing_id)}", Thing, params=_full(full))

    def things_by_id(
        self, ids: Iterable[int], *, full: bool = False, query_form: bool = False
    ) -> list[Thing]:
        """Several things at once: GET /things/:id,:id (a literal comma) or, with
        ``query_form``, GET /things?id=:id,:id."""
        joined = ",".join(str(int(i)) for i in ids)
        if not joined:
            return []
        if query_form:
            return self._get_list("/things", Thing, params={"id": joined, **_full(full)})
        if "," not in joined:
            return [self.thing(int(joined), full=full)]
        return self._get_list(f"/things/{joined}", Thing, params=_full(full))

    def lookup(self, url: str) -> Lookup:
        """GET /things/lookup?url=: found (302, not followed), flattrable, or not_found."""
        self._wait_for_window()
        answer = self.send("GET", "/things/lookup", params={"url": url})
        if (
            answer.status in (302, 404)
            and isinstance(answer.body, dict)
            and "message" in answer.body
        ):
            return _parse(answer, Lookup)
        if answer.status == 302:  # a found answer without the documented body
            return Lookup(message="found", location=answer.headers.get("location"))
        if answer.ok:
            return _parse(answer, Lookup)
        if answer.status is None:
            raise TransportError(f"could not reach {self.base}: {answer.describe()}")
        raise error_for(answer)

    def search(
        self,
        query: str | None = None,
        *,
        url: str | None = None,
        tags: str | None = None,
        language: str | Iterable[str] | None = None,
        category: str | Iterable[str] | None = None,
        user: str | None = None,
        sort: SearchSort | None = None,
        count: int | None = None,
        page: int | None = None,
        full: bool = False,
    ) -> SearchResult:
        """GET /things/search. ``tags`` uses | (or), & (and), ! (not); language and category
        take one value or several."""
        params = {
            "query": query,
            "url": url,
            "tags": tags,
            "language": _comma(language),
            "category": _comma(category),
            "user": user,
            "sort": sort,
            **_page_params(count, page, full),
        }
        return self._get("/things/search", SearchResult, params=params)

    def iter_search(
        self,
        query: str | None = None,
        *,
        count: int = DEFAULT_PAGE_COUNT,
        first_page: int = 1,
        max_pages: int | None = None,
        on_page: PageHook | None = None,
        **filters: Any,
    ) -> Iterator[Thing]:
        """Every search result, page by page (filters as in search())."""

        def fetch(page: int) -> tuple[list[Thing], int | None]:
            result = self.search(query, count=count, page=page, **filters)
            return result.things, result.total_items

        return iterate_pages(
            fetch, count=count, first_page=first_page, max_pages=max_pages, on_page=on_page
        )

    # --- flattrs --------------------------------------------------------------------------

    def flattrs(
        self,
        username: str | None = None,
        *,
        thing_id: int | None = None,
        count: int | None = None,
        page: int | None = None,
        full: bool = False,
    ) -> list[Flattr]:
        """One page of GET /things/:id/flattrs (``thing_id``), /users/:username/flattrs, or the
        token's own /user/flattrs."""
        if thing_id is not None:
            path = f"/things/{int(thing_id)}/flattrs"
        else:
            path = f"/users/{_q(username)}/flattrs" if username else "/user/flattrs"
        return self._get_list(path, Flattr, params=_page_params(count, page, full))

    def iter_flattrs(
        self,
        username: str | None = None,
        *,
        thing_id: int | None = None,
        count: int = DEFAULT_PAGE_COUNT,
        full: bool = False,
        first_page: int = 1,
        max_pages: int | None = None,
        on_page: PageHook | None = None,
    ) -> Iterator[Flattr]:
        def fetch(page: int) -> tuple[list[Flattr], int | None]:
            found = self.flattrs(username, thing_id=thing_id, count=count, page=page, full=full)
            return found, None

        return iterate_pages(
            fetch, count=count, first_page=first_page, max_pages=max_pages, on_page=on_page
        )

    def flattr(self, thing_id: int) -> FlattrResult:
        """POST /things/:id/flattr (scope flattr)."""
        return _parse(self.call("POST", f"/things/{int(thing_id)}/flattr"), FlattrResult)

    def flattr_url(self, url: str) -> FlattrResult:
        """POST /flattr {url}: a registered, discoverable or auto-submit URL (scope flattr)."""
        return _parse(self.call("POST", "/flattr", json={"url": url}), FlattrResult)

    def flattr_bulk(self, urls: Iterable[str], *, idempotency_key: str | None = None) -> BulkResult:
        """POST /flattr/bulk [{"url"}...]: each element is one flattr, repeats included."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        body = [{"url": url} for url in urls]
        return _parse(self.call("POST", "/flattr/bulk", json=body, headers=headers), BulkResult)

    # --- activities and reference lists ---------------------------------------------------

    def activities(
        self, username: str | None = None, *, type: ActivityType = "outgoing"
    ) -> ActivityStream:
        """GET /users/:username/activities or /user/activities as Activity Streams: what the
        user did (outgoing) or what others did to their things (incoming)."""
        path = f"/users/{_q(username)}/activities" if username else "/user/activities"
        return self._get(path, ActivityStream, params={"type": type}, accept=ACTIVITY_MEDIA)

    def categories(self) -> list[Category]:
        return self._get_list("/categories", Category)

    def languages(self) -> list[Language]:
        return self._get_list("/languages", Language)

    def rate_limit(self) -> RateLimitStatus:
        """GET /rate_limit (not rate limited itself)."""
        return self._get(RATE_LIMIT_PATH, RateLimitStatus)

    # --- partners -------------------------------------------------------------------------

    def verify_identity(
        self, identity: str, *, username: str | None = None, partner_token: str | None = None
    ) -> None:
        """POST /user/verify (this token's user claims ``identity``) or, for a partner with its
        own credential, POST /users/:username/verify."""
        if username is None:
            self.call("POST", "/user/verify", json={"identity": identity})
        else:
            path = f"/users/{_q(username)}/verify"
            self.call("POST", path, json={"identity": identity}, token=partner_token)


def _page_params(count: int | None, page: int | None, full: bool) -> dict[str, Any]:
    return {"count": count, "page": page, **_full(full)}


def _full(full: bool) -> dict[str, Any]:
    return {"full": 1} if full else {}


def _comma(value: str | Iterable[str] | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return ",".join(value)


def _parse(answer: Answer, model: type[M]) -> M:
    try:
        return model.model_validate(answer.body)
    except ValidationError as exc:
        raise UnexpectedAnswer(answer, f"not a {model.__name__}: {exc}") from None
