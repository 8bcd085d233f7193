"""Export and import of checkpoints: the engine behind `lg-memory export`, `import` and `migrate`.

Export format
-------------

An export is a JSON Lines file: UTF-8, one JSON object per line, each line ended by "\\n",
object keys sorted, no spaces. It is written as a stream, one checkpoint at a time, so memory
does not grow with the store.

Line 1, the header::

    {"format": "lg-memory-export", "version": 1, "created_at": "2026-01-15T10:30:00+00:00",
     "source": {"type": "postgres", "namespace": "default"}, "thread_id": null}

`source` is whatever the exporting command recorded; `thread_id` is the thread the export was
limited to, or null for the whole store.

Then one line per checkpoint, ordered by (thread_id, checkpoint_ns, checkpoint_id) ascending, so
that a parent comes before its children and an import replays each thread oldest to newest::

    {"thread_id": "t1", "checkpoint_ns": "", "checkpoint_id": "1f0...",
     "parent_checkpoint_id": "1ef..." | null,
     "checkpoint": {"v": 4, "id": "1f0...", "ts": "...",
                    "channel_values": {"messages": ["msgpack", "<base64>"], ...},
                    "channel_versions": {"messages": "0000...0004.0.816...", ...},
                    "versions_seen": {"agent": {"messages": "0000...0003.0.07..."}, ...},
                    "updated_channels": ["messages"]},
     "metadata": {"source": "loop", "step": 2, "parents": {}},
     "writes": [["<task_id>", "<channel>", ["msgpack", "<base64>"], "<task_path>"], ...]}

- `checkpoint_ns` is "" for the root graph and "node:<task_id>" (joined by "|") for subgraphs.
- Every value (a channel value, a pending write, or any other checkpoint field that is not plain
  JSON, such as the `pending_sends` of old checkpoints) is stored in its serialised form
  `[type, base64(bytes)]`, as `JsonPlusSerializer.dumps_typed` makes it: type is "msgpack",
  "null", "bytes" or "bytearray". Nothing is lost, whatever Python objects the state holds.
- `channel_versions` and `versions_seen` are kept as the source saver wrote them: strings
  ("<32-digit counter>.<random fraction>"), or integers from a plain MongoDBSaver.
- `metadata` is the checkpoint metadata as JSON.
- `writes` are the checkpoint's pending writes, sorted by task id, then special writes (errors,
  interrupts, resume values) first, then by channel; writes of a task to one channel keep their
  order. `task_path` is "" when the source saver does not report it.

Last line, the trailer::

    {"end": true, "checkpoints": 156, "writes": 412, "sha256": "<hex>"}

`sha256` is the digest of every line before the trailer, header included, each line's bytes
followed by "\\n" (so a file whose line ends were turned into "\\r\\n" still verifies). Exporting
the same store twice gives the same bytes except `created_at`.

Import
------

An import reads the whole file first and writes nothing unless all of it is sound: header format
and version, every line well formed, checkpoint order, counts and checksum against the trailer,
nothing after the trailer, and every type named in every value trusted (below). Then it replays
each checkpoint oldest to newest through the target saver's public API (`put`, then `put_writes`
for each task), keeping every id. Savers upsert by id, so importing a file twice leaves the same
store as importing it once.

An import checks every value before it writes anything. It walks each msgpack value without
building objects and refuses a value naming any type outside: LangGraph's built-in safe list
(datetime, UUID, sets, LangChain messages, Send, Interrupt, ...), classes defined in this project's
package and in `langchain_core.messages`, and the modules the caller allows in addition. A name in
those modules must resolve to a class defined there (not a function, and not a class it merely
imported). Pickle is refused. Otherwise the application's serializer (permissive by default)
would rebuild whatever class a crafted file names the next time the thread is loaded.

Then the values are written. Through the saver's API, they are decoded by a `JsonPlusSerializer`
in strict mode whose allowlist holds exactly the checked classes, and the saver serialises them
again: for these types decoding and encoding again gives the same bytes, which the round-trip
tests check. A backend that stores one serialised value per channel (PostgreSQL) has a bulk
loader instead, which writes the checked bytes as they are, in the rows `put` would write.

Native reading. Backends whose tables hold `dumps_typed` output (SQLite: one msgpack document per
checkpoint; PostgreSQL: a blob per channel value) export without decoding: `unpack_raw` cuts a
document into its values and leaves every object (a msgpack extension) as its bytes. The records
are the same, byte for byte, as those made through the saver's `list()`, which the tests check.
A value the saver wrote in a form of its own (encrypted, say) is decoded by it and written
plainly, as through `list()`.

Channel versions. LangGraph's savers number versions with strings, except MongoDBSaver, which
like LangGraph's base class uses integers (this project's MongoDB backend subclasses it to write
strings, so its exports match the others'). LangGraph compares versions of one checkpoint with
each other, so they must all have the kind the target saver produces. When the kinds differ (a
file from a plain MongoDBSaver, or a target that counts with integers), an import converts them:
a string to its integer counter; an integer `n` to "<n>.<fraction>", where the fraction of a
channel version is derived from the value (integer versions repeat across forks of a thread, and
Postgres stores one blob per version) and the fraction of a version a node has seen is "9", above
any fraction of the same counter.

The generic enumeration, `iter_store`, lists one thread at a time through `saver.list`; it holds
one thread's checkpoints in memory, and a saver's own listing limits apply (Redis returns at most
10,000 checkpoints per call and ignores `before`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import importlib
import inspect
import io
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import IO, Any, BinaryIO, TextIO, cast

import orjson
import ormsgpack
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointTuple,
)
from langgraph.checkpoint.serde import jsonplus

# LangGraph's own allowlists (the ones strict mode applies); the module is private, the lists are
# what LANGGRAPH_STRICT_MSGPACK documents.
from langgraph.checkpoint.serde._msgpack import SAFE_MSGPACK_METHODS, SAFE_MSGPACK_TYPES
from langgraph.checkpoint.serde.base import SerializerProtocol

from .settings import CheckpointError

__all__ = [
    "FORMAT",
    "VERSION",
    "Header",
    "Summary",
    "export_checkpoints",
    "export_records",
    "import_checkpoints",
    "iter_store",
    "read_export",
]

FORMAT = "lg-memory-export"
VERSION = 1

# Modules whose classes an import may rebuild, besides LangGraph's safe list (and the
# project's own package, which the caller adds).
TRUSTED_MODULES = ("langchain_core.messages",)

# Checkpoint fields that are plain JSON; every other field holds Python objects.
JSON_FIELDS = frozenset({"v", "id", "ts", "channel_versions", "versions_seen", "updated_channels"})
_NOT_EXTRA = JSON_FIELDS | {"channel_values"}
# Fields a saver adds for its own bookkeeping (Redis: the serialisation type of the document).
_STORAGE_FIELDS = frozenset({"type"})
_VALUE_KINDS = frozenset({"msgpack", "null", "bytes", "bytearray"})
_CONSTRUCTORS = frozenset(
    {
        jsonplus.EXT_CONSTRUCTOR_SINGLE_ARG,
        jsonplus.EXT_CONSTRUCTOR_POS_ARGS,
        jsonplus.EXT_CONSTRUCTOR_KW_ARGS,
        jsonplus.EXT_PYDANTIC_V1,
        jsonplus.EXT_PYDANTIC_V2,
    }
)
_PLAIN_EXTENSIONS = frozenset({jsonplus.EXT_NUMPY_ARRAY, jsonplus.EXT_DELTA_SNAPSHOT})
_MSGPACK_OPTIONS = ormsgpack.OPT_NON_STR_KEYS
_PLAIN_SERDE = jsonplus.JsonPlusSerializer()
# orjson writes dates and dataclasses as strings and dicts; metadata holding them is not JSON.
_ORJSON_OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)

Json = dict[str, Any]
Typed = list[str]  # [type, base64]
Key = tuple[str, str, str]  # (thread_id, checkpoint_ns, checkpoint_id)


@dataclass
class Summary:
    threads: int
    checkpoints: int
    writes: int
    seconds: float


@dataclass(frozen=True)
class Header:
    """What a verified export holds: its header, and the counts from its trailer."""

    version: int
    created_at: str
    source: dict[str, Any]
    thread_id: str | None
    checkpoints: int
    writes: int


# -- export ---------------------------------------------------------------------------------


def export_checkpoints(
    tuples: Iterable[CheckpointTuple],
    out: TextIO | BinaryIO,
    *,
    serde: SerializerProtocol | None = None,
    source: dict[str, Any],
    thread_id: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Summary:
    """Write `tuples` (in export order, see `iter_store`) to `out` as an export file.

    `serde` serialises the values; by default a plain `JsonPlusSerializer`. A value it writes in
    a form other than msgpack, null, bytes or bytearray (Redis' serializer writes JSON, an
    encrypting one its ciphertext) is written by the plain serializer instead, so that one state
    gives the same export on every backend.
    `out` may be a binary or a text stream.
    """
    serde = serde or _PLAIN_SERDE
    return export_records(
        (record(tup, serde) for tup in tuples),
        out,
        source=source,
        thread_id=thread_id,
        progress=progress,
    )


def plain_serde(serde: SerializerProtocol) -> bool:
    """Whether `serde` writes values as LangGraph's default serializer does."""
    return type(serde) is jsonplus.JsonPlusSerializer


def export_records(
    records: Iterable[Json],
    out: TextIO | BinaryIO,
    *,
    source: dict[str, Any],
    thread_id: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Summary:
    """Write checkpoint records (in export order) to `out` as an export file."""
    started = time.monotonic()
    writer = _LineWriter(out)
    writer.write(
        {
            "format": FORMAT,
            "version": VERSION,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "source": source,
            "thread_id": thread_id,
        }
    )
    tally = _Tally()
    for rec in records:
        if thread_id is not None and rec["thread_id"] != thread_id:
            raise CheckpointError(f"export of thread {thread_id!r} got thread {rec['thread_id']!r}")
        tally.add(rec)
        writer.write(rec)
        if progress:
            progress(tally.checkpoints)
    writer.write(
        {
            "end": True,
            "checkpoints": tally.checkpoints,
            "writes": tally.writes,
            "sha256": writer.sha256,
        },
        digest=False,
    )
    return tally.summary(started)


def iter_store(
    saver: BaseCheckpointSaver[Any], thread_id: str | None = None
) -> Iterator[CheckpointTuple]:
    """Every checkpoint of the store (or of one thread) in export order, pending writes included.

    Generic: it works on any saver through `list()`. It holds one thread in memory at a time,
    and finds the threads with one pass over `list(None)`. Prefer a backend's native listing for
    large stores; Redis' `list()` returns at most 10,000 checkpoints.
    """
    thread_ids = [thread_id] if thread_id is not None else _thread_ids(saver)
    for tid in thread_ids:
        yield from sorted(saver.list({"configurable": {"thread_id": tid}}), key=_tuple_key)


def _thread_ids(saver: BaseCheckpointSaver[Any]) -> list[str]:
    return sorted({tup.config["configurable"]["thread_id"] for tup in saver.list(None)})


def _tuple_key(tup: CheckpointTuple) -> Key:
    conf = tup.config["configurable"]
    return conf["thread_id"], conf.get("checkpoint_ns", ""), conf["checkpoint_id"]


class _LineWriter:
    """Writes canonical JSON lines to a text or binary stream and hashes them."""

    def __init__(self, out: TextIO | BinaryIO) -> None:
        self._emit: Callable[[bytes], object]
        if isinstance(out, io.BufferedIOBase | io.RawIOBase):
            self._emit = cast(BinaryIO, out).write
        else:
            self._emit = lambda line: cast(TextIO, out).write(line.decode("utf-8"))
        self._digest = hashlib.sha256()

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def write(self, obj: Json, *, digest: bool = True) -> None:
        line = dumps(obj) + b"\n"
        if digest:
            self._digest.update(line)
        self._emit(line)


def dumps(obj: Json) -> bytes:
    """An export line's canonical JSON: keys sorted, no spaces, UTF-8."""
    try:
        return orjson.dumps(obj, option=_ORJSON_OPTIONS)
    except TypeError:  # the stdlib writes integers beyond 64 bits, and refuses what isn't JSON
        try:
            text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError) as exc:  # only metadata can hold non-JSON values
            where = f"checkpoint {obj.get('checkpoint_id')} of thread {obj.get('thread_id')!r}"
            raise CheckpointError(f"{where}: metadata is not JSON ({exc})") from None
        return text.encode("utf-8")


def record(tup: CheckpointTuple, serde: SerializerProtocol) -> Json:
    """The export record of a checkpoint read through a saver (values serialised by `serde`)."""
    thread_id, checkpoint_ns, checkpoint_id = _tuple_key(tup)
    parent = tup.parent_config["configurable"].get("checkpoint_id") if tup.parent_config else None
    where = f"checkpoint {checkpoint_id} of thread {thread_id!r}"
    checkpoint = tup.checkpoint
    values = {
        ch: _pack(serde, v, f"{where}, channel {ch!r}")
        for ch, v in checkpoint["channel_values"].items()
    }
    writes = [
        (w[0], w[1], _pack(serde, w[2], f"{where}, write to {w[1]!r}"), w[3] if len(w) > 3 else "")
        for w in tup.pending_writes or []
    ]
    return make_record(
        (thread_id, checkpoint_ns, checkpoint_id),
        parent,
        checkpoint,
        values,
        lambda key, value: _pack(serde, value, f"{where}, field {key!r}"),
        dict(tup.metadata),
        writes,
    )


def make_record(
    key: Key,
    parent: str | None,
    checkpoint: Mapping[str, Any],
    values: dict[str, Typed],
    pack: Callable[[str, Any], Typed],
    metadata: Json,
    writes: Iterable[tuple[str, str, Typed, str]],
) -> Json:
    """An export record. `values` are the channel values, already typed; `pack` types the
    checkpoint's other non-JSON fields; `writes` are (task_id, channel, typed value, task_path)
    in the order the saver returns them."""
    dumped: Json = {"channel_values": values}
    for field_, value in checkpoint.items():
        if field_ == "channel_values" or field_ in _STORAGE_FIELDS:
            continue
        if field_ in JSON_FIELDS:
            dumped[field_] = value
        elif field_ != "pending_sends" or value:
            dumped[field_] = pack(field_, value)
    return {
        "thread_id": key[0],
        "checkpoint_ns": key[1],
        "checkpoint_id": key[2],
        "parent_checkpoint_id": parent,
        "checkpoint": dumped,
        "metadata": metadata,
        "writes": _sorted_writes(writes),
    }


def _sorted_writes(writes: Iterable[tuple[str, str, Typed, str]]) -> list[Any]:
    """Pending writes in a canonical order: by task, special writes first, then by channel.

    Savers differ in the order they return writes in (Redis: none). LangGraph applies a task's
    writes channel by channel, so only the order of writes to one channel matters: the sort is
    stable and keeps it as the saver returned it.
    """
    rows: list[list[Any]] = [list(w) for w in writes]
    rows.sort(key=lambda w: (w[0], WRITES_IDX_MAP.get(w[1], 0), w[1]))
    return rows


def _pack(serde: SerializerProtocol, value: Any, where: str) -> Typed:
    try:
        kind, data = serde.dumps_typed(value)
        if kind not in _VALUE_KINDS:
            kind, data = _PLAIN_SERDE.dumps_typed(value)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{where}: cannot serialise {type(value).__name__} ({exc})") from None
    return typed(kind, data)


# -- values without decoding them: for backends that read and write the stored bytes ----------


def typed(kind: str, data: bytes) -> Typed:
    """A value in the export's form, from its serialised form."""
    return [kind, binascii.b2a_base64(data, newline=False).decode("ascii")]


def stored(serde: SerializerProtocol, kind: str, data: bytes, where: str) -> Typed:
    """A value as a saver stored it (`dumps_typed` output), in the export's form: kept as it
    is, unless `serde` wrote it in a form of its own (then it is decoded and written plainly)."""
    if kind in _VALUE_KINDS:
        return typed(kind, data)
    return _pack(_PLAIN_SERDE, serde.loads_typed((kind, data)), where)


def unpack_raw(data: bytes) -> Any:
    """Decode msgpack, leaving every extension (an object of any class) as its raw bytes."""
    return ormsgpack.unpackb(data, ext_hook=ormsgpack.Ext, option=_MSGPACK_OPTIONS)


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


def pack_raw(value: Any) -> bytes:
    """msgpack of a value decoded by `unpack_raw` (or `raw_value`): the bytes LangGraph's
    serializer writes for the object it stands for."""
    return ormsgpack.packb(value, option=_MSGPACK_OPTIONS)


def value_bytes(value: Typed) -> tuple[str, bytes]:
    """The serialised form of an export value (the inverse of `typed`)."""
    return value[0], binascii.a2b_base64(value[1])


# msgpack's first byte of a nil, bool, int, float or str: the values savers keep as plain JSON.
_PRIMITIVE_HEADS = frozenset(
    [*range(0x00, 0x80), *range(0xA0, 0xC1), 0xC2, 0xC3, *range(0xCA, 0xD4), *range(0xD9, 0xDC),
     *range(0xE0, 0x100)]
)  # fmt: skip
_EXT_CODE_AT = {0xD4: 1, 0xD5: 1, 0xD6: 1, 0xD7: 1, 0xD8: 1, 0xC7: 2, 0xC8: 3, 0xC9: 5}


def primitive(kind: str, data: bytes) -> tuple[bool, Any]:
    """(True, value) when the value is None, a bool, an int, a float or a str."""
    if kind == "null":
        return True, None
    if kind == "msgpack" and data and data[0] in _PRIMITIVE_HEADS:
        return True, ormsgpack.unpackb(data)
    return False, None


def extension_code(kind: str, data: bytes) -> int | None:
    """The msgpack extension code of a value that is one object of some class, or None."""
    at = _EXT_CODE_AT.get(data[0]) if kind == "msgpack" and data else None
    return None if at is None else int.from_bytes(data[at : at + 1], "big", signed=True)


@dataclass
class _Tally:
    """Counts records as they stream by (threads arrive grouped, so a change is a new thread)."""

    threads: int = 0
    checkpoints: int = 0
    writes: int = 0
    last: Key | None = None

    def add(self, record: Json) -> None:
        key = (record["thread_id"], record["checkpoint_ns"], record["checkpoint_id"])
        if self.last is not None and key <= self.last:
            raise CheckpointError(
                f"checkpoints out of export order: {key} after {self.last} "
                "(sort by thread_id, checkpoint_ns, checkpoint_id)"
            )
        if self.last is None or key[0] != self.last[0]:
            self.threads += 1
        self.last = key
        self.checkpoints += 1
        self.writes += len(record["writes"])

    def summary(self, started: float) -> Summary:
        return Summary(self.threads, self.checkpoints, self.writes, time.monotonic() - started)


# -- verification -----------------------------------------------------------------------------


def read_export(
    path: Path, *, allowed_modules: Iterable[str] = (), trusted: bool = False
) -> Header:
    """Verify the whole export at `path` and return its header; CheckpointError if unsound.

    `allowed_modules` adds modules whose classes values may hold (see the module docstring);
    `trusted` (a file this project just wrote, such as a backup) skips the type check.
    """
    with _open(path) as f:
        return _verify(f, path.name, None if trusted else _TypePolicy(allowed_modules)).header


def _open(path: Path) -> IO[bytes]:
    try:
        return path.open("rb")
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {exc.strerror}") from None


@dataclass
class _Verified:
    header: Header
    selected: _Tally  # the records an import with this thread filter replays
    found_thread: bool


@dataclass
class _Scan:
    """The state of one pass over the lines after the header."""

    name: str
    policy: _TypePolicy | None
    thread_id: str | None
    digest: Any = field(default_factory=hashlib.sha256)
    line: int = 1
    all: _Tally = field(default_factory=_Tally)
    selected: _Tally = field(default_factory=_Tally)
    trailer: Json | None = None
    complete: bool = True  # the last line read ended with a newline
    problem: str | None = None  # the first damaged line, reported if the checksum holds

    def note(self, problem: str) -> None:
        if self.problem is None:
            self.problem = f"line {self.line}: {problem}"


def _verify(
    f: IO[bytes], name: str, policy: _TypePolicy | None, thread_id: str | None = None
) -> _Verified:
    first = f.readline()
    header = _parse_header(first, name)
    scan = _Scan(name, policy, thread_id)
    scan.digest.update(_normalised(first))
    for raw in f:
        scan.line += 1
        if scan.trailer is not None:
            raise CheckpointError(f"{name} has data after its trailer (line {scan.line})")
        _scan_line(scan, raw)
    trailer = _check_trailer(
        name,
        scan.trailer,
        scan.digest.hexdigest(),
        (scan.all.checkpoints, scan.all.writes),
        scan.line if scan.complete else scan.line - 1,
        scan.problem,
    )
    return _Verified(
        Header(
            version=header["version"],
            created_at=header["created_at"],
            source=header["source"],
            thread_id=header.get("thread_id"),
            checkpoints=trailer["checkpoints"],
            writes=trailer["writes"],
        ),
        scan.selected,
        found_thread=thread_id is None or scan.selected.checkpoints > 0,
    )


def _normalised(raw: bytes) -> bytes:
    if raw.endswith(b"\n") and not raw.endswith(b"\r\n"):
        return raw
    return raw.rstrip(b"\r\n") + b"\n"


def _parse_header(raw: bytes, name: str) -> Json:
    if not raw:
        raise CheckpointError(f"{name} is empty")
    header = _loads(raw)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError(f"{name} is not an lg-memory export (no {FORMAT} header on line 1)")
    if header.get("version") != VERSION:
        raise CheckpointError(
            f"unsupported export version {header.get('version')!r} in {name}: "
            f"this lg-memory reads version {VERSION}"
        )
    if not (
        isinstance(header.get("created_at"), str)
        and isinstance(header.get("source"), dict)
        and isinstance(header.get("thread_id"), str | None)
    ):
        raise CheckpointError(f"{name}: line 1: the header is malformed")
    return header


def _loads(raw: bytes) -> Any:
    try:
        return parse_json(raw)
    except ValueError:
        return None


def parse_json(raw: bytes | str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:  # NaN and Infinity, which Python's json writes
        return json.loads(raw)


def _scan_line(scan: _Scan, raw: bytes) -> None:
    scan.complete = raw.endswith(b"\n")
    obj = _loads(raw)
    if isinstance(obj, dict) and "end" in obj:
        scan.trailer = obj
        return
    scan.digest.update(_normalised(raw))
    if obj is None:
        scan.note("not valid JSON")
        return
    problem = _record_problem(obj) or _order_problem(scan, obj)
    if problem is None and scan.policy is not None:
        problem = _values_problem(scan.policy, obj)
    if problem:
        scan.note(problem)


def _order_problem(scan: _Scan, record: Json) -> str | None:
    try:
        scan.all.add(record)
        if scan.thread_id is None or record["thread_id"] == scan.thread_id:
            scan.selected.add(record)
    except CheckpointError as exc:
        return str(exc)
    return None


def _check_trailer(
    name: str,
    trailer: Json | None,
    digest: str,
    counts: tuple[int, int | None],
    last_line: int,
    problem: str | None = None,
) -> Json:
    """The trailer of a file whose lines hash to `digest` and hold `counts` (checkpoints and
    writes, None when they are counted later); `problem` is the first damaged line, if any."""
    if trailer is None:
        raise CheckpointError(f"{name} is truncated: no trailer after line {last_line}")
    if trailer.get("sha256") != digest:
        where = f" (first damage: {problem})" if problem else ""
        raise CheckpointError(f"{name}: checksum mismatch: the file was edited or corrupted{where}")
    if problem:
        raise CheckpointError(f"{name}: {problem}")
    said = (trailer.get("checkpoints"), trailer.get("writes") if counts[1] is not None else None)
    if trailer.get("end") is not True or said != counts:
        writes = f" and {said[1]} writes" if counts[1] is not None else ""
        held = f" and {counts[1]}" if counts[1] is not None else ""
        raise CheckpointError(
            f"{name}: the trailer counts {said[0]} checkpoints{writes} but the file holds "
            f"{counts[0]}{held}: the file was edited or corrupted"
        )
    return trailer


def _record_problem(record: Any) -> str | None:
    """Why `record` is not a well-formed checkpoint line, or None."""
    if not isinstance(record, dict):
        return "not a checkpoint record"
    for key in ("thread_id", "checkpoint_ns", "checkpoint_id"):
        if not isinstance(record.get(key), str):
            return f"{key} is missing or not a string"
    if not isinstance(record.get("parent_checkpoint_id"), str | None):
        return "parent_checkpoint_id is not a string"
    if not isinstance(record.get("metadata"), dict):
        return "metadata is not an object"
    return _checkpoint_problem(
        record.get("checkpoint"), record["checkpoint_id"]
    ) or _writes_problem(record.get("writes"))


def _checkpoint_problem(checkpoint: Any, checkpoint_id: str) -> str | None:
    if not isinstance(checkpoint, dict) or checkpoint.get("id") != checkpoint_id:
        return "checkpoint is missing or does not carry the line's checkpoint_id"
    values = checkpoint.get("channel_values")
    if not isinstance(values, dict) or not all(_is_typed(v) for v in values.values()):
        return "channel_values are not [type, base64] pairs"
    if not _is_versions(checkpoint.get("channel_versions")):
        return "channel_versions are not a map of versions"
    seen = checkpoint.get("versions_seen")
    if not isinstance(seen, dict) or not all(_is_versions(v) for v in seen.values()):
        return "versions_seen is not a map of version maps"
    extra = [k for k in checkpoint if k not in _NOT_EXTRA]
    if not all(_is_typed(checkpoint[k]) for k in extra):
        return f"checkpoint fields {extra} are not [type, base64] pairs"
    return None


def _writes_problem(writes: Any) -> str | None:
    if not isinstance(writes, list):
        return "writes is not a list"
    for write in writes:
        if not (
            isinstance(write, list)
            and len(write) == 4
            and all(isinstance(write[i], str) for i in (0, 1, 3))
            and _is_typed(write[2])
        ):
            return "a write is not [task_id, channel, [type, base64], task_path]"
    return None


def _is_typed(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], str)
    )


def _is_versions(versions: Any) -> bool:
    return isinstance(versions, dict) and all(
        isinstance(v, str | int | float) and not isinstance(v, bool) for v in versions.values()
    )


def _values_problem(policy: _TypePolicy, record: Json) -> str | None:
    checkpoint = record["checkpoint"]
    values = [(f"channel {ch!r}", v) for ch, v in checkpoint["channel_values"].items()]
    values += [(f"field {k!r}", v) for k, v in checkpoint.items() if k not in _NOT_EXTRA]
    values += [(f"write to {w[1]!r}", w[2]) for w in record["writes"]]
    for where, typed in values:
        try:
            policy.check(typed[0], _b64(typed[1]))
        except _Refused as exc:
            return f"{where} of checkpoint {record['checkpoint_id']}: {exc}"
    return None


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise _Refused("the value is not valid base64") from None


class _Refused(Exception):
    """A value an import will not load; the message says why."""


class _TypePolicy:
    """Decides which types the values of an export may name, without building any object."""

    def __init__(self, allowed_modules: Iterable[str] = ()) -> None:
        self.modules = (*TRUSTED_MODULES, *allowed_modules)
        self.approved: set[tuple[str, str]] = set()  # classes checked and found trusted
        self._verdicts: dict[tuple[str, str], str | None] = {}

    def check(self, kind: str, data: bytes) -> None:
        if kind not in _VALUE_KINDS:
            raise _Refused(f"values of type {kind!r} are never imported")
        if kind == "msgpack":
            self._check_msgpack(data)

    def decoder(self) -> jsonplus.JsonPlusSerializer:
        """A strict serializer that rebuilds the approved classes and LangGraph's safe types."""
        return jsonplus.JsonPlusSerializer(
            pickle_fallback=False, allowed_msgpack_modules=sorted(self.approved) or None
        )

    def _check_msgpack(self, data: bytes) -> None:
        refusals: list[str] = []

        def hook(code: int, payload: bytes) -> None:
            inner = ormsgpack.unpackb(payload, ext_hook=hook, option=_MSGPACK_OPTIONS)
            if (reason := self._extension_problem(code, inner)) is not None:
                refusals.append(reason)
                raise _Refused(reason)

        try:
            ormsgpack.unpackb(data, ext_hook=hook, option=_MSGPACK_OPTIONS)
        except (ValueError, TypeError):  # ormsgpack reports a failing hook as a ValueError
            raise _Refused(refusals[0] if refusals else "the value is not valid msgpack") from None

    def _extension_problem(self, code: int, inner: Any) -> str | None:
        if code in _PLAIN_EXTENSIONS:
            return None
        if code not in _CONSTRUCTORS and code != jsonplus.EXT_METHOD_SINGLE_ARG:
            return f"unknown msgpack extension {code}"
        if not (isinstance(inner, list) and len(inner) >= 3 and _all_str(inner[:2])):
            return "a malformed msgpack extension"
        module, name = inner[0], inner[1]
        if code == jsonplus.EXT_METHOD_SINGLE_ARG:
            call = (module, name, inner[3] if len(inner) > 3 else "")
            return None if call in SAFE_MSGPACK_METHODS else f"a call of {'.'.join(map(str, call))}"
        return self._type_problem(module, name)

    def _type_problem(self, module: str, name: str) -> str | None:
        key = (module, name)
        if key in SAFE_MSGPACK_TYPES:
            return None
        if key not in self._verdicts:
            self._verdicts[key] = self._judge(module, name)
            if self._verdicts[key] is None:
                self.approved.add(key)
        return self._verdicts[key]

    def _judge(self, module: str, name: str) -> str | None:
        trusted = ", ".join(self.modules)
        untrusted = (
            f"{module}.{name} is not a trusted type "
            f"(import rebuilds only classes of {trusted} and LangGraph's safe types)"
        )
        if not self._trusts(module) or "__main__" in module.split("."):
            return untrusted
        try:
            obj = getattr(importlib.import_module(module), name)
        except Exception as exc:  # any failure to import means "cannot rebuild here"
            return f"{module}.{name} cannot be imported here ({type(exc).__name__}: {exc})"
        if (
            not inspect.isclass(obj)
            or issubclass(obj, BaseException)
            or not self._trusts(obj.__module__)
        ):
            return untrusted
        return None

    def _trusts(self, module: str) -> bool:
        return any(module == m or module.startswith(f"{m}.") for m in self.modules)


def _all_str(items: Iterable[Any]) -> bool:
    return all(isinstance(item, str) for item in items)


# -- import -----------------------------------------------------------------------------------


Loader = Callable[[Iterable[Json]], None]


def import_checkpoints(
    saver: BaseCheckpointSaver[Any],
    path: Path,
    *,
    thread_id: str | None = None,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    allowed_modules: Iterable[str] = (),
    trusted: bool = False,
    loader: Loader | None = None,
) -> Summary:
    """Verify the export at `path`, then write its checkpoints (or one thread's) into `saver`.

    Nothing is written when verification fails, or with `dry_run` (which returns what would be
    imported). `allowed_modules` adds modules whose classes values may hold.

    `trusted` is for a file this project wrote itself (a migration's backup): its header, order,
    counts and checksum are verified, not its values' types; they are decoded, where they must
    be, by LangGraph's default serializer, as the application reads them.

    `loader`, a backend's bulk writer, receives the verified records in file order and writes
    them, values as they are, in one transaction (records are read as it consumes them; the
    iteration raises, and the loader must then write nothing, if the file changed meanwhile).
    """
    started = time.monotonic()
    policy = None if trusted else _TypePolicy(allowed_modules)
    with _open(path) as f:
        # A file of ours is checked once; then, as it is read, only for a change of its stamp.
        own = trusted and thread_id is None and not dry_run
        stamp = _stamp(f) if own else None
        if own:
            _check_integrity(f, path.name)
        else:
            verified = _verify(f, path.name, policy, thread_id)
            if not verified.found_thread:
                raise CheckpointError(f"thread {thread_id!r} is not in {path.name}")
            if dry_run:
                return verified.selected.summary(started)
        f.seek(0)
        tally = _Tally()
        records = _counted(_records(f, path.name, thread_id, stamp), tally, progress)
        if loader is not None:
            loader(records)
        else:
            decoder = policy.decoder() if policy else _PLAIN_SERDE
            importer = _Importer(saver, decoder)
            for rec in records:
                importer.put(rec)
    return tally.summary(started)


def _records(
    f: IO[bytes], name: str, thread_id: str | None, stamp: tuple[int, int] | None = None
) -> Iterator[Json]:
    """The records of a verified file; raises at the end if it changed since it was verified:
    if its checksum differs, or given the `stamp` it had then, if that differs."""
    rehash = stamp is None
    digest = hashlib.sha256(_normalised(f.readline()))
    trailer: Json = {}
    writes = 0
    for raw in f:
        rec = _loads(raw)
        if "end" in rec:
            trailer = rec
            break
        if rehash:
            digest.update(_normalised(raw))
        writes += len(rec["writes"])
        if thread_id is None or rec["thread_id"] == thread_id:
            yield rec
    same = trailer.get("sha256") == digest.hexdigest() if rehash else _stamp(f) == stamp
    if not same or trailer.get("writes") != writes:
        raise CheckpointError(f"{name} changed while it was being imported")


def _stamp(f: IO[bytes]) -> tuple[int, int]:
    status = os.fstat(f.fileno())
    return status.st_size, status.st_mtime_ns


def _check_integrity(f: IO[bytes], name: str) -> None:
    """Header, checksum and checkpoint count of a file this project wrote (see `trusted`)."""
    first = f.readline()
    _parse_header(first, name)
    digest = hashlib.sha256(_normalised(first))
    lines, last = 0, b""
    for raw in f:
        if last:
            digest.update(_normalised(last))
            lines += 1
        last = raw
    trailer = _loads(last) if last.endswith(b"\n") else None
    if not (isinstance(trailer, dict) and "end" in trailer):
        trailer = None
    # Its writes are counted as it is read (see `_records`).
    _check_trailer(name, trailer, digest.hexdigest(), (lines, None), lines + 1)


def _counted(
    records: Iterable[Json], tally: _Tally, progress: Callable[[int], None] | None
) -> Iterator[Json]:
    for rec in records:
        tally.add(rec)
        yield rec
        if progress:
            progress(tally.checkpoints)


class _Importer:
    def __init__(self, saver: BaseCheckpointSaver[Any], decoder: SerializerProtocol) -> None:
        self.saver = saver
        self.decoder = decoder
        self.version_kind = type(saver.get_next_version(None, None))
        self._thread: str | None = None
        self._stored: set[tuple[str, str, Any]] = set()  # (ns, channel, version) of this thread

    def put(self, record: Json) -> None:
        thread_id, checkpoint_ns = record["thread_id"], record["checkpoint_ns"]
        if thread_id != self._thread:
            self._thread = thread_id
            self._stored.clear()
        checkpoint = self._checkpoint(record["checkpoint"])
        configurable = {"thread_id": thread_id, "checkpoint_ns": checkpoint_ns}
        if record["parent_checkpoint_id"]:
            configurable["checkpoint_id"] = record["parent_checkpoint_id"]
        self.saver.put(
            {"configurable": configurable},
            checkpoint,
            record["metadata"],
            self._new_versions(checkpoint_ns, checkpoint["channel_versions"]),
        )
        self._put_writes(
            {**configurable, "checkpoint_id": record["checkpoint_id"]}, record["writes"]
        )

    def _checkpoint(self, dumped: Json) -> Checkpoint:
        dumped = align_versions(dumped, self.version_kind)
        checkpoint: Json = {}
        for key, value in dumped.items():
            if key == "channel_values":
                checkpoint[key] = {ch: self._load(v) for ch, v in value.items()}
            elif key in JSON_FIELDS:
                checkpoint[key] = value
            else:
                checkpoint[key] = self._load(value)
        return checkpoint  # type: ignore[return-value]

    def _new_versions(self, checkpoint_ns: str, versions: ChannelVersions) -> ChannelVersions:
        """All versions of the checkpoint, less those this import already stored for the thread.

        Savers that store a blob per channel version (Postgres, in-memory) store only the values
        named here; the others ignore it.
        """
        new = {ch: v for ch, v in versions.items() if (checkpoint_ns, ch, v) not in self._stored}
        self._stored.update((checkpoint_ns, ch, v) for ch, v in new.items())
        return new

    def _put_writes(self, configurable: dict[str, Any], writes: list[Any]) -> None:
        config: RunnableConfig = {"configurable": configurable}
        by_task: dict[str, tuple[str, list[tuple[str, Any]], list[tuple[str, Any]]]] = {}
        for task_id, channel, typed, task_path in writes:
            _, regular, special = by_task.setdefault(task_id, (task_path, [], []))
            (special if channel in WRITES_IDX_MAP else regular).append((channel, self._load(typed)))
        # As LangGraph does: a task's writes in one call (numbered from 0), special ones apart.
        for task_id, (task_path, regular, special) in by_task.items():
            for group in (regular, special):
                if group:
                    self.saver.put_writes(config, group, task_id, task_path)

    def _load(self, typed: Typed) -> Any:
        return self.decoder.loads_typed(value_bytes(typed))


def indexed_writes(writes: Iterable[list[Any]]) -> Iterator[tuple[str, str, int, str, Typed]]:
    """(task_id, task_path, idx, channel, value) of a record's writes, numbered as LangGraph
    numbers them: a task's regular writes from 0, special ones by `WRITES_IDX_MAP`."""
    counts: dict[str, int] = {}
    for task_id, channel, value, task_path in writes:
        if channel in WRITES_IDX_MAP:
            idx = WRITES_IDX_MAP[channel]
        else:
            idx = counts.get(task_id, 0)
            counts[task_id] = idx + 1
        yield task_id, task_path, idx, channel, value


def align_versions(checkpoint: Json, kind: type) -> Json:
    """The checkpoint with its versions of the kind (str or int) the target saver produces."""
    versions = checkpoint["channel_versions"]
    seen = checkpoint["versions_seen"]
    # One saver numbered all the versions of a checkpoint: the first tells their kind.
    first = next(iter(versions.values()), None)
    if first is None:
        first = next(chain.from_iterable(node.values() for node in seen.values()), None)
    if kind not in (str, int) or first is None or isinstance(first, kind):
        return checkpoint
    if kind is int:
        return {
            **checkpoint,
            "channel_versions": {ch: _counter(v) for ch, v in versions.items()},
            "versions_seen": {n: {ch: _counter(v) for ch, v in s.items()} for n, s in seen.items()},
        }
    values = checkpoint["channel_values"]
    return {
        **checkpoint,
        "channel_versions": {
            ch: _as_str(v, _fraction(ch, values.get(ch))) for ch, v in versions.items()
        },
        "versions_seen": {n: {ch: _as_str(v, "9") for ch, v in s.items()} for n, s in seen.items()},
    }


def _counter(version: str | int | float) -> int:
    return int(version.split(".")[0]) if isinstance(version, str) else int(version)


def _as_str(version: str | int | float, fraction: str) -> str:
    return version if isinstance(version, str) else f"{int(version):032}.{fraction}"


def _fraction(channel: str, typed: Typed | None) -> str:
    """A fraction in the savers' format, the same for the same value of a channel."""
    digest = hashlib.sha256(json.dumps([channel, typed]).encode()).digest()
    return f"0.{int.from_bytes(digest[:8], 'big') % 10**16:016d}"
