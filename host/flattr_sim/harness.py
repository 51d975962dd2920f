"""Drive the local Flattr server from Python: spawn it (SimProcess) and control it (SimControl).

with SimProcess(tls=True) as sim:
    sim.control.set_faults(script=[{"status": 503, "retry_after": 2}])
    httpx.post(f"{sim.base}/rest/v2/flattr/bulk", json=[{"url": "https://a.example/"}],
               headers={"Authorization": f"Bearer {sim.token}"}, verify=sim.ssl_context())
    assert sim.control.received()[0]["status"] == 503
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx

from .constants import DEFAULT_USERNAME, DEMO_TOKEN_BYTES

STARTUP_TIMEOUT_SECONDS = 15.0
STOP_TIMEOUT_SECONDS = 5.0
CONTROL_TIMEOUT_SECONDS = 10.0
# The directory holding the flattr_sim package.
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]


class SimStartupError(RuntimeError):
    """The server did not print its ready line in time (the message includes its stderr)."""


def ssl_context_for(ca: str | os.PathLike[str] | None) -> ssl.SSLContext | bool:
    """What httpx's verify= needs for this server: the CA's context, or True for plain http."""
    if ca is None:
        return True
    return ssl.create_default_context(cafile=os.fspath(ca))


class SimControl:
    """The control interface (/_sim/...) as methods. Thread-safe; close() when done."""

    def __init__(
        self, base: str, ca: str | None = None, timeout: float = CONTROL_TIMEOUT_SECONDS
    ) -> None:
        self.base = base.rstrip("/")
        # trust_env=False: a proxy from the environment must never see loopback traffic.
        self._http = httpx.Client(
            base_url=self.base, verify=ssl_context_for(ca), timeout=timeout, trust_env=False
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SimControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, name: str, body: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, f"/_sim/{name}", json=body)
        if response.status_code != 200:
            raise RuntimeError(f"/_sim/{name}: {response.status_code} {response.text}")
        return response.json()

    def health(self) -> bool:
        return bool(self._call("GET", "health").get("ok"))

    def reset(self, users: bool = False) -> None:
        """Forget received requests, flattrs, things, faults, rate limits and OAuth codes.
        Users and their tokens stay unless users=True (then only the demo user remains)."""
        self._call("POST", "reset", {"users": users})

    def add_user(
        self,
        username: str,
        token: str | None = None,
        subscription_active: bool | None = True,
        *,
        means: int | None = None,
        hide_flattrs: bool | None = None,
    ) -> dict[str, Any]:
        """Create or update a user; a token given is added to its tokens (several allowed)."""
        body = {
            "username": username,
            "token": token,
            "subscription_active": subscription_active,
            "means": means,
            "hide_flattrs": hide_flattrs,
        }
        result: dict[str, Any] = self._call("POST", "users", body)
        return result

    def revoke(self, token: str | None = None, *, username: str | None = None) -> int:
        """Revoke one token (or all tokens of username); they get 401 from then on."""
        result = self._call("POST", "revoke", {"token": token, "username": username})
        return int(result["revoked"])

    def set_subscription(
        self,
        username: str | None = None,
        active: bool | None = None,
        legacy_402: bool | None = None,
    ) -> None:
        """A user's subscription (default: the demo user); legacy_402 is server-wide."""
        body = {"username": username, "active": active, "legacy_402": legacy_402}
        self._call("POST", "subscription", body)

    def set_faults(
        self,
        script: list[dict[str, Any]] | None = None,
        reject_urls: list[str] | None = None,
        dedupe: bool | None = None,
    ) -> None:
        """Replace the fault plan. Steps are used one per request of their endpoint:
        {"status": 503, "retry_after": 2, "body": {...}}, {"drop": true}, {"delay": 1.5},
        {} (pass), and "accept": true with status/drop to record the request before failing.
        A step is for the bulk endpoint unless it names another ("endpoint": "/things/search",
        the path under /rest/v2 without ".json") or any ("endpoint": "*")."""
        body = {"script": script or [], "reject_urls": reject_urls or [], "dedupe": dedupe}
        self._call("POST", "faults", body)

    def faults(self) -> dict[str, Any]:
        """The remaining fault plan and the effective dedupe setting."""
        result: dict[str, Any] = self._call("GET", "faults")
        return result

    def set_rate_limit(
        self, limit: int | None = None, remaining: int | None = None, reset_in: float | None = None
    ) -> None:
        """Put every token in one window: `remaining` hits left, resetting in `reset_in` s."""
        self._call(
            "POST", "rate_limit", {"limit": limit, "remaining": remaining, "reset_in": reset_in}
        )

    def set_app(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        redirect_uri: str | None = None,
        echo_state: bool | None = None,
        code_ttl: float | None = None,
    ) -> dict[str, Any]:
        """The registered OAuth app; returns its full settings."""
        body = {
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uri": redirect_uri,
            "echo_state": echo_state,
            "code_ttl": code_ttl,
        }
        result: dict[str, Any] = self._call("POST", "app", body)
        return result

    def received(self) -> list[dict[str, Any]]:
        """Every bulk request in arrival order (dropped ones with status 0)."""
        requests: list[dict[str, Any]] = self._call("GET", "received")["requests"]
        return requests

    def flattrs(self) -> list[dict[str, Any]]:
        """Every accepted flattr in order (source "bulk" or "api")."""
        flattrs: list[dict[str, Any]] = self._call("GET", "flattrs")["flattrs"]
        return flattrs

    def things(self) -> list[dict[str, Any]]:
        things: list[dict[str, Any]] = self._call("GET", "things")["things"]
        return things

    def add_thing(self, url: str, owner: str, **fields: Any) -> int:
        """A thing registered on flattr.com (title, description, tags, language, category,
        hidden); returns its id."""
        return int(self._call("POST", "things", {"url": url, "owner": owner, **fields})["id"])

    def add_partner(
        self,
        name: str,
        namespaces: list[str],
        webhook_url: str | None = None,
        token: str | None = None,
    ) -> None:
        """A community partner owning identifier namespaces ("email", "twitter",
        "partner:<name>"), with its web hook and its credential for POST /users/:u/verify."""
        body = {"name": name, "namespaces": namespaces, "webhook_url": webhook_url, "token": token}
        self._call("POST", "partners", body)

    def webhooks(self) -> list[dict[str, Any]]:
        """Every web hook POST made (status 0 while in flight or when it failed)."""
        deliveries: list[dict[str, Any]] = self._call("GET", "webhooks")["deliveries"]
        return deliveries


class SimProcess:
    """The server as a real subprocess (`python -m flattr_sim`), stopped on exit.

    The demo user's token is generated here unless given, so tests know it (`.token`).
    The server's stderr (request log) goes to `.log_path`.
    """

    def __init__(
        self,
        args: Sequence[str] | None = None,
        *,
        tls: bool = False,
        token: str | None = None,
        username: str = DEFAULT_USERNAME,
        subscription_active: bool = True,
        dedupe: bool = False,
        host: str | None = None,
        port: int | None = None,
        state_dir: str | os.PathLike[str] | None = None,
        ready_file: str | os.PathLike[str] | None = None,
        log_path: str | os.PathLike[str] | None = None,
        extra_args: list[str] | None = None,
        startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
    ) -> None:
        # Raw command-line options (e.g. ["--dedupe"]) come last, so they win over keywords.
        raw = [*(args or []), *(extra_args or [])]
        self.token = _option_value(raw, "--token") or token or secrets.token_hex(DEMO_TOKEN_BYTES)
        self.username = _option_value(raw, "--username") or username
        self._tmp = tempfile.TemporaryDirectory(prefix="flattr-simproc-")
        self.log_path = Path(log_path) if log_path else Path(self._tmp.name) / "sim.log"
        options = ["--token", self.token, "--username", self.username]
        options.append(
            "--subscription-active" if subscription_active else "--no-subscription-active"
        )
        if tls:
            options.append("--tls")
        if dedupe:
            options.append("--dedupe")
        if host is not None:
            options += ["--host", host]
        if port is not None:
            options += ["--port", str(port)]
        if state_dir is not None:
            options += ["--state-dir", os.fspath(state_dir)]
        if ready_file is not None:
            options += ["--ready-file", os.fspath(ready_file)]
        self.argv = [sys.executable, "-m", "flattr_sim", *options, *raw]
        self.startup_timeout = startup_timeout
        # Importable even when the package is not installed (run from a source checkout).
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_PACKAGE_ROOT), self.env.get("PYTHONPATH", "")) if p
        )
        self.base = ""
        self.ca: str | None = None
        self.spki: str | None = None
        self.pid = 0
        self.returncode: int | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._control: SimControl | None = None

    @property
    def control(self) -> SimControl:
        if self._control is None:
            raise RuntimeError("SimProcess is not started")
        return self._control

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def ssl_context(self) -> ssl.SSLContext | bool:
        """verify= for httpx clients talking to this server."""
        return ssl_context_for(self.ca)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text("utf-8", "replace")
        except OSError:
            return ""

    def start(self) -> SimProcess:
        log = self.log_path.open("w", encoding="utf-8")
        try:
            self._proc = subprocess.Popen(
                self.argv,
                stdout=subprocess.PIPE,
                stderr=log,
                stdin=subprocess.DEVNULL,
                env=self.env,
                text=True,
            )
        finally:
            log.close()  # the child holds its own copy
        assert self._proc.stdout is not None
        line = _read_line(self._proc.stdout, self.startup_timeout)
        if not line:
            self.stop()
            raise SimStartupError(
                f"the Flattr simulator did not become ready within {self.startup_timeout}s "
                f"(exit code {self.returncode}); its stderr:\n{self.log_text()}"
            )
        ready = json.loads(line)
        self.base, self.ca, self.pid = ready["base"], ready["ca"], ready["pid"]
        self.spki = ready.get("spki")
        self._control = SimControl(self.base, self.ca)
        return self

    def stop(self) -> int | None:
        """SIGTERM, then kill after STOP_TIMEOUT_SECONDS; returns the exit code."""
        if self._control is not None:
            self._control.close()
            self._control = None
        proc = self._proc
        if proc is not None and self.returncode is None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(STOP_TIMEOUT_SECONDS)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            self.returncode = proc.returncode
            if proc.stdout is not None:
                proc.stdout.close()
        return self.returncode

    def close(self) -> None:
        self.stop()
        self._tmp.cleanup()

    def __enter__(self) -> SimProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _option_value(args: Sequence[str], name: str) -> str | None:
    """The last value given for --name in args ("--name V" or "--name=V")."""
    value = None
    for index, arg in enumerate(args):
        if arg == name and index + 1 < len(args):
            value = args[index + 1]
        elif arg.startswith(name + "="):
            value = arg[len(name) + 1 :]
    return value


def _read_line(stream: IO[str], timeout: float) -> str:
    """The first line of stream, or "" on EOF or timeout (readline itself cannot time out)."""
    box: queue.Queue[str] = queue.Queue(maxsize=1)
    reader = threading.Thread(target=lambda: box.put(stream.readline()), daemon=True)
    reader.start()
    try:
        return box.get(timeout=timeout).strip()
    except queue.Empty:
        return ""
