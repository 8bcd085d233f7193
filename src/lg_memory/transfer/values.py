"""Values in an export's form, `[type, base64]`, and read or written without being decoded.

A value (a channel value, a pending write, or a checkpoint field that is not plain JSON) is
kept as `JsonPlusSerializer.dumps_typed` makes it: type is "msgpack", "null", "bytes" or
"bytearray", and the bytes are base64.

Native reading. Backends whose tables hold `dumps_typed` output (SQLite: one msgpack document per
checkpoint; PostgreSQL: a blob per channel value) export without decoding: `unpack_raw` cuts a
document into its values and leaves every object (a msgpack extension) as its bytes. The records
are the same, byte for byte, as those made through the saver's `list()`, which the tests check.
A value the saver wrote in a form of its own (encrypted, say) is decoded by it and written
plainly, as through `list()`.
"""

from __future__ import annotations

import binascii
from typing import Any

import msgpack
import ormsgpack
from langgraph.checkpoint.serde import jsonplus
from langgraph.checkpoint.serde.base import SerializerProtocol

from ..settings import CheckpointError

Typed = list[str]  # [type, base64]

VALUE_KINDS = frozenset({"msgpack", "null", "bytes", "bytearray"})
MSGPACK_OPTIONS = ormsgpack.OPT_NON_STR_KEYS
PLAIN_SERDE = jsonplus.JsonPlusSerializer()


def plain_serde(serde: SerializerProtocol) -> bool:
    """Whether `serde` writes values as LangGraph's default serializer does."""
    return type(serde) is jsonplus.JsonPlusSerializer


def typed(kind: str, data: bytes) -> Typed:
    """A value in the export's form, from its serialised form."""
    return [kind, binascii.b2a_base64(data, newline=False).decode("ascii")]


def value_bytes(value: Typed) -> tuple[str, bytes]:
    """The serialised form of an export value (the inverse of `typed`)."""
    return value[0], binascii.a2b_base64(value[1])


def pack(serde: SerializerProtocol, value: Any, where: str) -> Typed:
    """`value` serialised by `serde` in the export's form; by the plain serializer when `serde`
    writes it in a form other than the four kinds (Redis' JSON, an encrypting serializer's
    ciphertext), so that one state gives the same export on every backend."""
    try:
        kind, data = serde.dumps_typed(value)
        if kind not in VALUE_KINDS:
            kind, data = PLAIN_SERDE.dumps_typed(value)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{where}: cannot serialise {type(value).__name__} ({exc})") from None
    return typed(kind, data)


def stored(serde: SerializerProtocol, kind: str, data: bytes, where: str) -> Typed:
    """A value as a saver stored it (`dumps_typed` output), in the export's form: kept as it
    is, unless `serde` wrote it in a form of its own (then it is decoded and written plainly)."""
    if kind in VALUE_KINDS:
        return typed(kind, data)
    return pack(PLAIN_SERDE, serde.loads_typed((kind, data)), where)


def unpack_raw(data: bytes) -> Any:
    """Decode msgpack, leaving every extension (an object of any class) as its raw bytes."""
    return ormsgpack.unpackb(data, ext_hook=ormsgpack.Ext, option=MSGPACK_OPTIONS)


def pack_raw(value: Any) -> bytes:
    """msgpack of a value decoded by `unpack_raw` (or `raw_value`): the bytes LangGraph's
    serializer writes for the object it stands for."""
    return ormsgpack.packb(value, option=MSGPACK_OPTIONS)


def raw_typed(value: Any) -> Typed:
    """A value decoded by `unpack_raw` (or read from JSON) in the export's form, exactly as
    `JsonPlusSerializer.dumps_typed` writes the object it stands for."""
    if value is None:
        return ["null", ""]
    if isinstance(value, bytes):
        return typed("bytes", value)
    return typed("msgpack", pack_raw(value))


def raw_value(value: Typed) -> Any:
    """An export value decoded as `unpack_raw` decodes: objects stay their msgpack bytes."""
    kind, data = value_bytes(value)
    if kind == "msgpack":
        return unpack_raw(data)
    return {"null": None, "bytes": data, "bytearray": bytearray(data)}[kind]


def one_object(data: bytes) -> bool:
    """Whether `data` is exactly one msgpack object: a decoder reads only the first, so a value
    holding more would lose the rest unseen (msgpack's C decoder refuses extra data)."""
    try:
        msgpack.unpackb(data, raw=True, use_list=False, strict_map_key=False)
    except Exception:  # ExtraData, cut short, malformed: not one whole object
        return False
    return True
