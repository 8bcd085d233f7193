"""Importing an export: verified whole first, then written through a backend's bulk loader or
replayed through the target saver's API.

An import reads the whole file first and writes nothing unless all of it is sound: header format
and version, every line well formed, checkpoint order, counts and checksum against the trailer,
nothing after the trailer, and every type named in every value trusted (see `policy`). Then it
replays each checkpoint oldest to newest through the target saver's public API (`put`, then
`put_writes` for each task), keeping every id. Savers upsert by id, so importing a file twice
leaves the same store as importing it once.

Through the saver's API, values are decoded by a `JsonPlusSerializer` in strict mode whose
allowlist holds exactly the checked classes, and the saver serialises them again: for these
types decoding and encoding again gives the same bytes, which the round-trip tests check. A
backend that stores one serialised value per channel (PostgreSQL) has a bulk loader instead,
which writes the checked bytes as they are, in the rows `put` would write.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from ..settings import CheckpointError
from .format import JSON_FIELDS, Json, Summary, Tally
from .policy import TypePolicy
from .reader import Reader
from .values import PLAIN_SERDE, Typed, value_bytes
from .versions import align_versions

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
    policy = None if trusted else TypePolicy(allowed_modules)
    with Reader(path) as export:
        # A file of ours is checked once; then, as it is read, only for a change of its stamp.
        if trusted and thread_id is None and not dry_run:
            export.check_integrity()
        else:
            verified = export.verify(policy, thread_id)
            if not verified.found_thread:
                raise CheckpointError(f"thread {thread_id!r} is not in {path.name}")
            if dry_run:
                return verified.selected.summary(started)
        tally = Tally()
        records = _counted(export.records(thread_id), tally, progress)
        if loader is not None:
            loader(records)
        else:
            decoder = policy.decoder() if policy else PLAIN_SERDE
            importer = _Importer(saver, decoder)
            for rec in records:
                importer.put(rec)
    return tally.summary(started)


def _counted(
    records: Iterable[Json], tally: Tally, progress: Callable[[int], None] | None
) -> Iterator[Json]:
    for rec in records:
        tally.add(rec)
        yield rec
        if progress:
            progress(tally.checkpoints)


class _Importer:
    """Replays records through a saver's `put` and `put_writes`."""

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
    numbers them: a task's regular writes from 0, special ones by `WRITES_IDX_MAP`. For bulk
    loaders, which write the rows `put_writes` would."""
    counts: dict[str, int] = {}
    for task_id, channel, value, task_path in writes:
        if channel in WRITES_IDX_MAP:
            idx = WRITES_IDX_MAP[channel]
        else:
            idx = counts.get(task_id, 0)
            counts[task_id] = idx + 1
        yield task_id, task_path, idx, channel, value
