"""``_namedtuple.NamedTuple`` behaves as ``typing.NamedTuple`` does for the settings' class."""

from __future__ import annotations

import typing

import pytest

from flattr_host._namedtuple import NamedTuple


class Light(NamedTuple):
    size: int
    name: str = "x"
    tags: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.name}:{self.size}"


class Typed(typing.NamedTuple):
    size: int
    name: str = "x"
    tags: tuple[str, ...] = ()


def test_fields_defaults_and_methods_match_typing() -> None:
    assert Light._fields == Typed._fields
    assert Light._field_defaults == Typed._field_defaults
    assert Light(1) == Typed(1) == (1, "x", ())
    assert Light(2, name="y")._replace(size=3).label == "y:3"
    assert Light(1)._asdict() == Typed(1)._asdict()
    assert repr(Light(1)) == "Light(size=1, name='x', tags=())"
    assert Light.__module__ == __name__ and list(Light.__annotations__) == list(Typed._fields)


def test_what_typing_refuses_is_refused() -> None:
    with pytest.raises(TypeError):

        class _Bad(NamedTuple):
            a: int = 1
            b: int

    with pytest.raises(AttributeError):

        class _Worse(NamedTuple):
            a: int

            def _replace(self) -> None: ...
