"""Users, their tokens, the registered OAuth app and its authorization codes."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
import time
import urllib.parse
from dataclasses import dataclass, field

from .constants import (
    AUTH_CODE_BYTES,
    AUTH_CODE_TTL_SECONDS,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_MEANS,
    DEFAULT_REDIRECT_URI,
    FULL_SCOPES,
    ISSUED_TOKEN_BYTES,
)

_USERNAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
USER_ID_BYTES = 4


def fingerprint(token: str) -> str:
    """What logs and the control interface show instead of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:8]


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def valid_username(name: str) -> bool:
    return bool(_USERNAME.match(name))


@dataclass
class User:
    username: str
    subscription_active: bool = True
    means: int = DEFAULT_MEANS
    hide_flattrs: bool = False
    registered_at: int = field(default_factory=lambda: int(time.time()))
    user_id: str = field(default_factory=lambda: secrets.token_hex(USER_ID_BYTES))

    @property
    def email(self) -> str:
        return f"{self.username}@users.flattr.invalid"


@dataclass
class Token:
    value: str
    username: str
    scopes: frozenset[str]
    revoked: bool = False


@dataclass
class App:
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    redirect_uri: str = DEFAULT_REDIRECT_URI
    # The real server never echoed state (docs/flattr-api.md#oauth); a switch for those who want it.
    echo_state: bool = False
    code_ttl_seconds: float = AUTH_CODE_TTL_SECONDS

    @property
    def callback_domain(self) -> str:
        return urllib.parse.urlsplit(self.redirect_uri).hostname or ""

    def accepts_redirect(self, uri: str) -> bool:
        """The registered URI exactly, or, when that is a loopback http URI, the same path on
        any loopback address and port (RFC 8252 §7.3: native apps pick a free port)."""
        if uri == self.redirect_uri:
            return True
        given, registered = urllib.parse.urlsplit(uri), urllib.parse.urlsplit(self.redirect_uri)
        try:
            given.port  # noqa: B018 - raises on a malformed port
        except ValueError:
            return False
        return (
            given.scheme == registered.scheme == "http"
            and loopback(given.hostname or "")
            and loopback(registered.hostname or "")
            and (given.path or "/") == (registered.path or "/")
            and not given.fragment
            and not given.username
            and not given.password
        )


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    username: str
    scopes: frozenset[str]
    expires_at: float
    used: bool = False


class Accounts:
    """Not thread-safe on its own; SimState serialises access."""

    def __init__(self, demo_username: str, demo_token: str, demo_subscription: bool) -> None:
        self.demo_username = demo_username
        self._demo_token = demo_token
        self._demo_subscription = demo_subscription
        self.users: dict[str, User] = {}
        self.tokens: dict[str, Token] = {}
        self.app = App()
        self.codes: dict[str, AuthCode] = {}
        self.reset(users=True)

    def reset(self, *, users: bool) -> None:
        self.app = App()
        self.codes.clear()
        if users:
            self.users.clear()
            self.tokens.clear()
            self.upsert_user(
                self.demo_username, self._demo_token, subscription_active=self._demo_subscription
            )

    def upsert_user(
        self,
        username: str,
        token: str | None = None,
        *,
        subscription_active: bool | None = None,
        means: int | None = None,
        hide_flattrs: bool | None = None,
    ) -> User:
        user = self.users.get(username)
        if user is None:
            user = self.users[username] = User(username)
        if subscription_active is not None:
            user.subscription_active = subscription_active
        if means is not None:
            user.means = means
        if hide_flattrs is not None:
            user.hide_flattrs = hide_flattrs
        if token is not None:
            # A token belongs to one user; re-adding it moves it and un-revokes it.
            self.tokens[token] = Token(token, username, FULL_SCOPES)
        return user

    def authenticate(self, token: str | None) -> Token | None:
        """The token's record if it is known and not revoked."""
        if not token:
            return None
        record = self.tokens.get(token)
        if record is None or record.revoked or record.username not in self.users:
            return None
        return record

    def revoke(self, token: str) -> bool:
        record = self.tokens.get(token)
        if record is None or record.revoked:
            return False
        record.revoked = True
        return True

    def revoke_user(self, username: str) -> int:
        count = 0
        for record in self.tokens.values():
            if record.username == username and not record.revoked:
                record.revoked = True
                count += 1
        return count

    def issue_token(self, username: str, scopes: frozenset[str]) -> str:
        value = secrets.token_hex(ISSUED_TOKEN_BYTES)
        self.tokens[value] = Token(value, username, scopes)
        return value

    def primary_token(self, username: str) -> str:
        """The user's oldest live token; a new one if all were revoked (for the /oauth/ext page)."""
        for record in self.tokens.values():
            if record.username == username and not record.revoked:
                return record.value
        return self.issue_token(username, FULL_SCOPES)

    def issue_code(
        self, client_id: str, redirect_uri: str, username: str, scopes: frozenset[str]
    ) -> str:
        code = secrets.token_urlsafe(AUTH_CODE_BYTES)
        expires_at = time.time() + self.app.code_ttl_seconds
        self.codes[code] = AuthCode(code, client_id, redirect_uri, username, scopes, expires_at)
        return code

    def redeem_code(self, code: str, client_id: str, redirect_uri: str | None) -> AuthCode | str:
        """The code's record (now spent), or why it cannot be redeemed."""
        record = self.codes.get(code)
        if record is None or record.used or record.client_id != client_id:
            return "The authorization code is invalid or was already used"
        if record.expires_at <= time.time():
            return "The authorization code has expired"
        if redirect_uri is not None and redirect_uri != record.redirect_uri:
            return "redirect_uri does not match the one used to get the code"
        record.used = True
        return record
