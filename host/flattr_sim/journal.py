"""What the server received on the bulk endpoint and which flattrs it accepted."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SOURCE_BULK = "bulk"
SOURCE_API = "api"  # POST /rest/v2/flattr and /things/:id/flattr


@dataclass
class Received:
    """One bulk request. status 0 means the connection was dropped without an answer."""

    path: str
    method: str
    token_ok: bool
    username: str | None
    token_fingerprint: str | None
    idempotency_key: str | None
    urls: list[str]
    time: float
    status: int = 0
    duplicate: bool = False
    accepted: bool = False  # its items were recorded as flattrs
    fault: str | None = None  # the fault step applied, if any

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class AcceptedFlattr:
    url: str
    username: str
    time: float
    idempotency_key: str | None
    source: str = SOURCE_BULK

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Journal:
    """Not thread-safe on its own; SimState serialises access."""

    received: list[Received] = field(default_factory=list)
    flattrs: list[AcceptedFlattr] = field(default_factory=list)
    # (username, Idempotency-Key) -> the body of the 200 that accepted it.
    accepted_keys: dict[tuple[str, str], bytes] = field(default_factory=dict)

    def reset(self) -> None:
        self.received.clear()
        self.flattrs.clear()
        self.accepted_keys.clear()
