"""What the tests need from a browser, the same for Chromium (Playwright) and Firefox (BiDi).

Values cross from JavaScript as JSON (a JSON string made in the page), so both drivers return
plain Python values. Input is always the driver's real input (CDP Input / BiDi input actions):
the page sees trusted events.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

POLL_SECONDS = 0.05
DEFAULT_WAIT_SECONDS = 10.0


class WaitTimeout(AssertionError):
    pass


def json_wrapper(expression: str) -> str:
    """An expression evaluating to a Promise of the JSON text of `expression`'s (awaited) value."""
    return (
        "(async () => { const value = await (" + expression + ");"
        " return JSON.stringify(value === undefined ? null : value); })()"
    )


def parse_json_result(text: Any) -> Any:
    return None if text is None else json.loads(text)


T = TypeVar("T")


def poll(
    find: Callable[[], T | None],
    missing: str | Callable[[T | None], str],
    timeout: float = DEFAULT_WAIT_SECONDS,
) -> T:
    """The first truthy value of ``find()``, asked every POLL_SECONDS. After ``timeout`` it raises
    WaitTimeout saying ``missing`` (or what ``missing`` makes of the last value found)."""
    deadline = time.monotonic() + timeout
    while True:
        found = find()
        if found:
            return found
        if time.monotonic() > deadline:
            raise WaitTimeout(missing if isinstance(missing, str) else missing(found))
        time.sleep(POLL_SECONDS)


@dataclass(frozen=True)
class Point:
    x: float
    y: float


class Tab(ABC):
    """One top-level browsing context (a tab)."""

    @abstractmethod
    def goto(self, url: str) -> None: ...

    @abstractmethod
    def eval(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression (awaited), in the page's own world."""

    @abstractmethod
    def frame_eval(self, url_prefix: str, expression: str) -> Any:
        """As eval, in the first child frame whose URL starts with url_prefix."""

    @abstractmethod
    def click(self, x: float, y: float) -> None: ...

    @abstractmethod
    def move(self, x: float, y: float) -> None: ...

    @abstractmethod
    def press(self, key: str) -> None:
        """One key press (down and up); key is a character or a name like "ArrowDown"."""

    @abstractmethod
    def wheel(self, delta_y: float, x: float = 200, y: float = 200) -> None: ...

    @abstractmethod
    def screenshot(self, path: Path) -> Path: ...

    @abstractmethod
    def set_viewport(self, width: int, height: int) -> None: ...

    @abstractmethod
    def activate(self) -> None:
        """Make this the selected tab of its window."""

    @abstractmethod
    def close(self) -> None: ...

    @property
    @abstractmethod
    def url(self) -> str: ...

    # --- built on the above ---------------------------------------------------------------
    def wait_for(
        self, expression: str, timeout: float = DEFAULT_WAIT_SECONDS, message: str = ""
    ) -> Any:
        """Poll until the expression is truthy; returns its value."""
        last: Any = None

        def value() -> Any:
            nonlocal last
            try:
                last = self.eval(expression)
            except Exception as exc:  # navigation in progress, context not ready yet
                last = exc
                return None
            return last

        return poll(
            value,
            lambda _: f"{message or expression!r} stayed falsy for {timeout} s (last: {last!r})",
            timeout,
        )

    def wait_loaded(self, url: str, message: str = "") -> None:
        """Wait until this tab shows ``url``, loaded."""
        self.wait_for(
            f"location.href === {json.dumps(url)} && document.readyState === 'complete'",
            message=message,
        )

    def center_of(self, selector: str) -> Point:
        box = self.eval(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " if (!e) return null; e.scrollIntoView({block: 'center'});"
            " const r = e.getBoundingClientRect();"
            " return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()"
        )
        if box is None:
            raise AssertionError(f"no element {selector!r} on {self.url}")
        return Point(box["x"], box["y"])

    def click_element(self, selector: str) -> None:
        point = self.center_of(selector)
        self.click(point.x, point.y)

    def type_text(self, text: str) -> None:
        for char in text:
            self.press(char)


class Browser(ABC):
    name: str
    #: "chrome-extension://<id>" or "moz-extension://<uuid>" (no trailing slash)
    extension_origin: str
    #: PIDs of the browser's main process (children are found through the run marker)
    pid: int

    @abstractmethod
    def new_tab(self, url: str | None = None) -> Tab: ...

    @abstractmethod
    def extension_tab(self, path: str, background: bool = False) -> Tab:
        """A tab showing the extension's page at path (e.g. "src/popup/popup.html").

        background: open it without selecting it, so the selected tab of the window stays what
        it was (the popup then describes that tab, as the real popup does)."""

    @abstractmethod
    def allow_private_browsing(self) -> None:
        """What a user does in the browser's extension settings to let it run in private
        windows. The extension reloads (its pages close, its host restarts)."""

    @abstractmethod
    def new_private_tab(self, url: str) -> Tab:
        """A tab in a new private window (incognito / private browsing) showing url."""

    @abstractmethod
    def add_preload_script(self, source: str) -> None:
        """Run `source` in every new document's page world before the page's own scripts."""

    @abstractmethod
    def _tab_at(self, url_prefix: str) -> Tab | None:
        """An open tab whose URL starts with url_prefix, if there is one now."""

    def tab_for(self, url_prefix: str, timeout: float = DEFAULT_WAIT_SECONDS) -> Tab:
        """The tab whose URL starts with url_prefix (e.g. one the extension opened)."""
        return poll(
            lambda: self._tab_at(url_prefix),
            lambda _: f"no tab at {url_prefix} (open: {self.top_level_urls()})",
            timeout,
        )

    @abstractmethod
    def top_level_urls(self) -> list[str]:
        """URLs of every open tab, in every window."""

    @abstractmethod
    def close(self) -> None:
        """Shut the browser down gracefully (the run then checks every process is gone)."""
