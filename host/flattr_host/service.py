"""Answers the extension's requests: validation, one transaction per burst, replies and events."""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from . import (
    HostError,
    accounts,
    creators,
    export,
    framing,
    hello,
    holds,
    ledger,
    paths,
    sites,
    status,
    store,
    urls,
    visits,
)
from .days import attention_day
from .logs import log, redact_secret
from .protocol import REQUEST_TYPES, parse_request, requests, results
from .protocol.vocabulary import describe_errors
from .replies import error, event, ok, request_id
from .settings import Settings
from .unchanged import Unchanged

if TYPE_CHECKING:  # imported by native before the loop's thread starts, not for requests
    from .scheduler import SubmitLoop

Emit = Callable[[dict[str, Any]], None]
FLATTR_ORIGIN_HOST = "flattr.com"
# The reason of a segment refused for not matching the schema (its `error` says why).
INVALID = "invalid"
# How that origin may be written in a page URL: no user info, no port other than https's own.
FLATTR_ORIGIN_AUTHORITIES = frozenset({FLATTR_ORIGIN_HOST, f"{FLATTR_ORIGIN_HOST}:443"})
# Batch ids past ``attention_batch_memory`` are deleted at most this often (seconds).
BATCH_PURGE_INTERVAL = 3600.0
# An unknown type is quoted back in its error only this far (it may be huge).
MAX_ECHOED_TYPE = 64


class Service:
    def __init__(
        self, conn: sqlite3.Connection, settings: Settings, emit: Emit, loop: SubmitLoop | None
    ) -> None:
        self.conn = conn
        self.settings = settings
        self.emit = emit
        self.loop = loop
        # Events of the current request; sent only once its transaction has committed.
        self._events: list[dict[str, Any]] = []
        self.clock = time.time
        # The attention day whose visit flattrs were last looked at by this process.
        self._visits_checked_day: str | None = None
        self.home = paths.data_home()  # where the dashboard it opens finds the data
        # When batch ids past their memory were last deleted (not at every request: a resend
        # is answered from whatever is still stored, so a late purge changes nothing).
        self._batches_purged_at = -math.inf
        self._unchanged = Unchanged(conn, settings)

    @classmethod
    def open(
        cls, home: Path, settings: Settings, *, emit: Emit, loop: SubmitLoop | None = None
    ) -> Service:
        """Open the database for requests; ``loop`` (if any) submits in the background."""
        conn = store.connect(paths.database_path(home), settings)
        accounts.redact_stored_tokens(conn)
        service = cls(conn, settings, emit, loop)
        service.home = home
        return service

    def close(self) -> None:
        self.conn.close()

    def checkpoint(self) -> None:
        """Move committed pages from the WAL into the database: while nobody waits for a reply.
        PASSIVE: never waits for another connection; what it cannot copy now is copied later."""
        try:
            self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:  # nothing is lost: the WAL keeps it
            log.warning("checkpoint skipped: %s", exc)

    # --- dispatch -----------------------------------------------------------------------------

    def handle_batch(self, messages: list[Any]) -> list[dict[str, Any]]:
        """Handle a burst of messages in one transaction; replies only after it commits.

        A request that fails rolls back to its own savepoint and gets its own error; only a failure
        of the transaction itself (BEGIN, COMMIT, or SQLite aborting it) fails the whole burst."""
        replies: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        wake = False
        try:
            with store.transaction(self.conn):
                self._unchanged.begin()
                visits_day, wake = self._process_visits()
                for message in messages:
                    self._events = []
                    reply, woke = self._answer(message)
                    replies.append(reply)
                    if reply["ok"]:
                        events += self._events
                    wake = wake or woke
                    if not _is_attention(message):  # it may have changed what attention reads
                        self._unchanged.forget()
        except sqlite3.Error as exc:
            self._unchanged.forget()  # what was read may never have been committed
            log.error("transaction failed, nothing acknowledged: %s", exc)
            return [
                error(request_id(m), "storage_error", f"nothing was saved: {exc}") for m in messages
            ]
        self._visits_checked_day = visits_day  # committed
        for e in events:
            self.emit(e)
        if wake and self.loop is not None:
            self.loop.wake()
        return replies

    def _process_visits(self) -> tuple[str, bool]:
        """Daily visit flattrs, once per attention day: at the first request after it began
        (host start or 04:00). Returns the day and whether flattrs were queued."""
        now = self.clock()
        day = attention_day(now, self.settings)
        if day == self._visits_checked_day:
            return day, False
        account = accounts.current(self.conn)
        # Its own savepoint: a bug here must never keep the requests of the batch from running.
        self.conn.execute("SAVEPOINT visits")
        try:
            with_flattr = visits.process_due(
                self.conn,
                account_id=account.id if account else None,
                now=now,
                settings=self.settings,
            )
        except sqlite3.Error:
            raise
        except Exception:
            self.conn.execute("ROLLBACK TO visits")
            log.exception("daily visit flattrs failed; trying again at the next start")
            with_flattr = []
        finally:
            self.conn.execute("RELEASE visits")
        if with_flattr:
            log.info("daily visit flattrs: %d site(s) qualified", len(with_flattr))
        return day, bool(with_flattr) and account is not None

    def _answer(self, message: Any) -> tuple[dict[str, Any], bool]:
        """One request's reply, whatever it holds; it never writes outside its own savepoint."""
        rid = request_id(message)
        if isinstance(message, framing.FrameError):
            return error(None, message.code, message.message), False
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            return error(
                rid, "invalid_request", "a request is a JSON object with a string type"
            ), False
        if message["type"] not in REQUEST_TYPES:
            known = ", ".join(sorted(REQUEST_TYPES))
            shown = message["type"][:MAX_ECHOED_TYPE]
            return error(rid, "unknown_type", f"unknown type {shown!r}; known: {known}"), False
        try:
            request: Any = parse_request(message)
        except ValidationError as exc:
            return error(rid, "invalid_request", describe_errors(exc)), False
        except Exception:  # nothing was written yet: this request alone fails
            log.exception("validating a %s request failed", message["type"])
            return error(rid, "internal_error", "the host failed; see its log"), False
        return self._run_in_savepoint(rid, request)

    def _run_in_savepoint(self, rid: Any, request: Any) -> tuple[dict[str, Any], bool]:
        handler = getattr(self, f"_on_{request.type}")
        # A savepoint per request: one failing request never undoes its neighbours' work.
        self.conn.execute("SAVEPOINT request")
        try:
            result, wake = handler(request)
            reply = ok(rid, result.model_dump(mode="json"))
        except HostError as exc:
            self._undo_request()
            return error(rid, exc.code, exc.message, exc.command), False
        except sqlite3.Error as exc:
            if not self.conn.in_transaction:
                raise  # SQLite aborted the whole transaction (disk full, I/O): the burst fails
            self._undo_request()
            log.error("request %s failed, nothing of it saved: %s", request.type, exc)
            return error(rid, "storage_error", f"nothing of this request was saved: {exc}"), False
        except Exception:
            self._undo_request()
            log.exception("request %s failed", request.type)
            return error(rid, "internal_error", "the host failed; see its log"), False
        self.conn.execute("RELEASE request")
        return reply, wake

    def _undo_request(self) -> None:
        self.conn.execute("ROLLBACK TO request")
        self.conn.execute("RELEASE request")

    # --- handlers: each returns (result model, whether due submission work may have appeared) --

    def _on_hello(self, r: requests.HelloRequest) -> tuple[BaseModel, bool]:
        problem = hello.check_version(r.model_dump())
        if problem is not None:
            raise problem
        return results.HelloResult(**hello.hello_result()), False

    def _on_token(self, r: requests.TokenRequest) -> tuple[BaseModel, bool]:
        if not _is_flattr_page(r.page_url):
            raise HostError(
                "untrusted_origin",
                "tokens are accepted only from a top-level https://flattr.com page",
            )
        if not accounts.is_bearer_token(r.token):  # it could never be sent: say so now
            raise HostError("invalid_request", accounts.NOT_A_BEARER_TOKEN)
        redact_secret(r.token)
        active = r.subscription.active if r.subscription else None
        account = accounts.sign_in(self.conn, r.token, active, self.clock())
        holds.lift_on_sign_in(self.conn, account, self.clock())
        log.info("signed in (account %s) from the flattr.com handshake", account.id)
        state = status.account_state(account)
        self._events.append(event("signed_in", state.model_dump(mode="json")))
        return state, True

    def _on_subscription(self, r: requests.SubscriptionRequest) -> tuple[BaseModel, bool]:
        if not _is_flattr_page(r.page_url):
            raise HostError("untrusted_origin", "subscription changes come only from flattr.com")
        account = accounts.current(self.conn)
        if account is None:
            raise HostError("signed_out", "no account is signed in")
        accounts.set_subscription(self.conn, account.id, r.active)
        if r.active:
            holds.subscription_reactivated(self.conn, self.clock(), account.id)
        state = status.account_state(accounts.current(self.conn))
        self._events.append(event("subscription", {"active": r.active}))
        return state, r.active

    def _on_sign_out(self, r: requests.SignOutRequest) -> tuple[BaseModel, bool]:
        accounts.sign_out(self.conn, self.clock())
        log.info("signed out by the user")
        state = status.account_state(None, reason="user")
        self._events.append(event("signed_out", state.model_dump(mode="json")))
        return state, False

    def _on_attention(self, r: requests.AttentionRequest) -> tuple[BaseModel, bool]:
        if r.batch is not None:
            seen = self.conn.execute(
                "SELECT results FROM attention_batches WHERE batch = ?", (r.batch,)
            ).fetchone()
            if seen is not None:  # a resend: the first answer, nothing recorded twice
                return results.AttentionResult.model_validate_json(seen[0]), False
        now = self.clock()
        recorded = iter(
            ledger.record(
                self.conn,
                [_segment(s) for s in r.segments if isinstance(s, requests.Segment)],
                account_id=self._unchanged.account_id(),
                now=now,
                settings=self.settings,
                known=self._unchanged,
            )
        )
        # One result per segment, in order; a refused segment costs the others nothing.
        answer = results.AttentionResult(
            results=[
                _refused(s) if isinstance(s, requests.InvalidSegment) else _result(next(recorded))
                for s in r.segments
            ]
        )
        if r.batch is not None:
            if now - self._batches_purged_at >= BATCH_PURGE_INTERVAL:
                self.conn.execute(
                    "DELETE FROM attention_batches WHERE recorded_at < ?",
                    (now - self.settings.attention_batch_memory,),
                )
                self._batches_purged_at = now  # a rolled-back purge is only done later
            self.conn.execute(
                "INSERT INTO attention_batches (batch, results, recorded_at) VALUES (?, ?, ?)",
                (r.batch, answer.model_dump_json(), now),
            )
        return answer, any(x.flattrs_queued for x in answer.results)

    def _on_visits(self, r: requests.VisitsRequest) -> tuple[BaseModel, bool]:
        now = self.clock()
        kept = [
            visits.record(
                self.conn,
                v.url,
                at=v.visited_at,
                now=now,
                settings=self.settings,
                private=v.private,
            )
            for v in r.visits
        ]
        return results.VisitsResult(recorded=sum(1 for k in kept if k.recorded)), False

    def _on_set_visit_flattrs(self, r: requests.SetVisitFlattrsRequest) -> tuple[BaseModel, bool]:
        visits.set_enabled(self.conn, r.enabled)
        return results.VisitFlattrsState(enabled=r.enabled), False

    def _on_flattr_now(self, r: requests.FlattrNowRequest) -> tuple[BaseModel, bool]:
        account = accounts.current(self.conn)
        outcome = ledger.manual_flattr(
            self.conn,
            r.url,
            _meta(r.meta),
            title=r.title,
            account_id=account.id if account else None,
            now=self.clock(),
            settings=self.settings,
            private=r.private,
        )
        if outcome.flattr_id is None:
            code = "signed_out" if outcome.reason == "signed_out" else "not_counted"
            raise HostError(code, outcome.detail or f"cannot flattr this page: {outcome.reason}")
        return results.FlattrNowResult(
            url=outcome.submit_url or outcome.url, flattr_id=outcome.flattr_id
        ), True

    def _on_page_status(self, r: requests.PageStatusRequest) -> tuple[BaseModel, bool]:
        if r.private:
            return results.PageStatus(
                decision=results.Decision(
                    counts=False, reason="private", detail="private windows never count"
                )
            ), False
        s = ledger.page_status(
            self.conn, r.url, _meta(r.meta), now=self.clock(), settings=self.settings
        )
        d = s.decision
        return results.PageStatus(
            decision=results.Decision.model_validate(d, from_attributes=True),
            seconds_today=s.seconds_today,
            audio_page=s.audio_page,
            next_threshold=s.next_threshold,
            progress=s.progress,
            flattrs_today_url=s.flattrs_today_url,
            flattrs_today_site=s.flattrs_today_site,
            creator=_creator(r.url, _meta(r.meta)) if d.site else None,
            pages_today=status.pages_today(self.conn, d.site, self.clock(), self.settings)
            if d.site
            else [],
        ), False

    def _on_set_site(self, r: requests.SetSiteRequest) -> tuple[BaseModel, bool]:
        site = urls.site_of(r.site)
        if site is None:
            raise HostError("invalid_request", f"{r.site!r} is not a public site name")
        try:
            site = sites.set_site(
                self.conn, site, None if r.setting == "default" else r.setting, self.clock()
            )
        except ValueError as exc:
            raise HostError("invalid_request", str(exc)) from None
        return status.site_entry(self.conn, site, self.clock(), self.settings), False

    def _on_sites(self, r: requests.SitesRequest) -> tuple[BaseModel, bool]:
        return status.sites_result(self.conn, self.clock(), self.settings), False

    def _on_set_mode(self, r: requests.SetModeRequest) -> tuple[BaseModel, bool]:
        sites.set_mode(self.conn, r.mode)
        return status.sites_result(self.conn, self.clock(), self.settings), False

    def _on_status(self, r: requests.StatusRequest) -> tuple[BaseModel, bool]:
        return status.status_result(self.conn, self.clock(), self.settings), False

    def _on_history(self, r: requests.HistoryRequest) -> tuple[BaseModel, bool]:
        return status.history_result(self.conn, r.before, r.limit), False

    def _on_export(self, r: requests.ExportRequest) -> tuple[BaseModel, bool]:
        try:
            page = export.page(self.conn, r.cursor, self.settings.max_outgoing_frame)
        except ValueError as exc:
            raise HostError("invalid_request", str(exc)) from None
        return results.ExportResult(part=page.part, rows=page.rows, cursor=page.cursor), False

    def _on_open_dashboard(self, r: requests.OpenDashboardRequest) -> tuple[BaseModel, bool]:
        from .dashboard import launch

        try:
            opened = launch.open_dashboard(self.home, r.page)
        except (launch.GuiMissing, launch.WindowFailed) as exc:
            raise HostError("gui_unavailable", str(exc), exc.command) from None
        return results.DashboardOpened(started=opened.started, focused=opened.focused), False

    def _on_tick(self, r: requests.TickRequest) -> tuple[BaseModel, bool]:
        if r.force and self.loop is not None:
            self.loop.force()
        queue = status.queue_state(self.conn, self.clock(), self.settings)
        return results.TickResult(queue=queue, scheduled=self.loop is not None), True


# --- helpers ------------------------------------------------------------------------------------


def _is_attention(message: Any) -> bool:
    return isinstance(message, dict) and message.get("type") == "attention"


def _is_flattr_page(url: str) -> bool:
    from urllib.parse import urlsplit

    # Exactly https://flattr.com, as the content script checks: tests map that name, never widen it.
    # The authority is compared whole, so user info, another port or an invalid one never pass.
    parts = urlsplit(url)
    return parts.scheme == "https" and parts.netloc in FLATTR_ORIGIN_AUTHORITIES


def _meta(m: requests.PageMeta) -> urls.PageMeta:
    return urls.PageMeta(
        payment_url=m.payment_url,
        flattr_id=m.flattr_id,
        canonical_url=m.canonical_url,
        button_url=m.button_url,
        flattr_params=tuple(sorted((m.flattr_params or {}).items())),
    )


def _result(x: ledger.SegmentResult) -> results.SegmentResult:
    return results.SegmentResult.model_validate(x, from_attributes=True)


def _refused(s: requests.InvalidSegment) -> results.SegmentResult:
    return results.SegmentResult(url=None, site=None, counted=False, reason=INVALID, error=s.error)


def _creator(url: str, meta: urls.PageMeta) -> results.Creator | None:
    c = creators.declared(url, meta)
    if c is None:
        return None
    kind: Any = c.kind
    source: Any = c.source
    return results.Creator(url=c.submit_url, name=c.name, kind=kind, source=source)


def _segment(s: requests.Segment) -> ledger.Segment:
    return ledger.Segment(
        url=s.url,
        title=s.title,
        seconds=s.seconds,
        audio=s.kind == "audio",
        private=s.private,
        meta=_meta(s.meta),
        started_at=s.started_at,
    )
