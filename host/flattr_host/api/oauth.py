"""Flattr's OAuth 2 authorization-code flow: the authorize URL and the code-for-token exchange.

Documented: GET {web}/oauth/authorize?response_type=code&client_id&redirect_uri&scope (scopes
separated by spaces), then POST {web}/oauth/token with HTTP Basic client credentials and the JSON
body {"code", "grant_type": "authorization_code", "redirect_uri"}; the answer is
{"access_token", "token_type": "bearer"}. Flattr never echoed ``state``; we send it anyway and
check it whenever it comes back.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

import httpx

from .client import check_base, use_proxy_settings
from .errors import FlattrError


class OAuthError(FlattrError):
    """The token endpoint said no (``error`` is its code, e.g. invalid_grant) or could not be
    reached (``error`` is None)."""

    def __init__(self, error: str | None, description: str) -> None:
        super().__init__(f"{error}: {description}" if error else description)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class Grant:
    access_token: str
    token_type: str

    def __repr__(self) -> str:  # never the token
        return f"Grant(token_type={self.token_type!r})"


def authorize_url(
    web_base: str, client_id: str, redirect_uri: str, scopes: tuple[str, ...], state: str
) -> str:
    query = urllib.parse.urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
            "state": state,
        },
        quote_via=urllib.parse.quote,  # spaces as %20, as the docs show
    )
    return f"{check_base(web_base)}/oauth/authorize?{query}"


def exchange_code(
    web_base: str,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str,
    *,
    verify: Any = True,
    timeout: float = 20.0,
    transport: httpx.BaseTransport | None = None,
) -> Grant:
    """POST /oauth/token; raises OAuthError with the server's reason."""
    body = {"code": code, "grant_type": "authorization_code", "redirect_uri": redirect_uri}
    try:
        with httpx.Client(
            verify=verify,
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
            trust_env=use_proxy_settings(web_base),
        ) as http:
            response = http.post(
                f"{check_base(web_base)}/oauth/token",
                json=body,
                auth=httpx.BasicAuth(client_id, client_secret),
                headers={"Accept": "application/json"},
            )
    except httpx.HTTPError as exc:
        raise OAuthError(None, f"could not reach {web_base}: {exc}") from None
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise OAuthError(None, f"{web_base}/oauth/token answered HTTP {response.status_code}")
    token, kind = data.get("access_token"), data.get("token_type")
    if response.status_code == 200 and isinstance(token, str) and token:
        if not isinstance(kind, str) or kind.lower() != "bearer":  # its case changed over time
            raise OAuthError(None, f"unexpected token type {kind!r}")
        return Grant(token, kind)
    error = data.get("error")
    description = data.get("error_description")
    return_error = error if isinstance(error, str) else f"HTTP {response.status_code}"
    raise OAuthError(return_error, description if isinstance(description, str) else "")
