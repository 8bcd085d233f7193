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


def msgpack_end(data: bytes) -> int:
    """Where the first msgpack object of `data` ends (a decoder reads no further, so a value
    holding more than one object would lose the rest unseen); ValueError if it is cut short."""
    pos, pending = 0, 1  # objects still to read
    while pending:
        pending -= 1
        head = data[pos]
        pos += 1
        if head <= 0x7F or head >= 0xE0 or head in (0xC0, 0xC2, 0xC3):  # fixint, nil, bool
            continue
        if 0x80 <= head <= 0x8F:  # fixmap
            pending += 2 * (head & 0x0F)
        elif 0x90 <= head <= 0x9F:  # fixarray
            pending += head & 0x0F
        elif 0xA0 <= head <= 0xBF:  # fixstr
            pos += head & 0x1F
        elif head in _SIZED:  # str, bin, ext: a length, then (ext) a type byte, then bytes
            width, extra = _SIZED[head]
            pos += width + extra + int.from_bytes(data[pos : pos + width], "big")
        elif head in _FIXED:  # numbers, fixext
            pos += _FIXED[head]
        elif head in _CONTAINERS:  # array16/32, map16/32
            width, per_item = _CONTAINERS[head]
            pending += per_item * int.from_bytes(data[pos : pos + width], "big")
            pos += width
        else:
            raise ValueError(f"invalid msgpack byte {head:#x}")
        if pos > len(data):
            raise ValueError("msgpack value cut short")
    return pos


_SIZED = {
    0xD9: (1, 0), 0xDA: (2, 0), 0xDB: (4, 0),  # str8/16/32
    0xC4: (1, 0), 0xC5: (2, 0), 0xC6: (4, 0),  # bin8/16/32
    0xC7: (1, 1), 0xC8: (2, 1), 0xC9: (4, 1),  # ext8/16/32
}  # fmt: skip
_FIXED = {
    0xCA: 4, 0xCB: 8, 0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8, 0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8,
    0xD4: 2, 0xD5: 3, 0xD6: 5, 0xD7: 9, 0xD8: 17,  # fixext 1/2/4/8/16: type byte + data
}  # fmt: skip
_CONTAINERS = {0xDC: (2, 1), 0xDD: (4, 1), 0xDE: (2, 2), 0xDF: (4, 2)}
