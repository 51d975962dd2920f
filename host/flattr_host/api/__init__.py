"""A client for Flattr's REST API v2: models, one exception hierarchy, answers, paging.

    with FlattrClient("https://api.flattr.com", token) as flattr:
        me = flattr.user()
        for f in flattr.iter_flattrs(me.username):
            print(f.thing.title)

What the code relies on about the API is written down in docs/flattr-api.md.
"""

from .answer import Answer, network_failure, read_answer
from .client import FlattrClient
from .errors import (
    ApiError,
    ConfigError,
    FlattrError,
    FlattrOnce,
    FlattrOwner,
    Forbidden,
    InsufficientScope,
    InvalidParameters,
    InvalidRequest,
    InvalidScope,
    NoMeans,
    NotAcceptable,
    NotFound,
    RateLimitExceeded,
    ServerError,
    TransportError,
    Unauthorized,
    UnexpectedAnswer,
)

__all__ = [
    "Answer",
    "ApiError",
    "ConfigError",
    "FlattrClient",
    "FlattrError",
    "FlattrOnce",
    "FlattrOwner",
    "Forbidden",
    "InsufficientScope",
    "InvalidParameters",
    "InvalidRequest",
    "InvalidScope",
    "NoMeans",
    "NotAcceptable",
    "NotFound",
    "RateLimitExceeded",
    "ServerError",
    "TransportError",
    "Unauthorized",
    "UnexpectedAnswer",
    "network_failure",
    "read_answer",
]
