"""Native-messaging framing: a 32-bit length in native byte order, then that many bytes of JSON.

Stdlib only: this runs before ``hello`` is answered.
"""

from __future__ import annotations

import json
import os
import struct
import sys

from . import HostError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing before hello
if TYPE_CHECKING:
    from typing import Any, BinaryIO

HEADER = struct.Struct("=I")
# Requests nest a few levels (request → segments → segment → meta); far deeper is hostile.
MAX_NESTING = 32
TOO_DEEP = f"frame nests arrays and objects deeper than {MAX_NESTING} levels"


class FrameError(HostError):
    """The peer sent something that is not a valid frame."""


class EndOfInput(Exception):
    """Stdin closed (also mid-frame): the browser is done with us."""


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            raise EndOfInput
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(stream: BinaryIO, max_size: int) -> bytes:
    """Read one frame's payload. Refuses an announced length over ``max_size`` before reading it."""
    (length,) = HEADER.unpack(_read_exactly(stream, HEADER.size))
    if length > max_size:
        raise FrameError(
            "frame_too_large", f"announced frame of {length} bytes exceeds the {max_size}-byte cap"
        )
    return _read_exactly(stream, length)


def decode(payload: bytes) -> Any:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FrameError("invalid_utf8", f"frame is not UTF-8: {exc.reason}") from None
    try:
        message = json.loads(text)
    except ValueError as exc:
        raise FrameError("invalid_json", f"frame is not JSON: {exc}") from None
    except RecursionError:
        raise FrameError("invalid_request", TOO_DEEP) from None
    if _nests_deeper(message, MAX_NESTING):
        # Deep nesting would make every later step (validation, repr, logging) recurse too.
        raise FrameError("invalid_request", TOO_DEEP)
    return message


def _nests_deeper(value: Any, limit: int) -> bool:
    """Whether ``value`` has more than ``limit`` levels of arrays/objects; without recursion."""
    level = [value] if isinstance(value, list | dict) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, list | dict)
        ]
    return False


def encode(message: Any, max_size: int) -> bytes:
    """A whole frame for ``message``. Raises ValueError when it would exceed ``max_size``."""
    payload = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if len(payload) > max_size:
        raise ValueError(f"reply of {len(payload)} bytes exceeds the {max_size}-byte frame limit")
    return HEADER.pack(len(payload)) + payload


def protect_stdout() -> BinaryIO:
    """Give frames a private duplicate of fd 1 and point fd 1 (and ``sys.stdout``) at stderr.

    Any stray byte on stdout would be read by the browser as a length and drop the connection, so no
    print(), warning or library chatter may ever reach the real stdout again.
    """
    sys.stdout.flush()
    private = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(private, "wb", buffering=0)
