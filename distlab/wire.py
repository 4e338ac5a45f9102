"""Protocol messages to plain data and back, safely: the bridge between cores and the RPC layer.

Protocol cores speak in frozen dataclasses (`RequestVote`, `AppendEntries`,
`Update`, ...). The RPC layer carries only plain data (msgpack: None, bool,
int, float, str, bytes, lists, maps). A `MessageCodec` converts between the two.

What it must never do: build an object of a type that was not registered.
Decoding reads a type *name* from the wire and looks it up in the codec's own
table; there is no import by name, no pickle, no eval — a hostile peer can at
worst produce a clear `WireError`.

Encoding: a registered dataclass becomes the map
``{"__msg__": "TypeName", "fields": [field values...]}`` (fields in declaration
order); lists and tuples become lists (decoded back as tuples, because message
fields are immutable); other maps keep their str or int keys and may not use the
key ``"__msg__"``, so a message can never be confused with plain data.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterable
from typing import Any

_PLAIN = (type(None), bool, int, float, str, bytes)
TAG = "__msg__"


class WireError(ValueError):
    """Bytes from a peer did not decode to a known message; the peer sent something wrong."""


class MessageCodec:
    """Encode and decode the dataclasses of one protocol (and nothing else)."""

    def __init__(self, classes: Iterable[type]) -> None:
        self._by_name: dict[str, type] = {}
        self._fields: dict[type, tuple[str, ...]] = {}
        # Fields typed as a scalar or as another message are checked on decode,
        # so a core never sees term="x" or a stamp that is not a Stamp.
        self._checked_types: dict[type, dict[str, type]] = {}
        for cls in classes:
            if not dataclasses.is_dataclass(cls):
                raise TypeError(f"{cls!r} is not a dataclass")
            if cls.__name__ in self._by_name:
                raise ValueError(f"two message types named {cls.__name__}")
            self._by_name[cls.__name__] = cls
            self._fields[cls] = tuple(field.name for field in dataclasses.fields(cls))
        for cls in self._fields:
            hints = typing.get_type_hints(cls)
            self._checked_types[cls] = {
                name: hint
                for name, hint in hints.items()
                if name in self._fields[cls]
                and (hint in (int, str, bytes, bool, float) or hint in self._fields)
            }

    def encode(self, value: Any) -> Any:
        """A registered dataclass (possibly nested in lists, tuples and maps) as plain data."""
        if isinstance(value, _PLAIN):
            return value
        cls = type(value)
        if cls in self._fields:
            fields = [self.encode(getattr(value, name)) for name in self._fields[cls]]
            return {TAG: cls.__name__, "fields": fields}
        if isinstance(value, (list, tuple)):
            return [self.encode(item) for item in value]
        if isinstance(value, dict):
            if TAG in value:
                raise TypeError(f"a plain map may not use the key {TAG!r}")
            return {self._key(key): self.encode(item) for key, item in value.items()}
        raise TypeError(f"cannot put {cls.__name__} on the wire; register it or send plain data")

    def decode(self, data: Any) -> Any:
        """Rebuild what `encode` produced; raises WireError on anything malformed."""
        if isinstance(data, _PLAIN):
            return data
        if isinstance(data, dict):
            if TAG in data:
                return self._build(data)
            return {self._key(key): self.decode(item) for key, item in data.items()}
        if isinstance(data, (list, tuple)):
            return tuple(self.decode(item) for item in data)
        raise WireError(f"unexpected {type(data).__name__} on the wire")

    def _build(self, data: dict) -> Any:
        cls = self._by_name.get(data[TAG]) if isinstance(data[TAG], str) else None
        if cls is None:
            raise WireError(f"unknown message type {data[TAG]!r}")
        values = data.get("fields")
        names = self._fields[cls]
        if set(data) != {TAG, "fields"} or not isinstance(values, (list, tuple)):
            raise WireError(f"malformed {cls.__name__}: expected {{{TAG!r}, 'fields'}}")
        if len(values) != len(names):
            raise WireError(f"{cls.__name__} needs {len(names)} fields, got {len(values)}")
        decoded = {name: self.decode(v) for name, v in zip(names, values, strict=True)}
        for name, expected in self._checked_types[cls].items():
            value = decoded[name]
            # bool is an int in Python; an int field must not accept True, nor a float an int.
            if type(value) is not expected and not (expected is float and type(value) is int):
                raise WireError(
                    f"{cls.__name__}.{name} must be {expected.__name__}, got {type(value).__name__}"
                )
        try:
            return cls(**decoded)
        except (TypeError, ValueError) as error:
            raise WireError(f"bad {cls.__name__}: {error}") from error

    @staticmethod
    def _key(key: Any) -> str | int:
        if not isinstance(key, (str, int)):
            raise WireError(f"map keys must be str or int, got {type(key).__name__}")
        return key
