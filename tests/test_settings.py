"""settings.json: a usable file is applied, anything else is refused whole, saying where and why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flattr_host.settings import Settings, SettingsError, kind_of, load_settings


def load(tmp_path: Path, text: str) -> Settings:
    (tmp_path / "settings.json").write_text(text)
    return load_settings(tmp_path, {})


def refusal(tmp_path: Path, text: str) -> str:
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, text)
    assert (
        caught.value.command == f"mv {tmp_path / 'settings.json'} {tmp_path}/settings.json.broken"
    )
    assert str(caught.value).startswith(f"{tmp_path / 'settings.json'} is not usable: ")
    return caught.value.message


def test_every_field_has_a_known_kind() -> None:
    for name in Settings._fields:
        assert kind_of(name)[0]


def test_a_usable_file_is_applied_and_the_environment_wins(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text(
        json.dumps({"batch_size": 7, "backoff_base": 2, "thresholds": [3, 6], "ca_bundle": None})
    )
    settings = load_settings(tmp_path, {"FLATTR_API_BASE": "http://127.0.0.1:1"})
    assert settings.batch_size == 7 and settings.thresholds == (3, 6)
    assert settings.backoff_base == 2.0 and isinstance(settings.backoff_base, float)
    assert settings.api_base == "http://127.0.0.1:1"
    assert load_settings(tmp_path / "absent", {}) == Settings()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"batch_size": 20,}', "line 1, column 19: not valid JSON (Expecting property name"),
        ("[20]", 'must be a JSON object, such as {"batch_size": 20}'),
        (
            '{\n  "batch_sise": 20\n}',
            'line 2, column 3: unknown setting "batch_sise" (did you mean "batch_size"?)',
        ),
        ('{"colour": "red"}', 'line 1, column 2: unknown setting "colour"'),
        ('{"batch_size": "50"}', '"batch_size" must be a whole number, not "50"'),
        ('{"batch_size": 2.5}', '"batch_size" must be a whole number, not 2.5'),
        ('{"request_timeout": true}', '"request_timeout" must be a number, not true'),
        ('{"thresholds": [1, "2"]}', '"thresholds" must be a list of whole numbers, not [1, "2"]'),
        ('{"api_base": null}', '"api_base" must be a string, not null'),
        ('{"visit_flattrs": 1}', '"visit_flattrs" must be true or false, not 1'),
        ('{"backoff_max": -1}', '"backoff_max" must not be negative, not -1'),
        ('{"request_timeout": NaN}', '"request_timeout" must be a finite number, not NaN'),
        ('{"backoff_max": Infinity}', '"backoff_max" must be a finite number, not Infinity'),
        ('{"mode": "everything"}', '"mode" must be one of "all", "enabled", "metadata"'),
        ('{"synchronous": "OFF"}', '"synchronous" must be one of "NORMAL", "FULL", "EXTRA"'),
        ('{"day_start_hour": 24}', '"day_start_hour" must be an hour from 0 to 23, not 24'),
    ],
)
def test_a_mistake_refuses_the_whole_file_saying_where(
    tmp_path: Path, text: str, expected: str
) -> None:
    assert expected in refusal(tmp_path, text)


def test_every_mistake_is_listed_at_once(tmp_path: Path) -> None:
    message = refusal(tmp_path, '{"batch_size": 5, "mode": "x",\n "colour": 1}')
    assert 'line 1, column 19: "mode"' in message and "line 2, column 2: unknown" in message


def test_a_byte_order_mark_is_fine(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_bytes(b'\xef\xbb\xbf{"batch_size": 9}')
    assert load_settings(tmp_path, {}).batch_size == 9


def test_text_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_bytes(b'{"mode": "\xff"}')
    with pytest.raises(SettingsError, match="is not UTF-8 text"):
        load_settings(tmp_path, {})


def test_a_setting_earlier_versions_had_is_skipped_not_refused(tmp_path: Path) -> None:
    # Upgrading must not turn a working settings.json into a refused one.
    settings = load(tmp_path, '{"max_segment_seconds": 600, "batch_size": 4}')
    assert settings.batch_size == 4 and not hasattr(settings, "max_segment_seconds")
