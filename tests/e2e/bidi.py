"""A small synchronous WebDriver BiDi client over websockets (Firefox speaks it natively).

One reader thread takes every message off the socket: replies wake the caller waiting for that
id, events are kept (bounded) for `wait_event`. No geckodriver is involved.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

COMMAND_TIMEOUT_SECONDS = 30.0
OPEN_TIMEOUT_SECONDS = 10.0
# Events kept for wait_event(); older ones are dropped.
MAX_KEPT_EVENTS = 2000
# Screenshots and page dumps can be large.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class BidiError(RuntimeError):
    def __init__(self, method: str, reply: dict[str, Any]) -> None:
        self.error = str(reply.get("error"))
        super().__init__(f"{method}: {self.error}: {reply.get('message')}")


class BidiClient:
    def __init__(self, url: str) -> None:
        self._stack = contextlib.ExitStack()
        # proxy=None: loopback traffic never goes through a proxy from the environment.
        self._ws = self._stack.enter_context(
            connect(url, proxy=None, max_size=MAX_MESSAGE_BYTES, open_timeout=OPEN_TIMEOUT_SECONDS)
        )
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._replies: dict[int, dict[str, Any]] = {}
        self._waiting: dict[int, threading.Event] = {}
        self._events: deque[dict[str, Any]] = deque(maxlen=MAX_KEPT_EVENTS)
        self._event_added = threading.Condition(self._lock)
        self.closed = False
        self._reader = threading.Thread(target=self._read, name="bidi-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for raw in self._ws:
                message = json.loads(raw)
                with self._lock:
                    rid = message.get("id")
                    if rid is not None and rid in self._waiting:
                        self._replies[rid] = message
                        self._waiting.pop(rid).set()
                    elif message.get("type") == "event":
                        self._events.append(message)
                        self._event_added.notify_all()
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                self.closed = True
                for event in self._waiting.values():
                    event.set()
                self._event_added.notify_all()

    def command(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        timeout: float = COMMAND_TIMEOUT_SECONDS,
    ) -> dict[str, Any]:
        rid = next(self._ids)
        done = threading.Event()
        with self._lock:
            if self.closed:
                raise ConnectionError(f"{method}: the BiDi connection is closed")
            self._waiting[rid] = done
        self._ws.send(json.dumps({"id": rid, "method": method, "params": params or {}}))
        if not done.wait(timeout):
            with self._lock:
                self._waiting.pop(rid, None)
            raise TimeoutError(f"{method}: no reply within {timeout} s")
        with self._lock:
            reply = self._replies.pop(rid, None)
        if reply is None:
            raise ConnectionError(f"{method}: the BiDi connection closed before the reply")
        if reply.get("type") == "error":
            raise BidiError(method, reply)
        result: dict[str, Any] = reply.get("result", {})
        return result

    def wait_event(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float
    ) -> dict[str, Any]:
        """The first kept event matching predicate (it is consumed), waiting up to timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for event in self._events:
                    if predicate(event):
                        self._events.remove(event)
                        return event
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise TimeoutError(f"no matching BiDi event within {timeout} s")
                self._event_added.wait(left)

    def events(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self._events if e.get("method") == method]

    def close(self) -> None:
        self._stack.close()
        self._reader.join(timeout=OPEN_TIMEOUT_SECONDS)
