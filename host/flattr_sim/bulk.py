"""POST /rest/v2/flattr/bulk, where flattrs are submitted (docs/flattr-api.md#bulk-flattr).

Order of work for one request: fault step (delay, then maybe answer or drop without looking at
the request), then the rate limit, Bearer check, Idempotency-Key replay, body validation,
rejected URLs, legacy 402, and finally recording every element. Every request is logged in
SimState.journal.received, dropped ones with status 0.
"""

from __future__ import annotations

import json
import time
from typing import Any

from .constants import JSON_CONTENT_TYPE
from .error_codes import ApiError, code_for_status, error_payload
from .faults import FaultStep
from .journal import SOURCE_BULK, AcceptedFlattr, Received
from .messages import Request, Response, encode_json, json_response
from .metering import limited, rate_key
from .state import SimState
from .users import Token, fingerprint

IDEMPOTENCY_HEADER = "idempotency-key"
REPLAY_HEADER = "Idempotent-Replayed"


def handle(req: Request, state: SimState) -> Response:
    arrived = time.time()
    with state.lock:
        step = state.faults.next_step()
    if step is not None and step.delay:
        time.sleep(step.delay)  # outside the lock: other requests keep being served

    with state.lock:
        token = state.accounts.authenticate(req.bearer_token())
        record = Received(
            path=req.path,
            method=req.method,
            token_ok=token is not None,
            username=token.username if token else None,
            token_fingerprint=fingerprint(t) if (t := req.bearer_token()) else None,
            idempotency_key=req.header(IDEMPOTENCY_HEADER),
            urls=_lenient_urls(req.body),
            time=arrived,
            fault=step.describe() if step is not None else None,
        )
        state.journal.received.append(record)

        if step is not None and step.replaces_answer and not step.accept:
            response = fault_answer(step)
            # Like every answer of a rate-limited resource, a fault's carries the window
            # (docs/flattr-api.md#rate-limits).
            response.headers.extend(state.rate_limiter.peek(rate_key(req, token)).headers())
        else:
            response = limited(req, state, lambda tok: _process(req, state, tok, record))
            if step is not None and step.replaces_answer:
                window = [h for h in response.headers if h[0].lower().startswith("x-ratelimit-")]
                response = fault_answer(step)
                response.headers.extend(window)
        record.status = 0 if response.drop else response.status
        return response


def fault_answer(step: FaultStep) -> Response:
    if step.drop:
        return Response(0, drop=True, note=f"fault: {step.describe()}")
    assert step.status is not None
    body = step.body if step.body is not None else error_payload(code_for_status(step.status))
    response = json_response(step.status, body)
    if step.retry_after is not None:
        response.headers.append(("Retry-After", step.retry_after))
    response.note = f"fault: {step.describe()}"
    return response


def _process(req: Request, state: SimState, token: Token | None, record: Received) -> Response:
    if token is None:
        raise ApiError("unauthorized")
    key = record.idempotency_key
    if state.dedupe and key:
        replay = state.journal.accepted_keys.get((token.username, key))
        if replay is not None:
            record.duplicate = True
            response = Response(200, replay, JSON_CONTENT_TYPE)
            response.headers.append((REPLAY_HEADER, "true"))
            return response

    urls = _strict_urls(req)
    rejected = [url for url in dict.fromkeys(urls) if url in state.faults.reject_urls]
    if rejected:
        # The whole request is refused; the client is expected to split the batch.
        raise ApiError("invalid_parameters", "Some URLs cannot be flattred", invalid_urls=rejected)

    user = state.accounts.users[token.username]
    if state.legacy_402 and not user.subscription_active:
        raise ApiError("payment_required")

    # Each element is one flattr, duplicates included (two thresholds crossed).
    state.journal.flattrs.extend(
        AcceptedFlattr(url, user.username, record.time, key, SOURCE_BULK) for url in urls
    )
    for url in urls:  # as on flattr.com, each is one of the user's flattrs (GET /user/flattrs)
        state.catalog.record_bulk(url, user.username, record.time)
    record.accepted = True
    active = user.subscription_active
    body = encode_json(
        {"status": "success", "subscription": {"active": active}, "sandboxed": not active}
    )
    if state.dedupe and key:
        state.journal.accepted_keys[(user.username, key)] = body
    return Response(200, body, JSON_CONTENT_TYPE)


def _strict_urls(req: Request) -> list[str]:
    """The body must be a JSON array of objects with a non-empty string url."""
    data = req.json_body()
    if not isinstance(data, list):
        raise ApiError("invalid_parameters", 'The body must be a JSON array of {"url": ...}')
    urls: list[str] = []
    for index, item in enumerate(data):
        url = item.get("url") if isinstance(item, dict) else None
        if not isinstance(url, str) or not url:
            raise ApiError("invalid_parameters", f"Element {index} has no string url")
        urls.append(url)
    return urls


def _lenient_urls(body: bytes) -> list[str]:
    """Whatever URLs the body holds, for the log, even when it will be refused."""
    try:
        data: Any = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return []
    items = data if isinstance(data, list) else [data]
    return [i["url"] for i in items if isinstance(i, dict) and isinstance(i.get("url"), str)]
