"""Every figure the host works with, as named settings.

Defaults follow docs/attention.md, docs/flattr-api.md and docs/native-messaging.md. Tests,
portable installs and power users override them in ``<home>/settings.json`` (same field names) and
through a few environment variables. Kept free of heavy imports: it is read before ``hello``.
"""

from __future__ import annotations

import json
import math
import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing before hello
if TYPE_CHECKING:
    from os import PathLike
    from pathlib import Path
    from typing import Any, NamedTuple

    # Strings or paths: pathlib is not imported before hello (it imports re, urllib and more).
    AnyPath = str | PathLike[str]
else:
    from ._namedtuple import NamedTuple

DEFAULT_API_BASE = "https://api.flattr.com"
DEFAULT_WEB_BASE = "https://flattr.com"
# The OAuth scopes Flattr documents.
FLATTR_SCOPES = ("flattr", "thing", "email", "extendedread")


class Settings(NamedTuple):
    # A NamedTuple, not a dataclass: ``dataclasses`` imports ``inspect``, and this module is read
    # before ``hello`` is answered (as is ``_namedtuple``, which spares importing ``typing``).

    # --- native messaging -------------------------------------------------------------------
    # Browser → host frames above this are refused before reading (Chrome allows up to 64 MiB;
    # nothing we accept is anywhere near that).
    max_incoming_frame: int = 1024 * 1024
    # Host → browser hard limit in Chrome and Firefox; replies are paged below it.
    max_outgoing_frame: int = 1024 * 1024
    # Extension ids allowed to talk to the host (Chromium ids and Firefox add-on ids); the browser's
    # manifest allow list gates first, this is defence in depth. Store ids join when published.
    allowed_extension_ids: tuple[str, ...] = (
        # Development build: id derived from the public key in extension/dev-key.pub.b64.
        "pceboilfpeijfppedbhfdflpddadaoml",
        # Firefox add-on id (browser_specific_settings.gecko.id).
        "flattr-companion@flattr-companion.org",
    )
    # Store ids of the published extension (Chrome Web Store, Edge Add-ons); none yet.
    store_extension_ids: tuple[str, ...] = ()
    # Group commit: at most this many frames already waiting on stdin share one transaction.
    max_group_commit: int = 256

    # --- attention (docs/attention.md) ------------------------------------------------------
    thresholds: tuple[int, ...] = (50, 96, 138, 176, 210)
    audio_thresholds: tuple[int, ...] = (140, 400, 880, 1480, 2460, 3660)
    # After the last threshold, one more flattr per this many seconds.
    repeat_after: int = 86_400
    # The attention day starts at this local hour.
    day_start_hour: int = 4
    # Continuous audio needed before a page counts as an audio page.
    audio_page_after: int = 20
    # How long the ids of recorded attention batches are remembered (resends are answered once).
    attention_batch_memory: float = 86_400.0
    # Mode: "all" public sites, only sites the user "enabled", or only pages with Flattr "metadata".
    mode: str = "all"

    # --- daily visit flattrs (docs/attention.md#daily-visit-flattrs) -------------------------
    # On unless the user turned it off (then stored in the database): the original's default.
    visit_flattrs: bool = True
    # Rule 1, a regular reader: this many visits, each this long after the preceding visit (to
    # any site), within the window.
    visit_daily_count: int = 3
    visit_daily_gap: float = 6 * 3600.0
    visit_daily_window: float = 30 * 86_400.0
    # Rule 2, a burst of returns: this many visits within the window, each this long after the
    # preceding visit and not followed by another visit within ``visit_quiet_after``.
    visit_burst_count: int = 4
    visit_burst_gap: float = 15.0
    visit_burst_window: float = 30 * 60.0
    visit_quiet_after: float = 5.0

    # --- submission (docs/flattr-api.md#bulk-flattr) ----------------------------------------
    api_base: str = DEFAULT_API_BASE
    web_base: str = DEFAULT_WEB_BASE
    # PEM bundle to trust for the API (the local Flattr server's CA in tests and the demo).
    ca_bundle: str | None = None
    batch_size: int = 50
    # Wait this long after a new flattr before sending, so bursts share a batch.
    submit_delay: float = 1.0
    request_timeout: float = 20.0
    retry_statuses: tuple[int, ...] = (408, 409, 500, 502, 503, 504, 525, 599)
    # Exponential back-off: base * factor**(attempt-1), capped, with ±jitter.
    backoff_base: float = 60.0
    backoff_factor: float = 4.0
    backoff_max: float = 3840.0
    backoff_jitter: float = 0.2
    # After this many attempts a batch's items become "failed" and move to the slow schedule.
    max_attempts: int = 5
    failed_retry_interval: float = 6 * 3600.0
    # Keep this many requests of the rate-limit window in reserve.
    rate_limit_reserve: int = 5
    # The API's rate-limit window (an hour): an X-RateLimit-Reset further away is clamped to it.
    rate_limit_window: float = 3600.0
    # Submission lease shared by all host processes on one database.
    lease_seconds: float = 60.0

    # --- `flattr-host login` (OAuth code flow with a loopback redirect) ----------------------
    # The Flattr app registered for Flattr Companion (its callback: http://127.0.0.1, any port).
    oauth_client_id: str | None = None
    oauth_client_secret: str | None = None
    # Scopes asked for when --scope is not given: submitting flattrs needs "flattr".
    login_scopes: tuple[str, ...] = ("flattr",)
    # How long `login` waits for the browser to come back.
    login_timeout: float = 300.0

    # --- store ------------------------------------------------------------------------------
    busy_timeout_ms: int = 10_000
    # "NORMAL" in WAL mode survives a killed process (the acknowledgement contract); "FULL" also
    # survives power loss at the cost of an fsync per commit.
    synchronous: str = "NORMAL"
    # SQLite's page cache per connection, at most (KiB; used only as the database grows): 2 MiB,
    # SQLite's default, makes batching a long queue spill pages to disk (docs/benchmarks.md).
    cache_kib: int = 8192
    # No commit checkpoints the WAL (SQLite's default does so inside every 1000th page's COMMIT,
    # an fsync the browser would wait for): the native host checkpoints once no request has come
    # for this many seconds, a commit only past this many pages (store.connect).
    idle_checkpoint_after: float = 1.0
    wal_checkpoint_pages: int = 20_000

    # --- logs -------------------------------------------------------------------------------
    log_max_bytes: int = 1024 * 1024
    log_backups: int = 3

    @property
    def extension_ids(self) -> tuple[str, ...]:
        """Every extension id that may call the host (development, Firefox and store ids)."""
        return (*self.allowed_extension_ids, *self.store_extension_ids)

    def is_retryable(self, status: int) -> bool:
        return status in self.retry_statuses


_ENV = {
    "FLATTR_API_BASE": "api_base",
    "FLATTR_WEB_BASE": "web_base",
    "FLATTR_CA_BUNDLE": "ca_bundle",
    "FLATTR_CLIENT_ID": "oauth_client_id",
    "FLATTR_CLIENT_SECRET": "oauth_client_secret",
}
SETTINGS_FILE = "settings.json"
# What settings.json may hold beyond each field's type (checked case-insensitively for synchronous).
CHOICES = {
    "mode": ("all", "enabled", "metadata"),
    "synchronous": ("NORMAL", "FULL", "EXTRA"),
}
HOURS = range(24)
# How each field's annotation is checked: (what to call it in an error, check, conversion).
_KINDS: dict[str, tuple[str, Any, Any]] = {
    "int": ("a whole number", lambda v: _is_number(v, int), lambda v: v),
    "float": ("a number", lambda v: _is_number(v, int | float), float),
    "str": ("a string", lambda v: isinstance(v, str), lambda v: v),
    "bool": ("true or false", lambda v: isinstance(v, bool), lambda v: v),
    "str | None": ("a string or null", lambda v: v is None or isinstance(v, str), lambda v: v),
    "tuple[int, ...]": (
        "a list of whole numbers",
        lambda v: isinstance(v, list) and all(_is_number(x, int) for x in v),
        tuple,
    ),
    "tuple[str, ...]": (
        "a list of strings",
        lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        tuple,
    ),
}


class SettingsError(Exception):
    """settings.json cannot be used: ``message`` says where and why, ``command`` sets it aside."""

    def __init__(self, path: AnyPath, problems: list[str]) -> None:
        self.path = path
        self.message = f"{path} is not usable: {'; '.join(problems)}"
        self.command = _move_aside_command(path)
        super().__init__(
            f"{self.message}. Fix it, or move it aside to use the defaults: {self.command}"
        )


# Settings earlier versions read and this one no longer has: skipped, so an upgrade never turns a
# working settings.json into a refused one.
RETIRED = frozenset({"max_segment_seconds"})


def load_settings(home: AnyPath | None, environ: dict[str, str] | None = None) -> Settings:
    """Defaults, then ``<home>/settings.json``, then environment variables.

    The whole file is refused (``SettingsError``) at the first sign of a mistake: a typo'd name,
    a value of the wrong type or out of range would otherwise quietly run on the default.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    if home is not None:
        values.update(_read_file(os.path.join(home, SETTINGS_FILE)))
    for var, name in _ENV.items():
        if env.get(var):
            values[name] = env[var]
    return Settings(**values)


def _read_file(path: AnyPath) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8-sig") as file:  # Notepad starts UTF-8 files with a BOM
            text = file.read()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise SettingsError(path, [f"cannot be read ({exc.strerror})"]) from exc
    except ValueError as exc:
        raise SettingsError(path, ["is not UTF-8 text"]) from exc
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError(
            path, [f"line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})"]
        ) from exc
    if not isinstance(raw, dict):
        raise SettingsError(path, ['must be a JSON object, such as {"batch_size": 20}'])
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, value in raw.items():
        if name in RETIRED:
            continue
        problem = _problem(name, value)
        if problem is None:
            values[name] = kind_of(name)[2](value)
        else:
            problems.append(f"{_where(text, name)}{problem}")
    if problems:
        raise SettingsError(path, problems)
    return values


def _problem(name: str, value: Any) -> str | None:
    """What is wrong with ``"name": value``, or None."""
    if name not in Settings._fields:
        import difflib  # only for the error

        close = difflib.get_close_matches(name, Settings._fields, n=1)
        hint = f" (did you mean {json.dumps(close[0])}?)" if close else ""
        return f"unknown setting {json.dumps(name)}{hint}"
    label, check, _ = kind_of(name)
    if not check(value):
        return f"{json.dumps(name)} must be {label}, not {_show(value)}"
    items = value if isinstance(value, list) else [value]
    numbers = [x for x in items if _is_number(x, int | float)]
    if not all(math.isfinite(x) for x in numbers):  # json reads NaN and Infinity
        return f"{json.dumps(name)} must be a finite number, not {_show(value)}"
    if any(x < 0 for x in numbers):
        return f"{json.dumps(name)} must not be negative, not {_show(value)}"
    choices = CHOICES.get(name)
    if choices and str(value).lower() not in {c.lower() for c in choices}:
        allowed = ", ".join(json.dumps(c) for c in choices)
        return f"{json.dumps(name)} must be one of {allowed}, not {_show(value)}"
    if name == "day_start_hour" and value not in HOURS:
        return f'"day_start_hour" must be an hour from 0 to 23, not {_show(value)}'
    return None


def kind_of(name: str) -> tuple[str, Any, Any]:
    """The ``_KINDS`` entry of a field, from its annotation (a ForwardRef: annotations are lazy)."""
    annotation = Settings.__annotations__[name]
    return _KINDS[str(getattr(annotation, "__forward_arg__", annotation))]


def _is_number(value: Any, kind: Any) -> bool:
    return isinstance(value, kind) and not isinstance(value, bool)


def _show(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _where(text: str, name: str) -> str:
    """``line L, column C: `` of the key ``name`` in the file's text (its first occurrence)."""
    position = text.find(json.dumps(name))
    if position < 0:  # written with escapes: no position, the name says enough
        return ""
    line = text.count("\n", 0, position) + 1
    column = position - text.rfind("\n", 0, position)
    return f"line {line}, column {column}: "


def _move_aside_command(path: AnyPath) -> str:
    if os.name == "nt":
        return f'move "{path}" "{path}.broken"'
    import shlex

    return f"mv {shlex.quote(str(path))} {shlex.quote(f'{path}.broken')}"


def save_settings(home: Path, changes: dict[str, Any]) -> Settings:
    """Change some settings in ``<home>/settings.json`` (the dashboard's Settings page): each value
    is checked as the file's are, every other line of the file is kept, and the file is replaced
    in one step (0600). A file that is unusable now is never overwritten: fix it first."""
    path = home / SETTINGS_FILE
    raw: dict[str, Any] = {}
    if path.exists():
        _read_file(path)  # raises SettingsError when it is broken
        raw = json.loads(path.read_text(encoding="utf-8-sig"))
    problems = [p for name, value in changes.items() if (p := _problem(name, value))]
    if problems:
        raise SettingsError(path, problems)
    text = json.dumps({**raw, **changes}, indent=2, ensure_ascii=False) + "\n"
    tmp = path.with_name(SETTINGS_FILE + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
    return load_settings(home)
