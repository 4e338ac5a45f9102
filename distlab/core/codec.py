"""Protocol messages to plain data and back, safely: the one codec between cores and the wire.

Protocol cores speak in frozen dataclasses (`RequestVote`, `AppendEntries`, `Update`,
typed replies such as `Applied` or `NotLeader`). Sockets and disks carry only plain data
(msgpack: None, bool, int, float, str, bytes, lists, maps). A `MessageCodec` converts
between the two; every system in distlab builds one from the list of its message types,
so no module hand-rolls its own field layout.

What it must never do: build an object of a type that was not registered. Decoding reads a
type *name* from the wire and looks it up in the codec's own table; there is no import by
name, no pickle, no eval -- a hostile peer can at worst produce a clear `WireError`.

Encoding: a registered dataclass becomes the map
``{"__msg__": "TypeName", "fields": [field values...]}`` (fields in declaration order); a
field typed as a registered message, or as a tuple of them (``tuple[LogEntry, ...]``),
carries each such message as its bare field list, since the type is known;
lists and tuples become lists (decoded back as lists, except in a field typed as a
tuple, which gets its tuple back, so ``decode(encode(m)) == m``); other maps keep their
str or int keys and may not use the key ``"__msg__"``, so a message can never be
confused with plain data. Fields typed as a scalar (int, str, bytes, bool, float), as
another registered message, or as a tuple of them are type-checked on the way in, so a
core never sees ``term="x"``; ranges (a term is never negative, say) are the protocol's
to check. A field typed ``Any`` (a command, a
result) carries plain data as it is, neither searched for messages nor rebuilt.

Where it fits: below every system (Raft's transport, the KV stores' gossip and replies),
above msgpack. Every message crosses it, so encoding and decoding are compiled once per type
into a tuple of field names and checks.
"""

from __future__ import annotations

import dataclasses
import operator
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any

from distlab.core.errors import ProtocolError

_PLAIN = (type(None), bool, int, float, str, bytes)
_PLAIN_TYPES = frozenset(_PLAIN)
_SCALARS = (int, str, bytes, bool, float)
TAG = "__msg__"
_ANY, _SCALAR, _MESSAGE, _MESSAGES, _SHAPED = range(5)


class WireError(ProtocolError):
    """Bytes from a peer did not decode to a known message; the peer sent something wrong."""


class MessageCodec:
    """Encode and decode the dataclasses of one protocol (and nothing else)."""

    def __init__(self, classes: Iterable[type]) -> None:
        self._by_name: dict[str, type] = {}
        self._fields: dict[type, tuple[str, ...]] = {}
        for cls in classes:
            if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
                raise TypeError(f"{cls!r} is not a dataclass")
            if cls.__name__ in self._by_name:
                raise ValueError(f"two message types named {cls.__name__}")
            self._by_name[cls.__name__] = cls
            self._fields[cls] = tuple(field.name for field in dataclasses.fields(cls))
        # Per type, in declaration order: (field name, kind, detail). Kinds: _ANY (plain data,
        # carried as it is: msgpack itself refuses anything else), _SCALAR (checked to be
        # exactly that type), _MESSAGE (a registered message, sent untagged: the schema names
        # its type), _MESSAGES (a tuple of them), _SHAPED (any other typed shape -- `int |
        # None`, `tuple[tuple[str, int], ...]`, `Literal[...]`, `dict[str, int]` -- checked
        # by a compiled checker). Compiled once: every message crosses here.
        self._schema: dict[type, tuple[tuple[str, int, Any], ...]] = {}
        for cls, names in self._fields.items():
            hints = typing.get_type_hints(cls)
            schema = []
            for name in names:
                hint = hints.get(name)
                args = typing.get_args(hint)
                if hint in _SCALARS:
                    schema.append((name, _SCALAR, hint))
                elif hint in self._fields:
                    schema.append((name, _MESSAGE, hint))
                elif (
                    typing.get_origin(hint) is tuple
                    and len(args) == 2
                    and args[1] is Ellipsis
                    and args[0] in self._fields
                ):
                    schema.append((name, _MESSAGES, args[0]))
                else:
                    checker = self._checker(hint, f"{cls.__name__}.{name}")
                    schema.append(
                        (name, _ANY, None) if checker is None else (name, _SHAPED, checker)
                    )
            self._schema[cls] = tuple(schema)
        # Types whose fields are all scalars or plain data (a LogEntry, a Stamp) are built by
        # a shorter path: a Raft batch holds hundreds of entries.
        self._flat: dict[type, tuple[tuple[int, type], ...]] = {
            cls: tuple((i, of) for i, (_, kind, of) in enumerate(schema) if kind == _SCALAR)
            for cls, schema in self._schema.items()
            if all(kind in (_ANY, _SCALAR) for _, kind, _ in schema)
        }
        self._getters = {
            cls: operator.attrgetter(*self._fields[cls])
            for cls in self._flat
            if len(self._fields[cls]) > 1
        }

    @property
    def types(self) -> tuple[type, ...]:
        """The registered message types."""
        return tuple(self._fields)

    def field_names(self, cls: type) -> tuple[str, ...]:
        """The field names of a registered type, in declaration order."""
        return self._fields[cls]

    # -- encoding --------------------------------------------------------------------------

    def encode(self, value: Any) -> Any:
        """A registered dataclass (possibly nested in lists, tuples and maps) as plain data."""
        cls = type(value)
        if cls in _PLAIN_TYPES:
            return value
        if cls in self._schema:
            return {TAG: cls.__name__, "fields": self._field_values(value, cls)}
        if isinstance(value, (list, tuple)):
            return [item if type(item) in _PLAIN_TYPES else self.encode(item) for item in value]
        if isinstance(value, dict):
            if TAG in value:
                raise TypeError(f"a plain map may not use the key {TAG!r}")
            return {self._key(key): self.encode(item) for key, item in value.items()}
        if isinstance(value, _PLAIN):  # a subclass of a plain type (an IntEnum, a str Enum)
            return value
        raise TypeError(f"cannot put {cls.__name__} on the wire; register it or send plain data")

    def _field_values(self, value: Any, cls: type) -> list[Any]:
        getter = self._getters.get(cls)
        if getter is not None:  # scalars and plain data only: msgpack takes them as they are
            return list(getter(value))
        values = []
        for name, kind, of in self._schema[cls]:
            item = getattr(value, name)
            if kind == _MESSAGE and type(item) is of:
                item = self._field_values(item, of)
            elif kind == _MESSAGES and type(item) in (list, tuple):
                getter = self._getters.get(of)
                if getter is not None:
                    # A batch of flat messages (a Raft AppendEntries' log entries): one
                    # attrgetter call per message, no per-field loop.
                    # (A tuple per message: msgpack writes tuples as arrays, like lists.)
                    item = [getter(x) if type(x) is of else self.encode(x) for x in item]
                else:
                    item = [
                        self._field_values(x, of) if type(x) is of else self.encode(x) for x in item
                    ]
            elif kind != _ANY and type(item) not in _PLAIN_TYPES:
                item = self.encode(item)  # scalars' subclasses, shaped values (tagged)
            values.append(item)
        return values

    # -- decoding --------------------------------------------------------------------------

    def decode(self, data: Any) -> Any:
        """Rebuild what `encode` produced; raises WireError on anything malformed."""
        kind = type(data)
        if kind in _PLAIN_TYPES:
            return data
        if kind is dict:
            if TAG in data:
                return self._build_tagged(data)
            return {self._key(key): self.decode(item) for key, item in data.items()}
        if kind is list or kind is tuple:
            return [item if type(item) in _PLAIN_TYPES else self.decode(item) for item in data]
        if isinstance(data, (bytearray, memoryview)):
            return bytes(data)
        raise WireError(f"unexpected {kind.__name__} on the wire")

    def _build_tagged(self, data: dict) -> Any:
        name = data[TAG]
        cls = self._by_name.get(name) if type(name) is str else None
        if cls is None:
            raise WireError(f"unknown message type {name!r}")
        values = data.get("fields")
        if len(data) != 2 or type(values) not in (list, tuple):
            raise WireError(f"malformed {cls.__name__}: expected {{{TAG!r}, 'fields'}}")
        return self._build(cls, values)

    def _build(self, cls: type, values: Any) -> Any:
        schema = self._schema[cls]
        if type(values) is not list and type(values) is not tuple:
            raise WireError(f"{cls.__name__} must be a list of its fields, got {values!r:.40}")
        if len(values) != len(schema):
            raise WireError(f"{cls.__name__} needs {len(schema)} fields, got {len(values)}")
        flat = self._flat.get(cls)
        if flat is not None:
            for i, of in flat:
                if type(values[i]) is not of:
                    break  # the general path below converts or explains
            else:
                try:
                    return cls(*values)
                except (TypeError, ValueError) as error:
                    raise WireError(f"bad {cls.__name__}: {error}") from error
        args = []
        for (field_name, kind, of), raw in zip(schema, values, strict=True):
            if kind == _ANY:
                value = raw
            elif kind == _SCALAR:
                value = bytes(raw) if of is bytes and type(raw) is bytearray else raw
                # bool is an int in Python; an int field must not accept True, nor a float
                # an int.
                if type(value) is not of and not (of is float and type(value) is int):
                    raise WireError(
                        f"{cls.__name__}.{field_name} must be {of.__name__}, "
                        f"got {type(value).__name__}"
                    )
            elif kind == _MESSAGE:
                value = self._nested(cls, field_name, of, raw)
            elif kind == _SHAPED:
                value = of(raw if type(raw) in _PLAIN_TYPES else self.decode(raw))
            else:  # _MESSAGES
                if type(raw) is not list and type(raw) is not tuple:
                    raise WireError(f"{cls.__name__}.{field_name} must be a list")
                value = self._build_many(cls, field_name, of, raw)
            args.append(value)
        try:
            return cls(*args)
        except (TypeError, ValueError) as error:
            raise WireError(f"bad {cls.__name__}: {error}") from error

    def _build_many(self, outer: type, field_name: str, cls: type, raws: Any) -> tuple:
        """A tuple of ``cls`` messages from their field lists. Flat types (a log entry) are
        checked in one loop and built directly: a Raft batch holds hundreds of them."""
        flat = self._flat.get(cls)
        if flat is not None:
            size = len(self._schema[cls])
            built = []
            for raw in raws:
                if (type(raw) is list or type(raw) is tuple) and len(raw) == size:
                    for i, of in flat:
                        if type(raw[i]) is not of:
                            break
                    else:
                        built.append(cls(*raw))
                        continue
                built.append(self._nested(outer, field_name, cls, raw))  # converts or explains
            return tuple(built)
        return tuple(self._nested(outer, field_name, cls, raw) for raw in raws)

    def _nested(self, outer: type, field_name: str, cls: type, raw: Any) -> Any:
        if type(raw) is not list and type(raw) is not tuple:
            raise WireError(
                f"{outer.__name__}.{field_name} must hold {cls.__name__}s "
                f"(as field lists), got {type(raw).__name__}"
            )
        return self._build(cls, raw)

    def _checker(self, hint: Any, where: str) -> Callable[[Any], Any] | None:
        """A function that checks (and, for tuples, converts) a decoded value against
        ``hint``; None for a hint it cannot check (``Any``: carried as it is)."""
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if hint in _SCALARS:

            def scalar(value: Any) -> Any:
                if type(value) is hint or (hint is float and type(value) is int):
                    return value
                raise WireError(f"{where} must be {hint.__name__}, got {type(value).__name__}")

            return scalar
        if hint is type(None):

            def none(value: Any) -> Any:
                if value is None:
                    return None
                raise WireError(f"{where} must be None, got {type(value).__name__}")

            return none
        if hint in self._fields:

            def message(value: Any) -> Any:
                if type(value) is hint:
                    return value
                raise WireError(f"{where} must be {hint.__name__}, got {type(value).__name__}")

            return message
        if origin in (typing.Union, types.UnionType):
            if all(arg in _SCALARS or arg is type(None) for arg in args):
                # `int | None` and the like: one set lookup, no exceptions on the common path.
                allowed = frozenset(args)
                names = " | ".join("None" if arg is type(None) else arg.__name__ for arg in args)

                def scalars(value: Any) -> Any:
                    if type(value) in allowed or (float in allowed and type(value) is int):
                        return value
                    raise WireError(f"{where} must be {names}, got {type(value).__name__}")

                return scalars
            options = [self._checker(arg, where) for arg in args]
            if any(option is None for option in options):
                return None  # a union with Any (or an unknown type) in it: carried as it is

            def union(value: Any) -> Any:
                for option in options:
                    try:
                        return option(value)  # type: ignore[misc]
                    except WireError:
                        continue
                raise WireError(f"{where} has a value of the wrong type: {value!r:.60}")

            return union
        if origin is typing.Literal:
            allowed = frozenset(args)

            def literal(value: Any) -> Any:
                if type(value) in _PLAIN_TYPES and value in allowed:
                    return value
                raise WireError(f"{where} must be one of {sorted(map(repr, allowed))}")

            return literal
        if origin in (tuple, list):
            variadic = origin is list or (len(args) == 2 and args[1] is Ellipsis)
            item_hints = args[:1] if variadic else args
            items = [self._checker(arg, f"{where}[]") for arg in item_hints] or [None]
            build = tuple if origin is tuple else list

            def sequence(value: Any) -> Any:
                if type(value) not in (list, tuple):
                    raise WireError(f"{where} must be a list, got {type(value).__name__}")
                if not variadic and args and len(value) != len(args):
                    raise WireError(f"{where} must have {len(args)} items, got {len(value)}")
                checks = items * len(value) if variadic else items
                return build(
                    item if check is None else check(item)
                    for check, item in zip(checks, value, strict=False)
                )

            return sequence
        if origin is dict and len(args) == 2:
            key_check, value_check = (self._checker(arg, f"{where}{{}}") for arg in args)

            def mapping(value: Any) -> Any:
                if type(value) is not dict:
                    raise WireError(f"{where} must be a map, got {type(value).__name__}")
                return {
                    (k if key_check is None else key_check(k)): (
                        v if value_check is None else value_check(v)
                    )
                    for k, v in value.items()
                }

            return mapping
        return None

    @staticmethod
    def _key(key: Any) -> str | int:
        if type(key) is not str and type(key) is not int:
            raise WireError(f"map keys must be str or int, got {type(key).__name__}")
        return key
