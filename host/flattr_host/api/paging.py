"""Walk ``count``/``page`` listings (pages start at 1) as one iterator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")

# (page number just fetched, items so far, total items when the endpoint says) -> None
PageHook = Callable[[int, int, int | None], None]


def iterate_pages(
    fetch: Callable[[int], tuple[list[T], int | None]],
    *,
    count: int,
    first_page: int = 1,
    max_pages: int | None = None,
    on_page: PageHook | None = None,
) -> Iterator[T]:
    """Yield every item of ``fetch(page) -> (items, total or None)`` from ``first_page`` on.

    Stops after a short page (fewer than ``count`` items), once ``total`` items were seen, or
    after ``max_pages`` pages. Pages are fetched lazily: stop iterating and no more are asked for.
    """
    page, seen, fetched = first_page, 0, 0
    while max_pages is None or fetched < max_pages:
        items, total = fetch(page)
        fetched += 1
        seen += len(items)
        if on_page is not None:
            on_page(page, seen, total)
        yield from items
        done = len(items) < count or (
            total is not None and (page - 1) * count + len(items) >= total
        )
        if done:
            return
        page += 1
