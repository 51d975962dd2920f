"""The flattr.com role: /oauth/authorize, /oauth/token, /oauth/ext, /submit/auto and /."""

from __future__ import annotations

import base64
import binascii
import html
import json
import urllib.parse
from importlib import resources
from typing import Any

from .autosubmit import parse_auto_submit
from .constants import AUTO_SUBMIT_PREFIXES, KNOWN_SCOPES, OAUTH_JSON_CONTENT_TYPE
from .error_codes import ApiError, error_payload
from .messages import Request, Response, html_response, json_response
from .state import SimState

EXT_PAGE = "ext.html"
# Replaced by the page's configuration (JSON) when /oauth/ext is served.
EXT_CONFIG_MARKER = "__FLATTR_SIM_CONFIG__"
NO_SUBSCRIPTION_VARIANT = "no-subscription"
# The text the real server answered for a missing client_id (AntennaPod issues #474/#729).
BAD_REQUEST_TEXT = (
    "Bad request (400) There is an error with the request. "
    "Parameters might be malformed or missing."
)
# Sim-only authorize parameters: act as another signed-in user, or simulate the user saying no.
SIM_USER_PARAM = "sim_user"
SIM_DENY_PARAM = "sim_deny"
# Documented on the token endpoint: the response must never be cached.
NO_STORE_HEADERS = [
    ("Expires", "Thu, 19 Nov 1981 08:52:00 GMT"),
    ("Cache-Control", "no-store"),
    ("Pragma", "no-cache"),
]
# Pages holding a token must not be cached or leak through Referer.
PRIVATE_PAGE_HEADERS = [("Cache-Control", "no-store"), ("Referrer-Policy", "no-referrer")]


def handle(req: Request, state: SimState) -> Response:
    path = req.path.rstrip("/") or "/"
    if req.method in ("GET", "HEAD"):
        if path == "/oauth/ext":
            return _ext_page(req, state)
        if path == "/oauth/authorize":
            return _authorize(req, state)
        if path == "/submit/auto":
            return _submit_auto(req)
        if path.startswith("/claim/"):
            return _claim(path.removeprefix("/claim/"), state)
        if path == "/":
            return _page("Flattr (local simulator)", "<p>This is the local Flattr server.</p>")
    if req.method == "POST" and path == "/oauth/token":
        return _token(req, state)
    return html_response(404, _html("Not found", "<p>Page not found.</p>"))


def _html(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def _page(title: str, body: str, status: int = 200) -> Response:
    return html_response(status, _html(title, body))


# --- /oauth/ext: the handshake page ---------------------------------------------------------


def _ext_page(req: Request, state: SimState) -> Response:
    username = req.arg(SIM_USER_PARAM) or state.accounts.demo_username
    with state.lock:
        user = state.accounts.users.get(username)
        if user is None:
            return _page("Unknown user", f"<p>No user {html.escape(username)}.</p>", 404)
        # Issued server-side as the page is served, as flattr.com did for the signed-in user.
        token = state.accounts.primary_token(username)
        active = user.subscription_active
    config = {
        "accessToken": token,
        "username": username,
        "subscription": {"active": active},
        "sendSubscription": req.arg("variant") != NO_SUBSCRIPTION_VARIANT,
        "autoStart": req.arg("auto") != "0",
    }
    template = resources.files(__package__).joinpath(EXT_PAGE).read_text("utf-8")
    page = template.replace(EXT_CONFIG_MARKER, _script_json(config))
    response = html_response(200, page)
    response.headers.extend(PRIVATE_PAGE_HEADERS)
    return response


def _script_json(data: Any) -> str:
    """JSON safe inside <script type="application/json">: no "</script>" or "<!--" can appear."""
    text = json.dumps(data)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# --- /oauth/authorize -----------------------------------------------------------------------


def _authorize(req: Request, state: SimState) -> Response:
    with state.lock:
        app = state.accounts.app
        client_id = req.arg("client_id")
        response_type = req.arg("response_type")
        if not client_id or client_id != app.client_id or response_type not in ("code", "token"):
            return _page("Bad request", f"<p>{html.escape(BAD_REQUEST_TEXT)}</p>", 400)
        redirect_uri = req.arg("redirect_uri")
        if redirect_uri is not None and not app.accepts_redirect(redirect_uri):
            # Never redirect to an unregistered URI.
            return _page("Bad request", "<p>redirect_uri does not match the application.</p>", 400)
        target = redirect_uri or app.redirect_uri
        # Spaces ("+" or "%20") and commas were both seen in the wild.
        requested = (req.arg("scope") or "").replace(",", " ").split()
        unknown = sorted(set(requested) - KNOWN_SCOPES)
        if unknown:
            return json_response(
                403, error_payload("invalid_scope", f"Unknown scope: {' '.join(unknown)}")
            )
        state_param = req.arg("state") if app.echo_state else None
        if req.arg(SIM_DENY_PARAM):
            return _redirect(target, {"error": "access_denied"}, state_param)
        username = req.arg(SIM_USER_PARAM) or state.accounts.demo_username
        if username not in state.accounts.users:
            return _page("Unknown user", f"<p>No user {html.escape(username)}.</p>", 404)
        scopes = frozenset(requested)
        if response_type == "token":
            token = state.accounts.issue_token(username, scopes)
            fragment = {"access_token": token, "token_type": "bearer"}
            return _redirect(target, fragment, state_param, in_fragment=True)
        code = state.accounts.issue_code(app.client_id, target, username, scopes)
        return _redirect(target, {"code": code}, state_param)


def _redirect(
    target: str, params: dict[str, str], state: str | None, *, in_fragment: bool = False
) -> Response:
    if state is not None:
        params = {**params, "state": state}
    encoded = urllib.parse.urlencode(params)
    if in_fragment:
        location = f"{target.split('#')[0]}#{encoded}"
    else:
        location = f"{target}{'&' if '?' in target else '?'}{encoded}"
    response = Response(302, b"", None, [("Location", location)], note="redirect")
    response.headers.extend(PRIVATE_PAGE_HEADERS)
    return response


# --- /oauth/token ---------------------------------------------------------------------------


def _token_error(status: int, code: str, description: str) -> Response:
    response = json_response(
        status,
        {"error": code, "error_description": description},
        content_type=OAUTH_JSON_CONTENT_TYPE,
    )
    if status == 401:
        response.headers.append(("WWW-Authenticate", 'Basic realm="flattr"'))
    response.headers.extend(NO_STORE_HEADERS)
    return response


def _basic_credentials(req: Request) -> tuple[str, str] | None:
    scheme, _, value = (req.header("authorization") or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return None
    return urllib.parse.unquote(client_id), urllib.parse.unquote(secret)


def _token(req: Request, state: SimState) -> Response:
    try:
        params = req.params_body()
    except ApiError:
        return _token_error(400, "invalid_request", "The body must be JSON or form-encoded")
    with state.lock:
        app = state.accounts.app
        credentials = _basic_credentials(req)
        if credentials is None and "client_id" in params:
            credentials = (str(params.get("client_id")), str(params.get("client_secret", "")))
        if credentials != (app.client_id, app.client_secret):
            return _token_error(401, "invalid_client", "Client authentication failed")
        if params.get("grant_type") != "authorization_code":
            return _token_error(
                400, "unsupported_grant_type", "Only authorization_code is supported"
            )
        code = params.get("code")
        if not isinstance(code, str) or not code:
            return _token_error(400, "invalid_request", "code is required")
        redirect_uri = params.get("redirect_uri")
        redeemed = state.accounts.redeem_code(
            code, app.client_id, redirect_uri if isinstance(redirect_uri, str) else None
        )
        if isinstance(redeemed, str):
            return _token_error(400, "invalid_grant", redeemed)
        token = state.accounts.issue_token(redeemed.username, redeemed.scopes)
    response = json_response(
        200, {"access_token": token, "token_type": "bearer"}, content_type=OAUTH_JSON_CONTENT_TYPE
    )
    response.headers.extend(NO_STORE_HEADERS)
    return response


# --- /claim/<thing id>: where a partner's pendingclickcreate hook sends the owner ------------


def _claim(thing_id: str, state: SimState) -> Response:
    with state.lock:
        thing = (
            state.catalog.things.get(int(thing_id))
            if thing_id.isascii() and thing_id.isdigit()
            else None
        )
        if thing is None:
            return _page("Not found", "<p>No such thing.</p>", 404)
        owner, flattrs, url = thing.owner, thing.flattrs, thing.url
    body = (
        f"<p>{html.escape(url)} has {flattrs} flattr(s) waiting for {html.escape(owner)}.</p>"
        "<p>Sign in to Flattr and let the partner site verify that identity to claim them.</p>"
    )
    return _page("Claim your flattrs", body)


# --- /submit/auto ---------------------------------------------------------------------------


def _submit_auto(req: Request) -> Response:
    query = urllib.parse.urlencode([(k, v) for k, vs in req.query.items() for v in vs])
    submit = parse_auto_submit(f"{AUTO_SUBMIT_PREFIXES[0]}?{query}")
    if submit is None:
        return _page("Auto-submit", "<p>The url parameter is missing.</p>", 400)
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in (
            ("url", submit.url),
            ("owner", submit.owner or "(unclaimed)"),
            ("title", submit.title),
            ("description", submit.description),
            ("language", submit.language),
            ("category", submit.category),
            ("tags", ", ".join(submit.tags)),
        )
    )
    return _page("Flattr this", f"<table id='thing'>{rows}</table>")
