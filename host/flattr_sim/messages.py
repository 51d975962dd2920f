"""Transport-neutral request and response values shared by the route handlers."""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from .constants import HTML_CONTENT_TYPE, JSON_CONTENT_TYPE
from .error_codes import ApiError


@dataclass(frozen=True)
class Request:
    method: str
    # Raw (still percent-encoded) path: "/things/1%2C2" must not split on the comma.
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    scheme: str
    host: str  # the Host header (or the listening address); used to build absolute links
    client_ip: str

    @property
    def base(self) -> str:
        """Absolute base URL as the client addressed us, so links work behind name mapping."""
        return f"{self.scheme}://{self.host}"

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def bearer_token(self) -> str | None:
        """The Bearer token, or the access_token parameter some old clients sent."""
        auth = self.header("authorization") or ""
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return self.arg("access_token")

    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    def json_body(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ApiError("invalid_request", f"Malformed JSON body: {exc}") from exc

    def params_body(self) -> dict[str, Any]:
        """A JSON or form-urlencoded body as a dict (both allowed: docs/flattr-api.md#formats)."""
        if not self.body.strip():
            return {}
        kind = self.content_type()
        if kind == "application/x-www-form-urlencoded":
            return _form(self.body)
        if kind == "application/json":
            data = self.json_body()
        else:  # unlabelled: JSON if it parses, form otherwise
            try:
                data = json.loads(self.body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                return _form(self.body)
        if not isinstance(data, dict):
            raise ApiError("invalid_parameters", "The body must be an object")
        return data


def _form(body: bytes) -> dict[str, Any]:
    pairs = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[0] for key, values in pairs.items()}


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    # Close the connection without sending anything (fault injection).
    drop: bool = False
    # A short note for the request log (never a secret).
    note: str = ""


def encode_json(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode("utf-8")


def json_response(status: int, data: Any, *, content_type: str = JSON_CONTENT_TYPE) -> Response:
    return Response(status, encode_json(data), content_type)


def error_response(error: ApiError) -> Response:
    return json_response(error.status, error.payload())


def html_response(status: int, html: str) -> Response:
    return Response(status, html.encode("utf-8"), HTML_CONTENT_TYPE)
