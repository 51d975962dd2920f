"""Hypothesis strategies for hostile frames, and the schema every reply must match."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from hypothesis import strategies as st

from flattr_host import protocol

SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "protocol.schema.json").read_text())
REPLY_SCHEMA = jsonschema.Draft202012Validator(
    {
        "oneOf": [{"$ref": "#/$defs/OkReply"}, {"$ref": "#/$defs/ErrorReply"}],
        "$defs": SCHEMA["$defs"],
    }
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
# Field names of real requests, so that fuzzed requests reach validation and handlers.
FIELDS = sorted({name for model in protocol.REQUEST_MODELS.values() for name in model.model_fields})
request_like = st.builds(
    lambda rid, type_, fields: {**fields, "id": rid, "type": type_},
    st.integers() | st.text(max_size=8) | st.text(min_size=60, max_size=70) | json_values,
    st.sampled_from(sorted(protocol.REQUEST_TYPES)) | json_values,
    st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=12), json_values, max_size=4),
) | st.builds(
    lambda part, key: {"id": 1, "type": "export", "cursor": f"{part}:{key}"},
    st.sampled_from(["accounts", "settings", "sites", "attention", "flattrs", "nope"]),
    json_values.map(json.dumps) | st.text(max_size=20),
)
urls = st.sampled_from(
    [
        "https://news.example.com/a",
        "https://flattr.com/oauth/ext",
        "http://192.168.1.1/",
        "https://localhost/",
        "https://flattr.com/submit/auto?user_id=x&url=https%3A%2F%2Fa.example.com%2F",
    ]
) | st.text(max_size=30)
segments = st.fixed_dictionaries(
    {"url": urls, "seconds": st.floats() | st.integers()},
    optional={
        "kind": st.sampled_from(["foreground", "audio", "other"]),
        "private": st.booleans(),
        "title": st.text(max_size=20),
        "started_at": st.floats() | st.integers(),
        "meta": st.fixed_dictionaries(
            {}, optional={"payment_url": urls, "canonical_url": urls, "flattr_id": st.text()}
        ),
    },
)
# Requests close to valid ones, so that fuzzing reaches the handlers and the database.
plausible = st.one_of(
    st.builds(
        lambda segs, batch: {"id": 1, "type": "attention", "segments": segs, "batch": batch},
        st.lists(segments, max_size=3),
        st.none() | st.text(max_size=8),
    ),
    st.builds(lambda url: {"id": 2, "type": "page_status", "url": url}, urls),
    st.builds(lambda url: {"id": 3, "type": "flattr_now", "url": url}, urls),
    st.builds(
        lambda site, setting: {"id": 4, "type": "set_site", "site": site, "setting": setting},
        urls,
        st.sampled_from(["enabled", "disabled", "default", "other"]),
    ),
    st.builds(
        lambda before, limit: {"id": 5, "type": "history", "before": before, "limit": limit},
        st.none() | st.integers(),
        st.integers(min_value=-5, max_value=300),
    ),
    st.builds(
        lambda url, token: {"id": 6, "type": "token", "token": token, "page_url": url},
        urls,
        st.text(max_size=10),
    ),
)
# Any JSON value, and values shaped like requests (known and unknown types, odd ids, cursors).
frames = json_values | request_like | plausible
