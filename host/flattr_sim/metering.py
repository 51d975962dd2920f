"""Apply the rate limit to one API request (everything under /rest/v2 but /rate_limit)."""

from __future__ import annotations

from collections.abc import Callable

from .error_codes import ApiError
from .messages import Request, Response, error_response
from .state import SimState
from .users import Token


def rate_key(req: Request, token: Token | None) -> str:
    """Per token, else per client address (an assumption: docs/flattr-api.md#rate-limits)."""
    return f"token:{token.value}" if token is not None else f"ip:{req.client_ip}"


def limited(req: Request, state: SimState, handler: Callable[[Token | None], Response]) -> Response:
    """Count the request, answer 403 rate_limit_exceeded when used up, add X-RateLimit-*.

    The handler gets the authenticated token (or None) and may raise ApiError.
    """
    with state.lock:
        token = state.accounts.authenticate(req.bearer_token())
        status = state.rate_limiter.hit(rate_key(req, token))
        if not status.allowed:
            response = error_response(ApiError("rate_limit_exceeded"))
        else:
            try:
                response = handler(token)
            except ApiError as error:
                response = error_response(error)
        response.headers.extend(status.headers())
        return response
