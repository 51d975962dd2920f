"""The Flattr account: its token, its subscription, and which account queued flattrs belong to.

A flattr is bound to the account that was signed in when it was earned and is only ever sent with
that account's token. When the API rejects a token (401) the account stays current but loses its
token: new flattrs keep queueing for it and wait until the same account signs in again. When the
user signs out on purpose there is no current account and no flattrs are made.

An account whose user was never learned (signed in while the API was unreachable, then signed out
or its token rejected before ``GET /rest/v2/user`` answered) cannot be claimed by a user name: its
flattrs go to the next account that signs in on this machine.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

from . import flattrs, store
from .logs import redact_secret

CURRENT = "current_account"
# RFC 6750 b64token: the only characters an ``Authorization: Bearer`` header can carry.
BEARER_TOKEN_CHARS = "[A-Za-z0-9._~+/-]+=*"
NOT_A_BEARER_TOKEN = (
    "the token is not a bearer token (RFC 6750: letters, digits and - . _ ~ + / then = padding); "
    "sign in again on https://flattr.com"
)


def is_bearer_token(token: str) -> bool:
    return re.fullmatch(BEARER_TOKEN_CHARS, token) is not None


def redact_stored_tokens(conn: sqlite3.Connection) -> None:
    """Every token in the database is redacted from logs and shown errors of this process."""
    for row in conn.execute("SELECT token FROM accounts WHERE token IS NOT NULL"):
        redact_secret(row[0])


@dataclass(frozen=True)
class Account:
    id: int
    username: str | None
    token: str | None = None
    subscription_active: bool | None = None
    signed_out_reason: str | None = None

    @property
    def signed_in(self) -> bool:
        return self.token is not None

    def __repr__(self) -> str:  # never the token, not even in a traceback
        return f"Account(id={self.id}, username={self.username!r}, signed_in={self.signed_in})"


def _row(row: sqlite3.Row | None) -> Account | None:
    if row is None:
        return None
    active = row["subscription_active"]
    return Account(
        id=row["id"],
        username=row["username"],
        token=row["token"],
        subscription_active=None if active is None else bool(active),
        signed_out_reason=row["signed_out_reason"],
    )


def get(conn: sqlite3.Connection, account_id: int) -> Account | None:
    return _row(conn.execute("SELECT * FROM accounts WHERE id = ?", (account_id,)).fetchone())


def current(conn: sqlite3.Connection) -> Account | None:
    account_id = store.get(conn, CURRENT)
    return None if account_id is None else get(conn, int(account_id))


def sign_in(
    conn: sqlite3.Connection, token: str, subscription_active: bool | None, now: float
) -> Account:
    """Store a token from the flattr.com handshake and make its account the current one; the
    flattrs of accounts whose user was never learned come with it. Call inside a transaction."""
    if not is_bearer_token(token):
        raise ValueError(NOT_A_BEARER_TOKEN)
    existing = conn.execute("SELECT id FROM accounts WHERE token = ?", (token,)).fetchone()
    if existing is not None:
        account_id = int(existing["id"])
        if subscription_active is not None:
            conn.execute(
                "UPDATE accounts SET subscription_active = ? WHERE id = ?",
                (int(subscription_active), account_id),
            )
    else:
        # Until GET /rest/v2/user names it, a new token is a new account; verify() merges it into
        # an earlier account of the same user, so that flattrs waiting for that user can go.
        account_id = int(
            conn.execute(
                "INSERT INTO accounts (token, subscription_active, signed_in_at) VALUES (?, ?, ?)",
                (token, None if subscription_active is None else int(subscription_active), now),
            ).lastrowid
            or 0
        )
    store.put(conn, CURRENT, account_id)
    _adopt_unverified(conn, account_id, now)
    account = get(conn, account_id)
    assert account is not None
    return account


def _adopt_unverified(conn: sqlite3.Connection, account_id: int, now: float) -> None:
    """The flattrs of every account whose user was never learned go to ``account_id``, in their
    batches (same Idempotency-Key: if it is the same user, a request that did reach the server is
    recorded once), and those accounts are forgotten once nothing refers to them."""
    nameless = conn.execute(
        "SELECT id FROM accounts WHERE username IS NULL AND id != ?", (account_id,)
    ).fetchall()
    for row in nameless:
        source = int(row["id"])
        flattrs.rebind(conn, source, account_id, now, uncertain_too=True)
        if not flattrs.bound_to(conn, source):
            conn.execute("DELETE FROM accounts WHERE id = ?", (source,))


def verify(conn: sqlite3.Connection, account_id: int, username: str) -> Account | None:
    """Record which user a token belongs to, merging with an earlier account of the same user.
    None when the account is gone (another sign-in adopted it while its user was asked for)."""
    if get(conn, account_id) is None:
        return None
    earlier = conn.execute(
        "SELECT id FROM accounts WHERE username = ? AND id != ? ORDER BY id LIMIT 1",
        (username, account_id),
    ).fetchone()
    if earlier is None:
        conn.execute("UPDATE accounts SET username = ? WHERE id = ?", (username, account_id))
        account = get(conn, account_id)
        assert account is not None
        return account
    keep = int(earlier["id"])
    conn.execute(
        "UPDATE accounts SET token = n.token, subscription_active = n.subscription_active, "
        "signed_in_at = n.signed_in_at, signed_out_at = NULL, signed_out_reason = NULL "
        "FROM (SELECT * FROM accounts WHERE id = ?) AS n WHERE accounts.id = ?",
        (account_id, keep),
    )
    flattrs.move_account(conn, account_id, keep)
    conn.execute("DELETE FROM accounts WHERE id = ?", (account_id,))
    if store.get(conn, CURRENT) == account_id:
        store.put(conn, CURRENT, keep)
    account = get(conn, keep)
    assert account is not None
    return account


def set_subscription(conn: sqlite3.Connection, account_id: int, active: bool) -> None:
    conn.execute(
        "UPDATE accounts SET subscription_active = ? WHERE id = ?", (int(active), account_id)
    )


def token_rejected(conn: sqlite3.Connection, account_id: int, now: float) -> None:
    """The API answered 401: forget the token, keep the account (and its queued flattrs)."""
    conn.execute(
        "UPDATE accounts SET token = NULL, signed_out_at = ?, signed_out_reason = 'token_rejected' "
        "WHERE id = ?",
        (now, account_id),
    )


def sign_out(conn: sqlite3.Connection, now: float) -> Account | None:
    """The user signed out: forget the token and stop making flattrs. Queued flattrs stay bound to
    the account and go when it signs in again."""
    account = current(conn)
    if account is not None:
        conn.execute(
            "UPDATE accounts SET token = NULL, signed_out_at = ?, signed_out_reason = 'user' "
            "WHERE id = ?",
            (now, account.id),
        )
    store.put(conn, CURRENT, None)
    return account


@dataclass(frozen=True)
class Adoption:
    """The unsent flattrs of one other account (``source`` None: bound to none) and their move."""

    source: Account | None
    rebound: flattrs.Rebound


def adopt_waiting(
    conn: sqlite3.Connection, account_id: int, now: float, *, dry_run: bool = False
) -> list[Adoption]:
    """Move every flattr that waits for another account to ``account_id`` (``flattr-host queue
    --adopt``). Call inside one transaction, so that all of it moves or none. A verified account's
    batches that may already be recorded under its user stay (see ``flattrs.rebind``)."""
    waiting = [a for a in flattrs.unsent_by_account(conn) if a != account_id]
    adoptions = []
    for source_id in sorted(waiting, key=lambda a: (a is not None, a or 0)):  # no account first
        source = None if source_id is None else get(conn, source_id)
        rebound = flattrs.rebind(
            conn,
            None if source is None else source.id,
            account_id,
            now,
            uncertain_too=source is None or source.username is None,
            dry_run=dry_run,
        )
        adoptions.append(Adoption(source, rebound))
    return adoptions
