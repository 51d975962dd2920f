"""``typing.NamedTuple``'s class syntax on ``collections.namedtuple`` alone, for ``settings``.

``typing`` is the slowest import left before ``hello`` (it pulls in ``re`` and checks every field's
annotation); type checkers still see ``typing.NamedTuple`` (settings.py imports it for them).
Annotations stay strings, as ``from __future__ import annotations`` leaves them.
"""

from __future__ import annotations

import collections

# What typing.NamedTuple refuses in the class body (it would break the tuple).
_PROHIBITED = frozenset(
    {"__new__", "__init__", "__slots__", "__getnewargs__", "_fields", "_field_defaults"}
    | {"_make", "_replace", "_asdict", "_source"}
)
_SPECIAL = frozenset({"__module__", "__qualname__", "__annotations__"})


class _Meta(type):
    def __new__(mcs, name: str, bases: tuple[type, ...], ns: dict[str, object]) -> type:
        if not bases:  # the NamedTuple base itself
            return super().__new__(mcs, name, bases, ns)
        annotations = dict(ns.get("__annotations__", {}))  # type: ignore[call-overload]
        fields = list(annotations)
        defaults = [ns[f] for f in fields if f in ns]
        if [f for f in fields if f in ns] != fields[len(fields) - len(defaults) :]:
            raise TypeError(f"{name}: fields without a default must come first")
        module = str(ns["__module__"])
        cls = collections.namedtuple(name, fields, defaults=defaults, module=module)  # type: ignore[misc]
        for key, value in ns.items():
            if key in _PROHIBITED:
                raise AttributeError(f"cannot overwrite NamedTuple attribute {key}")
            if key not in _SPECIAL and key not in fields:
                setattr(cls, key, value)
        cls.__annotations__ = annotations
        cls.__qualname__ = str(ns.get("__qualname__", name))
        return cls


class NamedTuple(metaclass=_Meta):
    """Subclass it as ``typing.NamedTuple``: annotated fields, defaults last, methods."""
