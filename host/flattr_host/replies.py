"""The three shapes the host sends (see ``protocol``), built without importing pydantic."""

from __future__ import annotations

from typing import Any

# The longest string id a request may carry (``protocol.RequestId``); a longer one is not echoed.
MAX_ID_LENGTH = 64


def ok(request_id: Any, result: dict[str, Any]) -> dict[str, Any]:
    return {"id": request_id, "ok": True, "result": result}


def error(request_id: Any, code: str, message: str, command: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if command:
        body["command"] = command
    return {"id": request_id, "ok": False, "error": body}


def event(name: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "event", "event": name, "data": data}


def request_id(message: Any) -> Any:
    """The request's id when it is a valid one, else None (still answered, with id null)."""
    if isinstance(message, dict):
        rid = message.get("id")
        if isinstance(rid, str) and len(rid) <= MAX_ID_LENGTH:
            return rid
        if isinstance(rid, int) and not isinstance(rid, bool):
            return rid
    return None
