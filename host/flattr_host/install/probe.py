"""Start the host exactly as a browser does and round-trip ``hello`` in real frames.

Working directory: the program's folder. Arguments: ``chrome-extension://<id>/`` (plus
``--parent-window=0`` on Windows) for the Chromium family, ``<manifest path> <add-on id>`` for
Firefox. Environment: what a desktop session gives a browser (a minimal PATH), not this shell's.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import PROTOCOL_VERSION
from ..framing import HEADER
from .manifest import CHROMIUM, origin
from .platform import WINDOWS, Platform

TIMEOUT = 10.0  # seconds for the whole exchange; a browser waits about as long
DESKTOP_PATH = "/usr/bin:/bin"  # what a browser started from a menu may have
# Variables a desktop session hands to the browser, and so to the host.
SESSION_VARS = (
    "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "DISPLAY",
    "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME",
    "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME",
)  # fmt: skip
STDERR_TAIL = 5  # lines of the host's stderr shown when it fails


@dataclass
class Outcome:
    ok: bool
    message: str
    stderr: str = ""
    repairs: list[str] = field(default_factory=list)
    seconds: float = 0.0
    command: str | None = None  # the fix the host's error named (e.g. for settings_invalid)


def argv(family: str, os_name: str, manifest_path: Path, caller: str) -> list[str]:
    if family == CHROMIUM:
        return [origin(caller), *(["--parent-window=0"] if os_name == WINDOWS else [])]
    return [str(manifest_path), caller]


def browser_env(platform: Platform) -> dict[str, str]:
    if platform.os == WINDOWS:
        return dict(platform.env)  # Windows programs need most of it (SYSTEMROOT, …)
    env = {k: platform.env[k] for k in SESSION_VARS if k in platform.env}
    env["PATH"] = DESKTOP_PATH
    return env


def hello(program: Path, args: list[str], platform: Platform, timeout: float = TIMEOUT) -> Outcome:
    payload = json.dumps({"id": "doctor", "type": "hello", "protocol": PROTOCOL_VERSION}).encode()
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            [str(program), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=str(program.parent),
            env=browser_env(platform),
        )
    except OSError as exc:
        return Outcome(False, f"cannot start {program}: {exc.strerror or exc}")
    try:
        # One message then end of input: what sendNativeMessage does.
        out, err = proc.communicate(HEADER.pack(len(payload)) + payload, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return Outcome(False, f"no answer to hello within {timeout:g} s", _tail(err))
    seconds = time.monotonic() - started
    stderr = _tail(err)
    try:
        frames = _frames(out)
    except ValueError as exc:
        return Outcome(False, f"{exc} (exit status {proc.returncode})", stderr, seconds=seconds)
    if not frames:
        return Outcome(
            False, f"the host exited (status {proc.returncode}) without answering", stderr
        )
    reply = frames[0]
    if reply.get("ok") is not True:
        problem = reply.get("error") or {}
        return Outcome(
            False,
            f"the host answered {problem.get('code')}: {problem.get('message')}",
            stderr,
            seconds=seconds,
            command=problem.get("command") or None,
        )
    result = reply.get("result") or {}
    if result.get("protocol") != PROTOCOL_VERSION:
        return Outcome(False, f"the host speaks protocol {result.get('protocol')}", stderr)
    return Outcome(
        True,
        f"answered hello in {seconds:.2f} s (host {result.get('host_version')}, "
        f"protocol {result.get('protocol')})",
        stderr,
        [str(r) for r in result.get("repairs") or []],
        seconds,
    )


def _frames(data: bytes) -> list[dict[str, Any]]:
    """Every frame on stdout; a stray byte (a print) is what browsers choke on, so say so."""
    frames: list[dict[str, Any]] = []
    while data:
        if len(data) < HEADER.size:
            raise ValueError(f"stray bytes on stdout: {data[:40]!r}")
        (length,) = HEADER.unpack_from(data)
        body = data[HEADER.size : HEADER.size + length]
        if len(body) < length:
            raise ValueError(f"stdout is not native-messaging frames (starts {data[:40]!r})")
        try:
            message = json.loads(body.decode("utf-8"))
        except ValueError:
            raise ValueError(
                f"stdout is not native-messaging frames (starts {data[:40]!r})"
            ) from None
        if not isinstance(message, dict):
            raise ValueError(f"the host sent {message!r}, not a message")
        frames.append(message)
        data = data[HEADER.size + length :]
    return frames


def _tail(err: bytes) -> str:
    lines = err.decode("utf-8", errors="replace").strip().splitlines()
    return "\n".join(lines[-STDERR_TAIL:])
