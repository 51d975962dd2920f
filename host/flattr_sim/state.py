"""All mutable server state behind one lock: handlers hold it while they read or change state."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .catalog import Catalog
from .constants import DEFAULT_RATE_LIMIT, DEFAULT_USERNAME
from .faults import FaultPlan
from .journal import Journal
from .partners import Partners
from .ratelimit import RateLimiter
from .users import Accounts


@dataclass(frozen=True)
class SimConfig:
    token: str
    username: str = DEFAULT_USERNAME
    subscription_active: bool = True
    dedupe: bool = False
    rate_limit: int = DEFAULT_RATE_LIMIT


class SimState:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        # Re-entrant so a handler can call helpers that also take it.
        self.lock = threading.RLock()
        self.accounts = Accounts(config.username, config.token, config.subscription_active)
        self.catalog = Catalog()
        self.faults = FaultPlan()
        self.journal = Journal()
        self.rate_limiter = RateLimiter(config.rate_limit)
        self.partners = Partners()
        # Legacy mode: the bulk endpoint answers 402 for inactive subscriptions (pre-2018 servers).
        self.legacy_402 = False

    @property
    def dedupe(self) -> bool:
        override = self.faults.dedupe
        return self.config.dedupe if override is None else override

    def reset(self, *, users: bool = False) -> None:
        """Forget requests, flattrs, things, faults, limits and partners; users (and tokens) only if
        asked."""
        with self.lock:
            self.accounts.reset(users=users)
            self.catalog.reset()
            self.faults.reset()
            self.journal.reset()
            self.rate_limiter.reset()
            self.partners.reset()
            self.legacy_402 = False
