"""The export file format: its lines, how a checkpoint record is made and checked, and the
canonical JSON every line is written in. `writer` writes the files, `reader` verifies them.

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
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from langgraph.checkpoint.base import WRITES_IDX_MAP

from ..settings import CheckpointError
from .values import Typed

FORMAT = "lg-memory-export"
VERSION = 1
# No line is longer: a reader refuses a longer one before holding it, a writer does not write it.
MAX_LINE_BYTES = 64 * 2**20
BUFFER = 2**20  # bytes of an export read or written at once: exports run to hundreds of MB

# Checkpoint fields that are plain JSON; every other field holds Python objects.
JSON_FIELDS = frozenset({"v", "id", "ts", "channel_versions", "versions_seen", "updated_channels"})
_NOT_EXTRA = JSON_FIELDS | {"channel_values"}
# Fields a saver adds for its own bookkeeping (Redis: the serialisation type of the document).
_STORAGE_FIELDS = frozenset({"type"})
# orjson writes dates and dataclasses as strings and dicts; metadata holding them is not JSON.
_ORJSON_OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)

Json = dict[str, Any]
Key = tuple[str, str, str]  # (thread_id, checkpoint_ns, checkpoint_id)


@dataclass
class Summary:
    """What an export or an import went through."""

    threads: int
    checkpoints: int
    writes: int
    seconds: float


@dataclass
class Tally:
    """Counts records as they stream by (threads arrive grouped, so a change is a new thread),
    and refuses them out of export order."""

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


# -- records ----------------------------------------------------------------------------------


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
    if len(rows) > 1:
        rows.sort(key=lambda w: (w[0], WRITES_IDX_MAP.get(w[1], 0), w[1]))
    return rows


def record_values(record: Json) -> Iterator[tuple[str, str, Typed]]:
    """Every value of a well-formed record, with where it sits: ("channel", its name),
    ("field", its name) or ("write to", its channel)."""
    checkpoint = record["checkpoint"]
    for channel, value in checkpoint["channel_values"].items():
        yield "channel", channel, value
    for key, value in checkpoint.items():
        if key not in _NOT_EXTRA:
            yield "field", key, value
    for write in record["writes"]:
        yield "write to", write[1], write[2]


def record_problem(record: Any) -> str | None:
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


# -- lines ------------------------------------------------------------------------------------


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


def parse_json(raw: bytes | str) -> Any:
    """A line (or any JSON text) parsed, NaN and Infinity included; ValueError if it is not
    JSON, or nests deeper than any checkpoint does."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:  # NaN and Infinity, which Python's json writes
        try:
            return json.loads(raw)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
