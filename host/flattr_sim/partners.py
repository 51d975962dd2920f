"""Community partners: owner identifiers, identity verification and the pendingclickcreate hook.

A partner owns identifier namespaces (``email``, ``twitter`` or its own ``partner:<name>``).
Things auto-submitted with ``owner=<identifier>`` stay unclaimed until a Flattr user verifies
that identity; every flattr an unclaimed thing receives is announced to the partner's web hook
as a form-encoded POST with ``_event=pendingclickcreate``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import Any

from .constants import WEBHOOK_TIMEOUT_SECONDS
from .users import loopback

log = logging.getLogger("flattr_sim")

PENDING_CLICK_EVENT = "pendingclickcreate"
# email:<md5 of the address>, twitter:user:id:<numeric id>, partner:<namespace>:<id>.
_EMAIL = re.compile(r"^email:[0-9a-f]{32}$")
_TWITTER = re.compile(r"^twitter:user:id:[0-9]{1,20}$")
_PARTNER = re.compile(r"^partner:([a-z0-9][a-z0-9_-]{0,63}):([A-Za-z0-9_.@-]{1,128})$")


def identity_namespace(identity: str) -> str | None:
    """The namespace a valid identifier belongs to ("email", "twitter", "partner:<name>"), or
    None when it is not one of the supported forms."""
    if _EMAIL.match(identity):
        return "email"
    if _TWITTER.match(identity):
        return "twitter"
    if match := _PARTNER.match(identity):
        return f"partner:{match.group(1)}"
    return None


def is_identity(owner: str) -> bool:
    return identity_namespace(owner) is not None


@dataclass
class Partner:
    name: str
    namespaces: frozenset[str]
    webhook_url: str | None = None
    # The partner's own credential for POST /users/:username/verify.
    token: str | None = None

    def covers(self, identity: str) -> bool:
        return identity_namespace(identity) in self.namespaces


@dataclass
class Delivery:
    """One web hook POST (status 0: it could not be delivered)."""

    url: str
    form: dict[str, str]
    time: float
    status: int = 0
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Partners:
    """Not thread-safe on its own; SimState serialises access (deliveries take the lock)."""

    by_name: dict[str, Partner] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)

    def reset(self) -> None:
        self.by_name.clear()
        self.deliveries.clear()

    def for_identity(self, identity: str) -> Partner | None:
        return next((p for p in self.by_name.values() if p.covers(identity)), None)

    def by_token(self, token: str | None) -> Partner | None:
        if not token:
            return None
        return next((p for p in self.by_name.values() if p.token == token), None)


def check_webhook_url(url: str) -> str:
    """The simulator only ever calls this machine: http(s) to a loopback address."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not loopback(host):
        raise ValueError("webhook_url must be http(s) to 127.0.0.0/8, ::1 or localhost")
    return url


def pending_click_form(
    thing_id: int, identity: str, clicks_total: int, flattrer: str, claim_url: str
) -> dict[str, str]:
    return {
        "_event": PENDING_CLICK_EVENT,
        "thing_id": str(thing_id),
        "thing_owner_id": identity,
        "thing_clicks_total": str(clicks_total),
        "flattrer_username": flattrer,
        "claim_url": claim_url,
    }


def deliver_later(lock: threading.RLock, delivery: Delivery) -> None:
    """POST the form in a background thread, so the flattr's answer never waits for the hook."""

    def send() -> None:
        body = urllib.parse.urlencode(delivery.form).encode("ascii")
        request = urllib.request.Request(
            delivery.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        status, error = 0, None
        try:
            # No proxies: the hook is on this machine.
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with opener.open(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError as exc:
            error = str(exc) or type(exc).__name__
        with lock:
            delivery.status, delivery.error = status, error
        log.info("web hook %s -> %s", delivery.form["_event"], status or error)

    delivery.time = time.time()
    threading.Thread(target=send, name="flattr-sim-webhook", daemon=True).start()
