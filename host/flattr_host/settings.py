"""Every figure the host works with, as named settings.

Defaults follow docs/attention.md, docs/flattr-api.md and docs/native-messaging.md. Tests,
portable installs and power users override them in ``<home>/settings.json`` (same field names) and
through a few environment variables. Kept free of heavy imports: it is read before ``hello``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NamedTuple

DEFAULT_API_BASE = "https://api.flattr.com"
DEFAULT_WEB_BASE = "https://flattr.com"


class Settings(NamedTuple):
    # A NamedTuple, not a dataclass: ``dataclasses`` imports ``inspect``, and this module is read
    # before ``hello`` is answered.

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
    # A single segment longer than this is clipped: the extension reports at most a few minutes.
    max_segment_seconds: float = 600.0
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
    # Submission lease shared by all host processes on one database.
    lease_seconds: float = 60.0

    # --- store ------------------------------------------------------------------------------
    busy_timeout_ms: int = 10_000
    # "NORMAL" in WAL mode survives a killed process (the acknowledgement contract); "FULL" also
    # survives power loss at the cost of an fsync per commit.
    synchronous: str = "NORMAL"

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
}


def _coerce(name: str, value: Any) -> Any:
    default = Settings._field_defaults.get(name)
    if isinstance(default, tuple) and isinstance(value, list):
        return tuple(value)
    if isinstance(default, float) and isinstance(value, int):
        return float(value)
    return value


def load_settings(home: Path | None, environ: dict[str, str] | None = None) -> Settings:
    """Defaults, then ``<home>/settings.json``, then environment variables."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    names = set(Settings._fields)
    if home is not None:
        path = home / "settings.json"
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raw = {}
        except (OSError, ValueError) as exc:
            raise SettingsError(f"{path} is not valid JSON ({exc}); fix or delete it") from exc
        if not isinstance(raw, dict):
            raise SettingsError(f"{path} must hold a JSON object")
        # Unknown keys are ignored, so that a newer settings.json does not break an older host.
        values.update({k: _coerce(k, v) for k, v in raw.items() if k in names})
    for var, name in _ENV.items():
        if env.get(var):
            values[name] = env[var]
    return Settings(**values)


class SettingsError(Exception):
    pass
