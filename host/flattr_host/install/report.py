"""What install and doctor say: findings with their fix, and the exact command that fixes them."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from .platform import SYSTEM, USER, WINDOWS, Platform

OK, INFO, WARN, FAIL = "ok", "info", "warn", "FAIL"
PROG = "flattr-host"


@dataclass(frozen=True)
class Finding:
    status: str  # ok | info | warn | FAIL
    message: str
    fix: str | None = None  # the exact command to run (or, rarely, the one thing to do)

    def line(self) -> str:
        text = f"{self.status:<5} {self.message}"
        return f"{text}. Run: {self.fix}" if self.fix else text


def command(platform: Platform, *args: str, scope: str = USER) -> str:
    """The command line that runs ``flattr-host <args>`` from this very environment: the short
    name when PATH finds our console script, else this interpreter with ``-m flattr_host``."""
    script = platform.which(PROG)
    if script is not None and script.resolve().parent == platform.executable.parent.resolve():
        base = PROG
    else:
        base = f"{_quote(platform, str(platform.executable))} -m flattr_host"
    text = " ".join([base, *args])
    if scope == SYSTEM:
        return f"{text} (in an administrator prompt)" if platform.os == WINDOWS else f"sudo {text}"
    return text


def install_command(platform: Platform, browser: str, scope: str) -> str:
    args = ["install", "--browser", browser, *(["--system"] if scope == SYSTEM else [])]
    return command(platform, *args, scope=scope)


def _quote(platform: Platform, text: str) -> str:
    if platform.os == WINDOWS:
        return f'"{text}"' if " " in text else text
    return shlex.quote(text)
