"""Every exception the client raises, in one hierarchy.

FlattrError
├── ConfigError              the client cannot be used as configured (e.g. plain http to the net)
├── TransportError           no HTTP answer: connection refused or dropped, TLS failure, timeout
└── ApiError                 an HTTP answer that is not a success (``.answer`` has everything)
    ├── InvalidRequest       400 invalid_request
    ├── InvalidParameters    400 invalid_parameters (and ``validation``)
    ├── Unauthorized         401 unauthorized: no token, or it was revoked
    ├── NoMeans              401 no_means (later no_money): not enough means to flattr
    ├── Forbidden            403 without a code of its own
    │   ├── RateLimitExceeded    rate_limit_exceeded (also raised before sending: see client)
    │   ├── InvalidScope         invalid_scope
    │   ├── InsufficientScope    insufficient_scope
    │   ├── FlattrOnce           flattr_once: already flattred
    │   └── FlattrOwner          flattr_owner: your own thing
    ├── NotFound             404 not_found
    ├── NotAcceptable        406 not_acceptable
    ├── ServerError          5xx
    └── UnexpectedAnswer     a success whose body is not what the endpoint documents

The class is chosen by the body's ``error`` code first (no_means and unauthorized share 401),
then by the status. Messages never contain the token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .answer import Answer


class FlattrError(Exception):
    """Base of everything the client raises."""


class ConfigError(FlattrError):
    pass


class TransportError(FlattrError):
    pass


class ApiError(FlattrError):
    code_name: str | None = None

    def __init__(self, answer: Answer, message: str | None = None) -> None:
        self.answer = answer
        self.status = answer.status
        self.code = answer.code or self.code_name
        self.description = answer.message
        code = f" {self.code}" if self.code else ""
        text = message or answer.message
        super().__init__(f"HTTP {answer.status}{code}" + (f": {text}" if text else ""))


class InvalidRequest(ApiError):
    code_name = "invalid_request"


class InvalidParameters(ApiError):
    code_name = "invalid_parameters"


class Unauthorized(ApiError):
    code_name = "unauthorized"


class NoMeans(ApiError):
    code_name = "no_means"


class Forbidden(ApiError):
    pass


class RateLimitExceeded(Forbidden):
    code_name = "rate_limit_exceeded"

    @property
    def reset_at(self) -> float | None:
        """Local unix time when the window resets, when the server said."""
        rate = self.answer.rate
        return None if rate is None else rate.reset


class InvalidScope(Forbidden):
    code_name = "invalid_scope"


class InsufficientScope(Forbidden):
    code_name = "insufficient_scope"


class FlattrOnce(Forbidden):
    code_name = "flattr_once"


class FlattrOwner(Forbidden):
    code_name = "flattr_owner"


class NotFound(ApiError):
    code_name = "not_found"


class NotAcceptable(ApiError):
    code_name = "not_acceptable"


class ServerError(ApiError):
    pass


class UnexpectedAnswer(ApiError):
    pass


_BY_CODE: dict[str, type[ApiError]] = {
    "invalid_request": InvalidRequest,
    "invalid_parameters": InvalidParameters,
    "validation": InvalidParameters,
    "unauthorized": Unauthorized,
    "no_means": NoMeans,
    "no_money": NoMeans,
    "rate_limit_exceeded": RateLimitExceeded,
    "invalid_scope": InvalidScope,
    "insufficient_scope": InsufficientScope,
    "flattr_once": FlattrOnce,
    "flattr_owner": FlattrOwner,
    "not_found": NotFound,
    "not_acceptable": NotAcceptable,
}
_BY_STATUS: dict[int, type[ApiError]] = {
    400: InvalidRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    406: NotAcceptable,
    429: RateLimitExceeded,
}


def error_for(answer: Answer) -> ApiError:
    """The exception for a non-success answer."""
    cls = _BY_CODE.get(answer.code or "")
    if cls is None:
        status = answer.status or 0
        cls = ServerError if status >= 500 else _BY_STATUS.get(status, ApiError)
    return cls(answer)
