"""The whole protocol as one JSON Schema document: ``protocol.schema.json`` is its text."""

from __future__ import annotations

import json
from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter

from .. import PROTOCOL_VERSION
from . import REQUEST_MODELS, RESULTS
from . import __doc__ as OVERVIEW
from .envelopes import ErrorReply, Event, OkReply
from .vocabulary import ERROR_CODES, FLUSH_LIFTS

# The discriminated union of every request, for the schema (``parse_request`` dispatches itself).
Request: Any = Annotated[Union[tuple(REQUEST_MODELS.values())], Field(discriminator="type")]  # noqa: UP007


def json_schema() -> dict[str, Any]:
    """The whole protocol as one JSON Schema document (draft 2020-12)."""
    defs: dict[str, Any] = {}

    def add(name: str, schema_of: Any) -> dict[str, str]:
        schema = TypeAdapter(schema_of).json_schema(ref_template="#/$defs/{model}")
        defs.update(schema.pop("$defs", {}))
        defs[name] = schema
        return {"$ref": f"#/$defs/{name}"}

    request = add("Request", Request)
    results = {kind: add(model.__name__, model) for kind, model in RESULTS.items()}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://flattr-companion.org/protocol.schema.json",
        "title": "Flattr Companion native-messaging protocol",
        "description": OVERVIEW,
        "protocol_version": PROTOCOL_VERSION,
        "error_codes": ERROR_CODES,
        "flush_lifts": list(FLUSH_LIFTS),
        "oneOf": [
            {"title": "request (extension → host)", **request},
            {"title": "ok reply (host → extension)", **add("OkReply", OkReply)},
            {"title": "error reply (host → extension)", **add("ErrorReply", ErrorReply)},
            {"title": "event (host → extension)", **add("Event", Event)},
        ],
        "results": results,
        "$defs": dict(sorted(defs.items())),
    }


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"
