"""Every figure the local Flattr server uses, named in one place."""

from __future__ import annotations

# Where it listens. Port 0 lets the OS pick a free port; the ready line tells which one it got.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 0

# The pre-made demo user (its token is random unless --token is given).
DEFAULT_USERNAME = "demo"
DEMO_TOKEN_BYTES = 24

# Rate limiting (docs/flattr-api.md#rate-limits): per token, fixed hourly window, 1000 hits.
DEFAULT_RATE_LIMIT = 1000
RATE_LIMIT_WINDOW_SECONDS = 3600

# Means: how many POST /flattr a user can make before no_means (the bulk endpoint ignores means).
DEFAULT_MEANS = 10_000

# OAuth: the one registered test app, and how long an authorization code lives.
DEFAULT_CLIENT_ID = "flattr-sim-client"
DEFAULT_CLIENT_SECRET = "flattr-sim-secret"
DEFAULT_REDIRECT_URI = "http://localhost/callback"
AUTH_CODE_TTL_SECONDS = 600
AUTH_CODE_BYTES = 24
ISSUED_TOKEN_BYTES = 24
KNOWN_SCOPES = frozenset({"flattr", "thing", "email", "extendedread"})
# Tokens made by the control interface or --token can do everything.
FULL_SCOPES = KNOWN_SCOPES

# Things: ids start high enough to look like real ones.
FIRST_THING_ID = 100_001
DEFAULT_CATEGORY = "rest"
DEFAULT_LANGUAGE = "en_GB"
AUTO_SUBMIT_PREFIXES = (
    "https://flattr.com/submit/auto",
    "http://flattr.com/submit/auto",
)
# Hosts whose URLs POST /flattr accepts unregistered (docs/flattr-api.md#other-endpoints).
DISCOVERABLE_HOSTS = frozenset(
    {"github.com", "gist.github.com", "soundcloud.com", "twitter.com", "instagram.com"}
)

# Everything api.flattr.com answers lives under this path.
API_PREFIX = "/rest/v2"

# Paging (docs/flattr-api.md#paging): count defaults to 30, pages start at 1. The largest count
# is our choice.
DEFAULT_PAGE_COUNT = 30
MAX_PAGE_COUNT = 100
SEARCH_SORTS = ("relevance", "trend", "flattrs", "flattrs_month", "flattrs_week", "flattrs_day")
# GET /categories: the documented ids and texts.
CATEGORIES = (
    ("text", "Text"),
    ("images", "Images"),
    ("video", "Video"),
    ("audio", "Audio"),
    ("software", "Software"),
    ("people", "People"),
    ("rest", "Other"),
)
# GET /languages (the docs' own list was shortened; these are the usual locale ids).
LANGUAGES = (
    ("sq_AL", "Albanian"),
    ("ar_DZ", "Arabic"),
    ("zh_CN", "Chinese"),
    ("hr_HR", "Croatian"),
    ("cs_CZ", "Czech"),
    ("da_DK", "Danish"),
    ("nl_NL", "Dutch"),
    ("en_GB", "English"),
    ("et_EE", "Estonian"),
    ("fi_FI", "Finnish"),
    ("fr_FR", "French"),
    ("de_DE", "German"),
    ("el_GR", "Greek"),
    ("it_IT", "Italian"),
    ("ja_JP", "Japanese"),
    ("no_NO", "Norwegian"),
    ("pl_PL", "Polish"),
    ("pt_PT", "Portuguese"),
    ("ru_RU", "Russian"),
    ("es_ES", "Spanish"),
    ("sv_SE", "Swedish"),
    ("tr_TR", "Turkish"),
)
# JSONP callbacks must be plain (dotted) identifiers: anything else could inject script.
JSONP_CALLBACK_PATTERN = r"^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$"
JSONP_CONTENT_TYPE = "application/javascript;charset=utf-8"
ACTIVITY_CONTENT_TYPE = "application/stream+json;charset=utf-8"
# Partner web hooks: how long one POST may take.
WEBHOOK_TIMEOUT_SECONDS = 5.0

# Request handling.
MAX_BODY_BYTES = 8 * 1024 * 1024
TLS_HANDSHAKE_TIMEOUT_SECONDS = 10.0
# Idle keep-alive connections are closed after this, so threads do not pile up.
IDLE_CONNECTION_TIMEOUT_SECONDS = 60.0
SERVE_POLL_SECONDS = 0.2
# Longest delay a fault step may ask for; protects against typos like 3000 instead of 3.
MAX_FAULT_DELAY_SECONDS = 600.0

# TLS: the names the leaf certificate is valid for.
TLS_NAMES = ("flattr.com", "api.flattr.com", "localhost", "127.0.0.1")
CA_FILENAME = "ca.pem"
LEAF_FILENAME = "leaf.pem"

ERROR_URI = "https://developers.flattr.net/api"
JSON_CONTENT_TYPE = "application/json;charset=utf-8"
# The token endpoint's documented header has a space before charset.
OAUTH_JSON_CONTENT_TYPE = "application/json; charset=utf-8"
HTML_CONTENT_TYPE = "text/html; charset=utf-8"
