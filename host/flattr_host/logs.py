"""Logging: a rotating file under the user log dir, warnings also to stderr, never the token.

Every handler carries ``Redactor``, which replaces each secret registered with ``redact_secret``
(and anything that looks like a Bearer credential) before a record is written anywhere.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import threading
from pathlib import Path
from typing import Any

from . import paths
from .settings import Settings

LOGGER_NAME = "flattr_host"
LOG_FILE = "flattr-host.log"
REDACTED = "[redacted]"
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',;]+")
_secrets: set[str] = set()
_lock = threading.Lock()

log = logging.getLogger(LOGGER_NAME)


def redact_secret(secret: str | None) -> None:
    """From now on ``secret`` never appears in a log line."""
    if secret:
        with _lock:
            _secrets.add(secret)


def redact(text: str) -> str:
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return _BEARER.sub(rf"\g<1>{REDACTED}", text)


class Redactor(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = redact(record.getMessage())
        record.msg, record.args = message, None
        if record.exc_info:
            # Format the traceback now, redacted, so that no handler formats the raw one.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Opens every log file it starts (the first and each one after a rollover) 0600, whatever
    the umask; rotated files keep that mode, as rotation only renames them."""

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, paths.PRIVATE_FILE)
        if hasattr(os, "fchmod"):  # a file an older host left looser
            os.fchmod(fd, paths.PRIVATE_FILE)
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)


def setup(directory: Path, settings: Settings, *, stderr_level: int = logging.WARNING) -> Path:
    """Log to ``directory/flattr-host.log`` (rotating) and warnings to stderr. Returns the file."""
    paths.private_dir(directory)
    path = directory / LOG_FILE
    for backup in range(1, settings.log_backups + 1):  # rotated by an older, looser host
        if Path(f"{path}.{backup}").exists():
            paths.restrict(Path(f"{path}.{backup}"))
    log.setLevel(logging.INFO)
    log.propagate = False
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()
    file_handler = PrivateRotatingFileHandler(
        path, maxBytes=settings.log_max_bytes, backupCount=settings.log_backups, encoding="utf-8"
    )
    file_handler.setFormatter(
        logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    )
    stderr_handler = logging.StreamHandler()  # sys.stderr; stdout belongs to native messaging
    stderr_handler.setLevel(stderr_level)
    stderr_handler.setFormatter(logging.Formatter("flattr-host: %(levelname)s: %(message)s"))
    for handler in (file_handler, stderr_handler):
        handler.addFilter(Redactor())
        log.addHandler(handler)
    return path
