"""The host-only demo (`./scripts/demo --frames`): the local Flattr server and flattr-host, driven
through native-messaging frames exactly as a browser drives it.

Starts ``flattr-host sim`` (HTTPS, its own CA) and ``flattr-host`` with a Chromium argv, then speaks
native-messaging frames: hello, the token from the flattr.com handshake, attention that crosses
thresholds, a retry after injected 503s, and delivery. Then the terminal side: `flattr-host login`
(OAuth's code flow, with an HTTP client playing the browser) and `flattr-host api flattr` /
`api flattrs`. Prints each step and its result; exits 0 only when the server received every
flattr and the terminal steps worked.
"""

from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from flattr_sim import SimProcess  # noqa: E402
from hostproc import HostProcess, chrome_argv, host_env  # noqa: E402

# The demo shortens the retry back-off (a named setting) so that it finishes in seconds.
DEMO_SETTINGS = {"backoff_base": 1.0, "backoff_factor": 2.0, "submit_delay": 0.2}
DELIVERY_TIMEOUT = 60.0
CLI_TIMEOUT = 60.0
# A creator's auto-submit URL: flattring it creates the thing on the local server.
AUTO_SUBMIT_URL = (
    "https://flattr.com/submit/auto?user_id=creator&title=A%20creator%27s%20page"
    "&url=https%3A%2F%2Fblog.example.org%2Fabout"
)
POLL_SECONDS = 0.3
PAGES = [
    ("https://blog.example.org/posts/attention-is-all", "A post worth reading", 30),
    ("https://blog.example.org/posts/attention-is-all", "A post worth reading", 30),
    ("https://blog.example.org/posts/attention-is-all", "A post worth reading", 40),
    ("https://news.example.net/today", "Today's news", 80),
]


def step(text: str) -> None:
    print(f"\n\033[1m▶ {text}\033[0m" if sys.stdout.isatty() else f"\n> {text}", flush=True)


def show(label: str, value: object) -> None:
    print(f"    {label}: {value}", flush=True)


def watch_server(control: Any, done: Callable[[], bool], timeout: float) -> None:
    """Print each bulk request the local Flattr server answers until ``done()`` or ``timeout``."""
    deadline = time.monotonic() + timeout
    seen, first = 0, 0.0
    while time.monotonic() < deadline:
        received = control.received()
        for req in received[seen:]:
            first = first or req["time"]
            show(
                f"t+{req['time'] - first:4.1f} s server answered",
                f"HTTP {req['status']} to {len(req['urls'])} flattr(s), "
                f"Idempotency-Key {str(req['idempotency_key'])[:8]}…",
            )
        seen = len(received)
        if done():
            return
        time.sleep(POLL_SECONDS)


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`flattr-host ARGS` as a person runs it; prints its output indented."""
    result = subprocess.run(
        [sys.executable, "-m", "flattr_host", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    for line in (result.stdout + result.stderr).splitlines():
        print(f"    | {line}", flush=True)
    return result


def terminal_login(env: dict[str, str], sim: SimProcess) -> bool:
    """`flattr-host login --no-browser`, with an HTTP client following the printed address the
    way a browser on another device would."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "flattr_host", "login", "--no-browser"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    show("flattr-host printed", url.split("?")[0] + "?…")
    page = httpx.get(url, follow_redirects=True, verify=sim.ssl_context(), trust_env=False)
    show("the browser landed on", f"{page.url.host}:{page.url.port}{page.url.path}")
    out, err = proc.communicate(timeout=CLI_TIMEOUT)
    for line in (err + out).splitlines():  # "Waiting…" came before the result
        print(f"    | {line}", flush=True)
    return proc.returncode == 0 and "Signed in to Flattr as demo." in out


def main(args: argparse.Namespace) -> int:

    home = Path(tempfile.mkdtemp(prefix="flattr-demo-"))
    (home / "settings.json").write_text(json.dumps(DEMO_SETTINGS))
    token = secrets.token_hex(16)
    sim_args = ["--dedupe", "--token", token, "--username", "demo"]
    if not args.plain_http:
        sim_args.insert(0, "--tls")

    step("Start the local Flattr server (flattr.com + api.flattr.com)")
    with SimProcess(sim_args) as sim:
        show("listening on", sim.base)
        show("TLS CA", sim.ca or "none (plain http on loopback)")
        env = host_env(
            home, FLATTR_API_BASE=sim.base, **({"FLATTR_CA_BUNDLE": sim.ca} if sim.ca else {})
        )

        step("The browser starts flattr-host (Chromium's argv) and says hello")
        started = time.perf_counter()
        with HostProcess(home, chrome_argv(), env) as host:
            reply = host.request("hello", protocol=1, extension={"version": "demo"})
            show("reply", f"{reply['result']} in {1000 * (time.perf_counter() - started):.0f} ms")

            step("flattr.com hands over the token (flattr-token), the extension passes it on")
            reply = host.request(
                "token",
                token=token,
                subscription={"active": True},
                page_url="https://flattr.com/oauth/ext",
            )
            show("account", reply["result"])

            step("Fault injection: the API will answer 503 twice (the second with Retry-After: 1)")
            sim.control.set_faults(script=[{"status": 503}, {"status": 503, "retry_after": 1}])
            show("server plan", sim.control.faults())

            step("Attention on pages: each segment is acknowledged only once on disk")
            expected = 0
            for url, title, seconds in PAGES:
                reply = host.request(
                    "attention", segments=[{"url": url, "title": title, "seconds": seconds}]
                )
                r = reply["result"]["results"][0]
                expected += r["flattrs_queued"]
                show(
                    f"{seconds:>3} s on {url}",
                    f"{r['seconds_today']:.0f} s today, flattrs queued now: {r['flattrs_queued']}",
                )
            status = host.request("page_status", url=PAGES[0][0])["result"]
            show(
                "page status",
                f"{status['flattrs_today_url']} flattr(s) today, next at "
                f"{status['next_threshold']} s ({status['progress']:.0%} of the way)",
            )
            private = host.request(
                "attention",
                segments=[{"url": "https://secret.example.com/", "seconds": 99, "private": True}],
            )["result"]["results"][0]
            show("a private-window segment", f"counted={private['counted']} ({private['reason']})")

            step("The host submits; it retries the 503s with back-off under one Idempotency-Key")
            host.request("tick")

            def delivered() -> bool:
                q = host.request("status")["result"]["queue"]
                return bool(q["delivered"] >= expected and q["pending"] == q["in_flight"] == 0)

            watch_server(sim.control, delivered, DELIVERY_TIMEOUT)

            step("Result")
            status = host.request("status")["result"]
            q = status["queue"]
            show("account", f"{status['account']['username']} (learnt from GET /rest/v2/user)")
            show(
                "queue", f"{q['delivered']} delivered, {q['pending']} pending, {q['failed']} failed"
            )
            delivered = sorted(f["url"] for f in sim.control.flattrs())
            for url in delivered:
                show("flattr recorded by the server", url)
            code = host.close()
            show("host exit status after end of input", code)

        step("No extension at hand: sign in from the terminal (flattr-host login --no-browser)")
        app = sim.control.set_app()  # the local server's registered test app
        login_env = {
            **env,
            "FLATTR_WEB_BASE": sim.base,
            "FLATTR_CLIENT_ID": app["client_id"],
            "FLATTR_CLIENT_SECRET": app["client_secret"],
        }
        logged_in = terminal_login(login_env, sim)

        step("The API from the terminal: flattr a creator's page, then list your flattrs")
        flattred = cli(env, "api", "flattr", AUTO_SUBMIT_URL).returncode == 0
        listed = cli(env, "api", "flattrs")
        api_ok = flattred and listed.returncode == 0 and "A creator's page" in listed.stdout
    if not args.keep:
        import shutil

        shutil.rmtree(home, ignore_errors=True)
    else:
        print(f"\nhome kept at {home}")
    ok = len(delivered) == expected and q["failed"] == 0 and logged_in and api_ok
    print("\nDEMO OK: every flattr arrived exactly once" if ok else "\nDEMO FAILED", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", action="store_true", help="keep the temporary home folder")
    parser.add_argument("--plain-http", action="store_true", help="the local server without TLS")
    sys.exit(main(parser.parse_args()))
