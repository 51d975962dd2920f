"""One daemon thread that runs calls one at a time and hands back futures: the submitter's
requests, so that each answer is recorded while the next request is on the wire.

Not a ``ThreadPoolExecutor``: its threads keep the process alive until their call returns, so a
host whose browser went away, or a ``flattr-host flush`` interrupted with Ctrl-C, would wait for a
request up to its timeout. Nothing is lost by not waiting: a request's batch was committed in
flight before it was sent, and goes again with its key at the next start.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_Job = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class RequestThread:
    def __init__(self, name: str) -> None:
        self._name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def submit(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        """Run ``call`` after the calls submitted before it; its result or exception comes in
        the future."""
        future: Future[T] = Future()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
        self._jobs.put((future, call, args, kwargs))
        return future

    def shutdown(self) -> None:
        """The thread ends after the calls already submitted; nobody waits for them."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread = None

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, call, args, kwargs = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(call(*args, **kwargs))
            except BaseException as exc:  # handed to whoever waits for the future
                future.set_exception(exc)
