"""The protocol's single source: models → JSON Schema → the file the extension tests use."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import get_args

import jsonschema
import pytest
from pydantic import ValidationError

from flattr_host import PROTOCOL_VERSION, hello, holds, protocol, upgrade
from flattr_host.protocol import requests, results, vocabulary
from flattr_host.protocol.schema import schema_text
from flattr_host.service import Service

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "protocol.schema.json"


def test_committed_schema_is_current() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        "protocol.schema.json is stale: run `flattr-host schema -o protocol.schema.json`"
    )


def _validator(ref: str) -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator({"$ref": ref, "$defs": schema["$defs"]})


def test_fast_hello_matches_the_model() -> None:
    # hello is answered by stdlib code before pydantic is imported; it must still obey the schema.
    result = hello.hello_result(["chromium"])
    results.HelloResult.model_validate(result)
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
        {"id": 1, "type": "attention", "segments": [{"url": "https://a.example/"}] * 201},
        {"id": 1, "type": "attention", "segments": "none", "batch": "b"},
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
    "segment",
    [
        {"url": "https://a.example/", "seconds": -1},
        {"url": "https://a.example/", "seconds": vocabulary.MAX_SEGMENT_SECONDS + 1},
        {"url": "https://a.example/", "seconds": 3, "title": "cut \ud83d"},
        {"url": "https://a.example/\udfff", "seconds": 3},
        {"url": "https://a.example/", "seconds": 3, "meta": {"flattr_id": "\ud800"}},
        {"url": "https://a.example/", "seconds": 3, "extra": 1},
        "https://a.example/",
    ],
)
def test_a_bad_segment_is_refused_alone(segment: object) -> None:
    good = {"url": "https://a.example/", "seconds": 3}
    message = {"id": 1, "type": "attention", "segments": [good, segment, good]}
    try:
        json.dumps(segment, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        pass  # JSON Schema cannot say "well-formed Unicode": the extension's tests check that
    else:
        assert not _validator("#/$defs/Request").is_valid(message)  # the contract: never send it
    parsed = protocol.parse_request(message)
    assert isinstance(parsed, requests.AttentionRequest)
    first, bad, last = parsed.segments
    assert first == last == requests.Segment.model_validate(good)
    assert isinstance(bad, requests.InvalidSegment) and bad.error
    bad.error.encode("utf-8")  # a reply can carry it


def test_segment_seconds_maximum_is_in_the_schema() -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    seconds = schema["$defs"]["Segment"]["properties"]["seconds"]
    assert seconds["maximum"] == vocabulary.MAX_SEGMENT_SECONDS


@pytest.mark.parametrize(
    "message",
    [
        {"id": "r\ud800", "type": "status"},
        {"id": 1, "type": "hello", "extension": {"id": "\ud800"}},  # an unconstrained string
        {"id": 1, "type": "set_site", "site": "\udc00.example"},
        {"id": 1, "type": "status", "\ud800": 1},
        {
            "id": 1,
            "type": "attention",
            "segments": [{"url": "https://a/", "seconds": 1}],
            "batch": "\ud800",
        },
    ],
)
def test_lone_surrogates_are_refused_with_a_message_that_encodes(
    message: dict[str, object],
) -> None:
    with pytest.raises(ValidationError) as caught:
        protocol.parse_request(message)
    described = vocabulary.describe_errors(caught.value)
    assert "not well-formed Unicode" in described
    described.encode("utf-8")


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


def test_every_request_type_has_a_result_model_a_handler_and_an_error_code_table() -> None:
    assert set(protocol.RESULTS) == set(protocol.REQUEST_TYPES)
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert set(schema["results"]) == set(protocol.REQUEST_TYPES)
    for name in protocol.REQUEST_TYPES:
        assert callable(getattr(Service, f"_on_{name}", None)), f"Service cannot answer {name}"
    assert set(schema["$defs"]["ErrorBody"]["properties"]["code"]["enum"]) == set(
        schema["error_codes"]
    )


def test_the_holds_and_what_a_flush_lifts_are_the_submitters() -> None:
    reasons = {
        holds.BACKOFF,
        holds.RATE_LIMITED,
        holds.REFUSED,
        holds.SIGNED_OUT,
        holds.SUBSCRIPTION_INACTIVE,
        holds.WAITING_FOR_ACCOUNT,
    }
    assert reasons == set(get_args(vocabulary.HoldReason))
    assert set(vocabulary.FLUSH_LIFTS) == {*holds.FORCE_LIFTS, holds.REFUSED}


def test_protocol_md_documents_every_message_and_error_code() -> None:
    text = (SCHEMA_FILE.parent / "PROTOCOL.md").read_text(encoding="utf-8")
    for name in [*protocol.REQUEST_TYPES, *vocabulary.ERROR_CODES]:
        assert f"`{name}`" in text, f"PROTOCOL.md does not document {name}"


def test_version_mismatch_names_the_fix() -> None:
    newer = hello.check_version({"protocol": PROTOCOL_VERSION + 1})
    older = hello.check_version({"protocol": 0})
    assert newer is not None and newer.code == "upgrade_required"
    assert f"{sys.executable} -m pip install --upgrade flattr-companion" in (newer.command or "")
    assert older is not None and "update the extension" in older.message
    assert older.command is None
    assert hello.check_version({"protocol": PROTOCOL_VERSION}) is None


def test_the_upgrade_command_matches_how_the_host_was_installed(tmp_path: Path) -> None:
    venv = tmp_path / "my venv"
    python = str(venv / "bin" / "python")
    assert upgrade.upgrade_command(str(venv), python) == (
        f"'{python}' -m pip install --upgrade flattr-companion && '{python}' -m flattr_host install"
    )
    (venv / upgrade.PIPX_METADATA).parent.mkdir()
    (venv / upgrade.PIPX_METADATA).write_text("{}", encoding="utf-8")
    assert upgrade.upgrade_command(str(venv), python) == (
        "pipx upgrade flattr-companion && flattr-host install"
    )
