"""The fault plan: a script of steps for the API's endpoints, rejected bulk URLs, dedupe."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from .constants import MAX_FAULT_DELAY_SECONDS

_STEP_KEYS = frozenset({"status", "retry_after", "body", "drop", "delay", "accept", "endpoint"})
# A step without "endpoint" is for the bulk endpoint; "*" is for any API endpoint.
BULK_ENDPOINT = "/flattr/bulk"
ANY_ENDPOINT = "*"
MIN_FAULT_STATUS = 200
MAX_FAULT_STATUS = 599


@dataclass(frozen=True)
class FaultStep:
    """One API request's fate. An empty step lets that request through untouched.

    endpoint: the path under /rest/v2 it applies to (no ".json"), "*" for any; default the bulk
        endpoint. Each request uses up the first step meant for it.

    status: answer with it (standard error body unless `body` is given), with Retry-After if set.
    drop: close the connection without answering (after reading the request).
    delay: sleep first, then do the rest.
    accept: handle the request normally first (items recorded, Idempotency-Key remembered) and
        only then answer with `status` or drop: "the server got it but the client never heard".
    """

    status: int | None = None
    retry_after: str | None = None
    body: Any = None
    drop: bool = False
    delay: float = 0.0
    accept: bool = False
    endpoint: str = BULK_ENDPOINT

    def applies_to(self, endpoint: str) -> bool:
        return self.endpoint in (ANY_ENDPOINT, endpoint)

    @property
    def replaces_answer(self) -> bool:
        return self.drop or self.status is not None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for key in ("status", "retry_after", "body"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        for key in ("drop", "accept"):
            if getattr(self, key):
                data[key] = True
        if self.delay:
            data["delay"] = self.delay
        if self.endpoint != BULK_ENDPOINT:
            data["endpoint"] = self.endpoint
        return data

    def describe(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.to_json().items()) or "pass"


def parse_step(raw: Any) -> FaultStep:
    """Validate one step; raises ValueError with a readable reason."""
    if not isinstance(raw, dict):
        raise ValueError(f"a step must be an object, got {raw!r}")
    unknown = set(raw) - _STEP_KEYS
    if unknown:
        raise ValueError(f"unknown step keys {sorted(unknown)}; allowed: {sorted(_STEP_KEYS)}")
    status = raw.get("status")
    if status is not None and (
        not isinstance(status, int)
        or isinstance(status, bool)
        or not MIN_FAULT_STATUS <= status <= MAX_FAULT_STATUS
    ):
        raise ValueError(f"status must be an integer {MIN_FAULT_STATUS}-{MAX_FAULT_STATUS}")
    drop = raw.get("drop", False)
    accept = raw.get("accept", False)
    if not isinstance(drop, bool) or not isinstance(accept, bool):
        raise ValueError("drop and accept must be booleans")
    if drop and status is not None:
        raise ValueError("a step cannot both drop and answer with a status")
    if accept and not (drop or status is not None):
        raise ValueError("accept needs drop or status (it changes the answer after accepting)")
    delay = raw.get("delay", 0)
    if not isinstance(delay, int | float) or isinstance(delay, bool):
        raise ValueError("delay must be a number of seconds")
    if not 0 <= delay <= MAX_FAULT_DELAY_SECONDS:
        raise ValueError(f"delay must be between 0 and {MAX_FAULT_DELAY_SECONDS} seconds")
    retry_after = raw.get("retry_after")
    if retry_after is not None:
        if status is None:
            raise ValueError("retry_after needs a status")
        if isinstance(retry_after, bool) or not isinstance(retry_after, int | float | str):
            raise ValueError("retry_after must be seconds or an HTTP date string")
        if isinstance(retry_after, float) and retry_after.is_integer():
            retry_after = int(retry_after)
        retry_after = str(retry_after)
    body = raw.get("body")
    if body is not None and status is None:
        raise ValueError("body needs a status")
    endpoint = raw.get("endpoint", BULK_ENDPOINT)
    if not isinstance(endpoint, str) or not (endpoint == ANY_ENDPOINT or endpoint.startswith("/")):
        raise ValueError('endpoint must be a path under /rest/v2 such as "/things/search", or "*"')
    return FaultStep(status, retry_after, body, drop, float(delay), accept, endpoint)


class FaultPlan:
    """Not thread-safe on its own; SimState serialises access."""

    def __init__(self) -> None:
        self.script: deque[FaultStep] = deque()
        self.reject_urls: list[str] = []
        # None: use the server's --dedupe setting.
        self.dedupe: bool | None = None

    def reset(self) -> None:
        self.replace([], [], None)

    def replace(self, script: list[FaultStep], reject_urls: list[str], dedupe: bool | None) -> None:
        self.script = deque(script)
        self.reject_urls = list(reject_urls)
        self.dedupe = dedupe

    def next_step(self, endpoint: str = BULK_ENDPOINT) -> FaultStep | None:
        """Use up the first step meant for this endpoint (None: no fault)."""
        for index, step in enumerate(self.script):
            if step.applies_to(endpoint):
                del self.script[index]
                return step
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "script": [step.to_json() for step in self.script],
            "reject_urls": list(self.reject_urls),
            "dedupe": self.dedupe,
        }
