"""The Flattr error body and the exact code -> status table (docs/flattr-api.md#errors)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from .constants import ERROR_URI

# code: (HTTP status, default description)
ERROR_CODES: dict[str, tuple[int, str]] = {
    "invalid_request": (400, "Not a valid request"),
    "invalid_parameters": (400, "Parameter missing or invalid"),
    "validation": (400, "Validation failed"),
    "unauthorized": (401, "You are unauthorized to access the resource"),
    "no_means": (401, "You don't have any money to flattr with"),
    "payment_required": (402, "An active subscription is required"),
    "rate_limit_exceeded": (403, "Too many requests in the last hour"),
    "invalid_scope": (403, "Scope does not exist"),
    "insufficient_scope": (403, "Missing the scope the resource needs"),
    "flattr_once": (403, "You have already flattred this thing"),
    "flattr_owner": (403, "You are not allowed to flattr your own thing"),
    "forbidden": (403, "Forbidden"),
    "not_found": (404, "The resource was not found"),
    "not_acceptable": (406, "Unknown response format"),
    "server_error": (500, "Something went wrong, we have been notified"),
}

# Codes the fault script uses for statuses that have no Flattr code of their own.
_STATUS_CODES: dict[int, str] = {
    400: "invalid_request",
    401: "unauthorized",
    402: "payment_required",
    403: "forbidden",
    404: "not_found",
    406: "not_acceptable",
    429: "rate_limit_exceeded",
    500: "server_error",
}

# Reason phrases the stdlib does not know (Cloudflare's 525, the non-standard 599).
_EXTRA_PHRASES = {525: "SSL Handshake Failed", 599: "Network Connect Timeout Error"}


class ApiError(Exception):
    """Raised by handlers; becomes the standard error body with the code's status."""

    def __init__(self, code: str, description: str | None = None, **extra: Any) -> None:
        status, default = ERROR_CODES[code]
        super().__init__(description or default)
        self.code = code
        self.status = status
        self.description = description or default
        self.extra = extra

    def payload(self) -> dict[str, Any]:
        return error_payload(self.code, self.description, **self.extra)


def error_payload(code: str, description: str | None = None, **extra: Any) -> dict[str, Any]:
    """{"error", "error_description", "error_uri"} plus any extra keys."""
    if description is None:
        description = ERROR_CODES.get(code, (0, code.replace("_", " ")))[1]
    body: dict[str, Any] = {"error": code, "error_description": description, "error_uri": ERROR_URI}
    body.update(extra)
    return body


def reason_phrase(status: int) -> str:
    if status in _EXTRA_PHRASES:
        return _EXTRA_PHRASES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def code_for_status(status: int) -> str:
    """An error code for an arbitrary status (fault injection)."""
    if status in _STATUS_CODES:
        return _STATUS_CODES[status]
    if status >= 500:
        return "server_error"
    return reason_phrase(status).lower().replace(" ", "_").replace("-", "_")
