"""Spawn ``flattr-host`` as a browser does and speak to it in real frames over real pipes."""

from __future__ import annotations

import json
import os
import select
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CHROME_ID = "pceboilfpeijfppedbhfdflpddadaoml"
FIREFOX_ID = "flattr-companion@flattr-companion.org"
HEADER = struct.Struct("=I")


def chrome_argv() -> list[str]:
    return [f"chrome-extension://{CHROME_ID}/"]


def firefox_argv(home: Path) -> list[str]:
    return [str(home / "flattr_companion.json"), FIREFOX_ID]


def host_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLATTR_")}
    env["FLATTR_HOST_HOME"] = str(home)
    env.update(extra)
    return env


class HostProcess:
    """One ``python -m flattr_host`` process; every byte it writes to stdout must be a frame."""

    def __init__(
        self,
        home: Path,
        argv: list[str] | None = None,
        env: dict[str, str] | None = None,
        umask: int = -1,  # -1: the test runner's
        launcher: list[str] | None = None,
    ) -> None:
        self.home = home
        launcher = launcher or [sys.executable, "-m", "flattr_host"]
        self.proc = subprocess.Popen(
            [*launcher, *(chrome_argv() if argv is None else argv)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env or host_env(home),
            cwd=str(Path(sys.executable).parent),  # browsers start hosts in their own folder
            umask=umask,
        )
        self.events: list[dict[str, Any]] = []
        self.transcript = bytearray()  # every byte the host wrote to stdout
        self._buffer = b""
        self._next_id = 0

    # --- raw frames ---------------------------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message: Any) -> None:
        payload = json.dumps(message).encode()
        self.send_raw(HEADER.pack(len(payload)) + payload)

    def _read(self, size: int, timeout: float) -> bytes:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while len(self._buffer) < size:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no frame from the host within {timeout} s")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise EOFError("host closed stdout")
                self.transcript += chunk
                self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def read_frame(self, timeout: float = 10.0) -> dict[str, Any]:
        (length,) = HEADER.unpack(self._read(HEADER.size, timeout))
        assert length <= 1024 * 1024, f"host sent a {length}-byte frame (over 1 MiB)"
        message = json.loads(self._read(length, timeout).decode("utf-8"))
        assert isinstance(message, dict)
        return message

    # --- requests -----------------------------------------------------------------------------
    def request(self, type_: str, timeout: float = 10.0, **fields: Any) -> dict[str, Any]:
        self._next_id += 1
        rid = self._next_id
        self.send({"id": rid, "type": type_, **fields})
        return self.reply_to(rid, timeout)

    def reply_to(self, rid: Any, timeout: float = 10.0) -> dict[str, Any]:
        while True:
            message = self.read_frame(timeout)
            if message.get("type") == "event":
                self.events.append(message)
                continue
            assert message.get("id") == rid, f"expected reply to {rid}, got {message}"
            return message

    def wait_event(self, name: str, timeout: float = 10.0) -> dict[str, Any]:
        for e in self.events:
            if e["event"] == name:
                self.events.remove(e)
                return e
        deadline = time.monotonic() + timeout
        while True:
            message = self.read_frame(max(0.01, deadline - time.monotonic()))
            assert message.get("type") == "event", f"unexpected reply {message}"
            if message["event"] == name:
                return message
            self.events.append(message)

    def close(self, timeout: float = 5.0) -> int:
        """End of input, as a browser does; returns the exit status. Asserts no stray stdout."""
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        code = self.proc.wait(timeout)
        rest = self.proc.stdout.read() if self.proc.stdout else b""
        self.transcript += rest
        self._buffer += rest
        while self._buffer:  # whatever is left must still be whole frames
            (length,) = HEADER.unpack(self._buffer[: HEADER.size])
            json.loads(self._buffer[HEADER.size : HEADER.size + length])
            assert len(self._buffer) >= HEADER.size + length, "truncated frame on stdout"
            self._buffer = self._buffer[HEADER.size + length :]
        return code

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(5)

    def stderr(self) -> str:
        return self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""

    def __enter__(self) -> HostProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream and not stream.closed:
                stream.close()
