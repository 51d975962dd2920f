"""`flattr-host sim` / `python -m flattr_sim`: run the local Flattr server until signalled."""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from .constants import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_RATE_LIMIT,
    DEFAULT_USERNAME,
    DEMO_TOKEN_BYTES,
    SERVE_POLL_SECONDS,
)
from .server import start
from .state import SimConfig, SimState
from .tls import TLSUnavailable, make_tls
from .users import valid_username

PROG = "flattr-host sim"
EXIT_OK = 0
EXIT_STARTUP_FAILED = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Local stand-in for flattr.com and api.flattr.com (one port, routed by path).",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="loopback address to listen on")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with a throwaway CA")
    parser.add_argument(
        "--state-dir", type=Path, help="where ca.pem is written (default: a temporary directory)"
    )
    parser.add_argument("--token", help="the demo user's token (default: random, never printed)")
    parser.add_argument("--username", default=DEFAULT_USERNAME, help="the demo user's name")
    parser.add_argument(
        "--subscription-active",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the demo user's subscription state",
    )
    parser.add_argument(
        "--dedupe", action="store_true", help="de-duplicate bulk requests by Idempotency-Key"
    )
    parser.add_argument(
        "--rate-limit", type=int, default=DEFAULT_RATE_LIMIT, help="hits per token per hour"
    )
    parser.add_argument("--ready-file", type=Path, help="also write the ready JSON here")
    return parser


def check_loopback(host: str) -> str:
    """The host if it is a loopback address; the server must never be reachable from outside."""
    if host == "localhost":
        return host
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise ValueError(f"--host {host!r} is not an IP address (use 127.0.0.1 or ::1)") from None
    if not address.is_loopback:
        raise ValueError(f"--host {host!r} is not a loopback address; refusing to listen on it")
    return str(address)


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s sim %(message)s")
    try:
        host = check_loopback(args.host)
    except ValueError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not valid_username(args.username):
        print(f"{PROG}: error: invalid --username {args.username!r}", file=sys.stderr)
        return EXIT_USAGE

    own_state_dir = args.state_dir is None
    state_dir: Path = args.state_dir or Path(tempfile.mkdtemp(prefix="flattr-sim-"))
    try:
        return _serve(args, host, state_dir)
    finally:
        if own_state_dir:
            shutil.rmtree(state_dir, ignore_errors=True)


def _serve(args: argparse.Namespace, host: str, state_dir: Path) -> int:
    config = SimConfig(
        token=args.token or secrets.token_hex(DEMO_TOKEN_BYTES),
        username=args.username,
        subscription_active=args.subscription_active,
        dedupe=args.dedupe,
        rate_limit=args.rate_limit,
    )
    ca_path: Path | None = None
    spki: str | None = None
    context = None
    if args.tls:
        try:
            material = make_tls(state_dir)
        except TLSUnavailable as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return EXIT_STARTUP_FAILED
        context, ca_path, spki = material.context, material.ca_path, material.spki_sha256

    try:
        running = start(host, args.port, SimState(config), context)
    except OSError as exc:
        print(f"{PROG}: error: cannot listen on {host}:{args.port}: {exc}", file=sys.stderr)
        return EXIT_STARTUP_FAILED

    stop = threading.Event()
    restore = _install_signal_handlers(stop)
    try:
        url_host = f"[{host}]" if ":" in host else host
        scheme = "https" if args.tls else "http"
        ready: dict[str, Any] = {
            "base": f"{scheme}://{url_host}:{running.port}",
            "ca": str(ca_path) if ca_path else None,
            "pid": os.getpid(),
            "spki": spki,
        }
        line = json.dumps(ready)
        if args.ready_file is not None:
            _write_atomically(args.ready_file, line + "\n")
        # The one line on stdout: whoever started us waits for it.
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        while not stop.wait(SERVE_POLL_SECONDS):
            pass
    finally:
        restore()
        running.close()
    logging.getLogger("flattr_sim").info("stopped")
    return EXIT_OK


def _install_signal_handlers(stop: threading.Event) -> Callable[[], None]:
    """Stop on SIGTERM/SIGINT; returns a function restoring the previous handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signals can only be handled in the main thread

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
