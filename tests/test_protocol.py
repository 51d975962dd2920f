"""The protocol's single source: models → JSON Schema → the file the extension tests use."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError

from flattr_host import PROTOCOL_VERSION, hello, protocol

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "protocol.schema.json"


def test_committed_schema_is_current() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == protocol.schema_text(), (
        "protocol.schema.json is stale: run `flattr-host schema -o protocol.schema.json`"
    )


def _validator(ref: str) -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator({"$ref": ref, "$defs": schema["$defs"]})


def test_fast_hello_matches_the_model() -> None:
    # hello is answered by stdlib code before pydantic is imported; it must still obey the schema.
    result = hello.hello_result(["chromium"])
    protocol.HelloResult.model_validate(result)
    _validator("#/$defs/HelloResult").validate(result)
    assert result["protocol"] == PROTOCOL_VERSION


@pytest.mark.parametrize(
    "message",
    [
        {"id": 1, "type": "hello"},
        {"id": "a", "type": "token", "token": "t", "page_url": "https://flattr.com/oauth/ext"},
        {"id": 2, "type": "attention", "segments": [{"url": "https://a.example/", "seconds": 3}]},
        {"id": 3, "type": "tick", "force": True},
        {"id": 4, "type": "history", "before": 10, "limit": 5},
    ],
)
def test_schema_and_models_agree_on_valid_requests(message: dict[str, object]) -> None:
    _validator("#/$defs/Request").validate(message)
    protocol.parse_request(message)


@pytest.mark.parametrize(
    "message",
    [
        {"id": 1, "type": "nope"},
        {"id": 1, "type": "attention", "segments": []},
        {"id": 1, "type": "attention", "segments": [{"url": "https://a.example/", "seconds": -1}]},
        {"id": 1, "type": "token", "token": "", "page_url": "https://flattr.com/"},
        {"id": 1, "type": "status", "extra": True},
        {"id": 1, "type": "history", "limit": 100000},
        {"id": 1, "type": ["status"]},
        {"id": 1, "type": None},
        {"id": 1},
    ],
)
def test_schema_and_models_agree_on_invalid_requests(message: dict[str, object]) -> None:
    assert not _validator("#/$defs/Request").is_valid(message)
    with pytest.raises(ValidationError):
        protocol.parse_request(message)


@pytest.mark.parametrize(
    ("message", "error_type"),
    [
        ({"id": 1, "type": "nope"}, "union_tag_invalid"),
        ({"id": 1, "type": ["status"]}, "union_tag_invalid"),
        ({"id": 1}, "union_tag_not_found"),
    ],
)
def test_a_missing_or_unknown_type_is_the_unions_own_error(
    message: dict[str, object], error_type: str
) -> None:
    with pytest.raises(ValidationError) as info:
        protocol.parse_request(message)
    (error,) = info.value.errors()
    assert error["type"] == error_type
    if error_type == "union_tag_invalid":
        assert "'status'" in error["msg"] and "'hello'" in error["msg"]


def test_every_request_type_has_a_result_model_and_an_error_code_table() -> None:
    assert set(protocol.RESULTS) == set(protocol.REQUEST_TYPES)
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert set(schema["results"]) == set(protocol.REQUEST_TYPES)
    assert "upgrade_required" in schema["error_codes"]


def test_protocol_md_documents_every_message_and_error_code() -> None:
    text = (SCHEMA_FILE.parent / "PROTOCOL.md").read_text(encoding="utf-8")
    for name in [*protocol.REQUEST_TYPES, *protocol.ERROR_CODES]:
        assert f"`{name}`" in text, f"PROTOCOL.md does not document {name}"


def test_version_mismatch_names_the_fix() -> None:
    newer = hello.check_version({"protocol": PROTOCOL_VERSION + 1})
    older = hello.check_version({"protocol": 0})
    assert newer is not None and newer["code"] == "upgrade_required"
    assert "pip install --upgrade" in newer["command"]
    assert older is not None and "update the extension" in older["message"]
    assert hello.check_version({"protocol": PROTOCOL_VERSION}) is None
