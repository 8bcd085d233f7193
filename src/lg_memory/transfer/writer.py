"""Writing an export: the one line writer (header, records, trailer and its checksum), fed with
records from a backend's native reading or from any saver's checkpoints.

The generic enumeration, `iter_store`, lists one thread at a time through `saver.list`; it holds
one thread's checkpoints in memory, and a saver's own listing limits apply (Redis returns at most
10,000 checkpoints per call and ignores `before`).
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO, TextIO, cast

from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from langgraph.checkpoint.serde.base import SerializerProtocol

from ..settings import CheckpointError
from .format import FORMAT, MAX_LINE_BYTES, VERSION, Json, Key, Summary, Tally, dumps, make_record
from .values import PLAIN_SERDE, pack


def export_records(
    records: Iterable[Json],
    out: TextIO | BinaryIO,
    *,
    source: dict[str, Any],
    thread_id: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Summary:
    """Write checkpoint records (in export order) to `out` as an export file."""
    writing = passing(records, out, source=source, thread_id=thread_id, progress=progress)
    while True:
        try:
            next(writing)
        except StopIteration as done:
            summary: Summary = done.value
            return summary


def passing(
    records: Iterable[Json],
    out: TextIO | BinaryIO,
    *,
    source: dict[str, Any],
    thread_id: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Generator[Json, None, Summary]:
    """Write checkpoint records (in export order) to `out` as an export file, yielding each
    once it is written; the trailer is written once the last one has passed."""
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
    tally = Tally()
    for rec in records:
        if thread_id is not None and rec["thread_id"] != thread_id:
            raise CheckpointError(f"export of thread {thread_id!r} got thread {rec['thread_id']!r}")
        tally.add(rec)
        writer.write(rec)
        yield rec
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
        if len(line) > MAX_LINE_BYTES:
            where = f"checkpoint {obj.get('checkpoint_id')} of thread {obj.get('thread_id')!r}"
            raise CheckpointError(
                f"{where} takes {len(line) // 2**20} MiB, more than an export line may "
                f"({MAX_LINE_BYTES // 2**20} MiB)"
            )
        if digest:
            self._digest.update(line)
        self._emit(line)


# -- from any saver ---------------------------------------------------------------------------


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
    serde = serde or PLAIN_SERDE
    return export_records(
        (record(tup, serde) for tup in tuples),
        out,
        source=source,
        thread_id=thread_id,
        progress=progress,
    )


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


def record(tup: CheckpointTuple, serde: SerializerProtocol) -> Json:
    """The export record of a checkpoint read through a saver (values serialised by `serde`)."""
    thread_id, checkpoint_ns, checkpoint_id = _tuple_key(tup)
    parent = tup.parent_config["configurable"].get("checkpoint_id") if tup.parent_config else None
    where = f"checkpoint {checkpoint_id} of thread {thread_id!r}"
    checkpoint = tup.checkpoint
    values = {
        ch: pack(serde, v, f"{where}, channel {ch!r}")
        for ch, v in checkpoint["channel_values"].items()
    }
    writes = [
        (w[0], w[1], pack(serde, w[2], f"{where}, write to {w[1]!r}"), w[3] if len(w) > 3 else "")
        for w in tup.pending_writes or []
    ]
    return make_record(
        (thread_id, checkpoint_ns, checkpoint_id),
        parent,
        checkpoint,
        values,
        lambda key, value: pack(serde, value, f"{where}, field {key!r}"),
        dict(tup.metadata),
        writes,
    )
