"""The HTTP(S) server: one port serving flattr.com pages, the API and the control interface.

Routing is by path only, never by Host: Firefox's network.socket.forcePort sends every :443
connection (flattr.com and api.flattr.com alike) to this one port.
"""

from __future__ import annotations

import logging
import re
import socket
import ssl
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import control, rest, web
from .constants import (
    API_PREFIX,
    IDLE_CONNECTION_TIMEOUT_SECONDS,
    MAX_BODY_BYTES,
    SERVE_POLL_SECONDS,
    TLS_HANDSHAKE_TIMEOUT_SECONDS,
)
from .error_codes import ApiError, error_payload, reason_phrase
from .messages import Request, Response, json_response
from .state import SimState

log = logging.getLogger("flattr_sim")

# Query parameters whose values are secrets; the request log shows them as "***".
_SECRET_PARAMS = re.compile(r"(?i)\b(access_token|code|client_secret|token)=[^&\s\"#]*")


def redact(text: str) -> str:
    return _SECRET_PARAMS.sub(lambda m: f"{m.group(1)}=***", text)


def route(req: Request, state: SimState) -> Response:
    path = req.path
    if path == control.CONTROL_PREFIX or path.startswith(control.CONTROL_PREFIX + "/"):
        return control.handle(req, state)
    if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
        return rest.handle(req, state)
    return web.handle(req, state)


# Longest chunk-size or trailer line accepted in a chunked body.
MAX_CHUNK_LINE_BYTES = 1024


class _BodyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class SimHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a hung client never blocks shutdown

    def __init__(
        self, address: tuple[str, int], state: SimState, ssl_context: ssl.SSLContext | None
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.state = state
        self.ssl_context = ssl_context
        super().__init__(address, SimRequestHandler)

    @property
    def scheme(self) -> str:
        return "https" if self.ssl_context is not None else "http"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # TLS handshakes that fail and clients that vanish are routine here; one line, no trace.
        log.info("connection from %s ended: %s", client_address[0], _last_exception_line())


def _last_exception_line() -> str:
    return traceback.format_exc().strip().splitlines()[-1]


class SimRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so drops also hit reused connections
    server_version = "FlattrSim/1"
    timeout = IDLE_CONNECTION_TIMEOUT_SECONDS
    # Headers and body go out in two writes; without this, Nagle + delayed ACK add ~40 ms.
    disable_nagle_algorithm = True
    server: SimHTTPServer

    def setup(self) -> None:
        context = self.server.ssl_context
        if context is not None:
            # Handshake here, in the connection's thread, so a slow client cannot stall accept().
            self.request.settimeout(TLS_HANDSHAKE_TIMEOUT_SECONDS)
            self.request = context.wrap_socket(self.request, server_side=True)
        super().setup()

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_OPTIONS(self) -> None:
        self._handle()

    # The stdlib logs every request line itself; we log our own redacted line instead.
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.client_address[0], redact(format % args))

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        try:
            length = int(raw)
        except ValueError:
            raise _BodyError(400, "bad Content-Length") from None
        if length < 0:
            raise _BodyError(400, "bad Content-Length")
        if length > MAX_BODY_BYTES:
            raise _BodyError(413, "body too large")
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(MAX_CHUNK_LINE_BYTES)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise _BodyError(400, "bad chunk size") from None
            if size == 0:
                while self.rfile.readline(MAX_CHUNK_LINE_BYTES).strip():  # trailers
                    pass
                return b"".join(parts)
            total += size
            if total > MAX_BODY_BYTES:
                raise _BodyError(413, "body too large")
            parts.append(self.rfile.read(size))
            self.rfile.readline(MAX_CHUNK_LINE_BYTES)  # the CRLF after the chunk

    def _request(self, body: bytes) -> Request:
        split = urllib.parse.urlsplit(self.path)
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        return Request(
            method="GET" if self.command == "HEAD" else self.command,
            path=split.path or "/",
            query=urllib.parse.parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            scheme=self.server.scheme,
            host=host,
            client_ip=str(self.client_address[0]),
        )

    def _handle(self) -> None:
        started = time.monotonic()
        try:
            req = self._request(self._read_body())
            response = route(req, self.server.state)
        except _BodyError as exc:
            self.close_connection = True  # the rest of the stream cannot be trusted
            response = json_response(exc.status, error_payload("invalid_request", str(exc)))
        except ApiError as exc:
            response = json_response(exc.status, exc.payload())
        except Exception:
            log.exception("error handling %s %s", self.command, redact(self.path))
            response = json_response(500, error_payload("server_error"))
        if response.drop:
            self.close_connection = True  # nothing is written: the client sees a dead connection
        else:
            self._send(response)
        self._log(response, time.monotonic() - started)

    def _send(self, response: Response) -> None:
        self.send_response(response.status, reason_phrase(response.status))
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)

    def _log(self, response: Response, elapsed: float) -> None:
        status = "dropped" if response.drop else str(response.status)
        note = f" ({response.note})" if response.note else ""
        log.info(
            "%s %s %s %s %.1fms%s",
            self.client_address[0],
            self.command,
            redact(self.path),
            status,
            elapsed * 1000,
            note,
        )


class RunningServer:
    """A started server in a background thread; `close()` stops it."""

    def __init__(self, server: SimHTTPServer) -> None:
        self.server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": SERVE_POLL_SECONDS},
            name="flattr-sim",
            daemon=True,
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()


def start(
    host: str, port: int, state: SimState, ssl_context: ssl.SSLContext | None
) -> RunningServer:
    return RunningServer(SimHTTPServer((host, port), state, ssl_context))
