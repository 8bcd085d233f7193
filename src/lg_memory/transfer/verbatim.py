"""Values moved through a saver's API without being decoded: the bytes the source stored.

For the length of an export or an import, `verbatim(saver)` puts a `Verbatim` serializer in
front of the saver's own:

- Writing, `dumps_typed` of a `Stored` value (what an import hands to `put` and `put_writes`)
  returns its bytes as they are; a document holding such values (a checkpoint that MongoDB or
  InMemorySaver serialises whole) is packed from their bytes, as `JsonPlusSerializer` packs
  the objects they stand for.
- Reading, `loads_typed` decodes msgpack without building any object: every object (a msgpack
  extension) stays as its bytes (`ormsgpack.Ext`), and `dumps_typed` writes it back unchanged.

So a value of a class that this process cannot import (the user's own module, say) moves
intact, and no class named in a value is rebuilt. Every other form (Redis' JSON, an encrypting
serializer's ciphertext) is left to the saver's serializer, which decodes it as usual.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import ormsgpack
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.serde.base import SerializerProtocol

from .values import PLAIN_SERDE, unpack_raw

_PLAIN_KINDS = ("null", "bytes", "bytearray")


@dataclass(frozen=True, slots=True)
class Stored:
    """A value as a saver stored it: `dumps_typed` output."""

    kind: str
    data: bytes


def raw(kind: str, data: bytes) -> Any:
    """A stored value decoded without building objects (see `values.unpack_raw`)."""
    if kind == "msgpack":
        return unpack_raw(data)
    return {"null": None, "bytes": data, "bytearray": bytearray(data)}[kind]


class Verbatim:
    """A serializer that passes stored values through (see the module's docstring)."""

    def __init__(self, inner: SerializerProtocol) -> None:
        self.inner = inner

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        if isinstance(obj, Stored):
            return obj.kind, obj.data
        expanded, found = _expand(obj)
        if found:  # packed as JsonPlusSerializer packs the objects the raw values stand for
            return PLAIN_SERDE.dumps_typed(expanded)
        return self.inner.dumps_typed(obj)

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        kind, payload = data
        if kind == "msgpack" or kind in _PLAIN_KINDS:
            return raw(kind, payload)
        return self.inner.loads_typed(data)

    def __getattr__(self, name: str) -> Any:  # the saver's own helpers (Redis' reviver)
        if name == "inner":  # not set yet (a copy being made)
            raise AttributeError(name)
        return getattr(self.inner, name)


def _expand(obj: Any) -> tuple[Any, bool]:
    """`obj` with every `Stored` value replaced by its raw form, and whether it held one (or
    an object read raw)."""
    if isinstance(obj, Stored):
        return raw(obj.kind, obj.data), True
    if isinstance(obj, ormsgpack.Ext):
        return obj, True
    if isinstance(obj, dict):
        found = False
        out: dict[Any, Any] = {}
        for key, value in obj.items():
            out[key], hit = _expand(value)
            found = found or hit
        return (out, True) if found else (obj, False)
    if isinstance(obj, list | tuple):
        items = [_expand(item) for item in obj]
        if any(hit for _, hit in items):
            values = [value for value, _ in items]
            return (values if isinstance(obj, list) else tuple(values)), True
    return obj, False


@contextmanager
def verbatim(saver: BaseCheckpointSaver[Any]) -> Iterator[None]:
    """The saver reads and writes stored values as they are, until the block ends."""
    current = saver.serde
    if isinstance(current, Verbatim):
        yield
        return
    own = "serde" in vars(saver)
    saver.serde = Verbatim(current)
    try:
        yield
    finally:
        if own:
            saver.serde = current
        else:
            del saver.serde


def inner_serde(saver: BaseCheckpointSaver[Any]) -> SerializerProtocol:
    """The saver's own serializer, under a `Verbatim` one if it has it."""
    serde = saver.serde
    return serde.inner if isinstance(serde, Verbatim) else serde
