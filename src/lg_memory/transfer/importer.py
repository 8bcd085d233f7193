"""Importing an export: verified whole first, then written through a backend's bulk loader or
replayed through the target saver's API.

An import reads the whole file first and writes nothing unless all of it is sound: header format
and version, every line well formed, checkpoint order, counts and checksum against the trailer,
nothing after the trailer, and every type named in every value trusted (see `policy`). Then it
replays each checkpoint oldest to newest through the target saver's public API (`put`, then
`put_writes` for each task), keeping every id. Savers upsert by id, so importing a file twice
leaves the same store as importing it once.

Through the saver's API, values go in as the bytes of the file (see `verbatim`) wherever the
saver stores what LangGraph's serializer writes: every value of InMemorySaver, MongoDB and
savers of that kind, and Redis' pending writes. Where it stores another form (Redis keeps
channel values as JSON; an encrypting serializer its ciphertext), values are decoded (by a
`JsonPlusSerializer` in strict mode whose allowlist holds exactly the checked classes, or for a
project's own backup by LangGraph's default one) and the saver serialises them again. Before
anything is written, each such value is run through that round trip in memory, and the import
is refused if one would not come back as it was (a class this process cannot import, or one
Redis' JSON cannot carry). A backend that stores one serialised value per channel (SQLite,
PostgreSQL) has a bulk loader instead, which writes the checked bytes as they are, in the rows
`put` would write.
"""

from __future__ import annotations

import importlib.util
import re
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path
from typing import Any

import ormsgpack
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
)
from langgraph.checkpoint.serde import jsonplus
from langgraph.checkpoint.serde._msgpack import SAFE_MSGPACK_TYPES
from langgraph.checkpoint.serde.base import SerializerProtocol

from ..settings import CheckpointError
from .format import JSON_FIELDS, Json, Summary, Tally
from .policy import TypePolicy
from .reader import Reader
from .values import MSGPACK_OPTIONS, PLAIN_SERDE, Typed, plain_serde, value_bytes
from .verbatim import Stored, inner_serde, verbatim
from .versions import align_versions

Loader = Callable[[Iterable[Json]], None]


class Unmovable(CheckpointError):
    """A value the target store would not give back as it was stored: importing it would
    change it. Nothing was written."""


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
    skip: Collection[str] = (),
) -> Summary:
    """Verify the export at `path`, then write its checkpoints (or one thread's) into `saver`.

    Nothing is written when verification fails, or with `dry_run` (which returns what would be
    imported). `allowed_modules` adds modules whose classes values may hold.

    `trusted` is for a file this project wrote itself (a migration's backup): its header, order,
    counts and checksum are verified, and its values' types only where the target saver makes
    them be decoded (then `allowed_modules` must hold their classes); nowhere else is a value
    decoded.

    `loader`, a backend's bulk writer, receives the verified records in file order and writes
    them, values as they are, in one transaction (records are read as it consumes them; the
    iteration raises, and the loader must then write nothing, if the file changed meanwhile).

    `skip` names threads of the file that are not imported.

    Raises `Untrusted` (a decoded value's class is not trusted) or `Unmovable` (one would not
    come back as it was stored) before anything is written.
    """
    started = time.monotonic()
    policy = TypePolicy(allowed_modules)
    with Reader(path) as export:

        def selected() -> Iterator[Json]:
            for rec in export.records(thread_id):
                if rec["thread_id"] not in skip:
                    yield rec

        # A file of ours is checked once; then, as it is read, only for a change of its stamp.
        if trusted and thread_id is None and not dry_run:
            export.check_integrity()
            verified = None
        else:
            verified = export.verify(None if trusted else policy, thread_id)
            if not verified.found_thread:
                raise CheckpointError(f"thread {thread_id!r} is not in {path.name}")
        importer = None
        if loader is None:
            importer = _Importer(saver, policy, check_types=trusted)
            if importer.decodes:
                for rec in selected():  # before anything is written
                    importer.check(rec)
        if verified is not None and dry_run:
            return verified.selected.summary(started)
        tally = Tally()
        records = _counted(selected(), tally, progress)
        if loader is not None:
            loader(records)
        elif importer is not None:
            with verbatim(saver):
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

    def __init__(
        self, saver: BaseCheckpointSaver[Any], policy: TypePolicy, check_types: bool
    ) -> None:
        self.saver = saver
        self.policy = policy
        self.check_types = check_types  # values were not checked against the policy yet
        self.serde = inner_serde(saver)
        # Where the saver stores LangGraph's serialised form, values pass as they are.
        self.values_as_stored = plain_serde(self.serde) and not _keeps_json(saver)
        self.writes_as_stored = isinstance(self.serde, jsonplus.JsonPlusSerializer)
        self.version_kind = type(saver.get_next_version(None, None))
        self._decoder: tuple[int, SerializerProtocol] | None = None
        self._thread: str | None = None
        self._stored: set[tuple[str, str, Any]] = set()  # (ns, channel, version) of this thread

    @property
    def decodes(self) -> bool:
        return not (self.values_as_stored and self.writes_as_stored)

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

    def check(self, record: Json) -> None:
        """Refuse a record whose values the saver makes be decoded, if one names a class that
        is not trusted (`Untrusted`) or would not be rebuilt as it was (`Unmovable`)."""
        where = f"thread {record['thread_id']!r}, checkpoint {record['checkpoint_id']}"
        decoded: list[tuple[str, Typed]] = []
        if not self.values_as_stored:
            decoded += [
                (f"channel {ch!r}", v) for ch, v in record["checkpoint"]["channel_values"].items()
            ]
        if not self.writes_as_stored:
            decoded += [(f"write to {w[1]!r}", w[2]) for w in record["writes"]]
        for what, typed in decoded:
            if self.check_types and (problem := self.policy.problem(typed)) is not None:
                raise _refusal(f"{where}, {what}: {problem}", self._why())
            kind, data = value_bytes(typed)
            try:
                again = PLAIN_SERDE.dumps_typed(self._load(typed))
            except (TypeError, ValueError):
                again = ("", b"")
            if again != (kind, data):
                raise Unmovable(
                    f"{where}, {what}: {value_class(kind, data)} does not come back as it was "
                    f"stored when rebuilt ({self._why()})"
                )
        if not self.values_as_stored and _keeps_json(self.saver):
            self._check_json(record, where)

    def _check_json(self, record: Json, where: str) -> None:
        """Refuse a checkpoint whose objects the saver would not give back from its JSON: its
        values go through the saver's own writing and reading, in memory. (Plain data moves as
        it is: a dict that merely looks like one of its envelopes came from such a store.)"""
        saver: Any = self.saver
        checkpoint = self._checkpoint(record["checkpoint"])
        back = saver._deserialize_channel_values(
            saver._dump_checkpoint(checkpoint).get("channel_values") or {}
        )
        for channel, typed in record["checkpoint"]["channel_values"].items():
            kind, data = value_bytes(typed)
            if not _holds_objects(kind, data):
                continue
            try:
                again = PLAIN_SERDE.dumps_typed(back.get(channel))
            except (TypeError, ValueError):
                again = ("", b"")
            if again != (kind, data):
                raise Unmovable(
                    f"{where}, channel {channel!r}: {value_class(kind, data)} would come back "
                    "from the target as another value (it keeps channel values as JSON, and "
                    "rebuilds from it only LangGraph's and LangChain's types and dataclasses)"
                )

    def _why(self) -> str:
        if _keeps_json(self.saver):
            return "the target keeps channel values as JSON, so they must be rebuilt to move there"
        return "the target's serializer stores values its own way, so they must be rebuilt"

    def _checkpoint(self, dumped: Json) -> Checkpoint:
        dumped = align_versions(dumped, self.version_kind)
        checkpoint: Json = {}
        for key, value in dumped.items():
            if key == "channel_values":
                checkpoint[key] = {ch: self._value(v) for ch, v in value.items()}
            elif key in JSON_FIELDS:
                checkpoint[key] = value
            else:
                checkpoint[key] = self._value(value)
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
            value = Stored(*value_bytes(typed)) if self.writes_as_stored else self._load(typed)
            (special if channel in WRITES_IDX_MAP else regular).append((channel, value))
        # As LangGraph does: a task's writes in one call (numbered from 0), special ones apart.
        for task_id, (task_path, regular, special) in by_task.items():
            for group in (regular, special):
                if group:
                    self.saver.put_writes(config, group, task_id, task_path)

    def _value(self, typed: Typed) -> Any:
        """A checkpoint's value as `put` gets it: its bytes, or decoded (see `decodes`)."""
        return Stored(*value_bytes(typed)) if self.values_as_stored else self._load(typed)

    def _load(self, typed: Typed) -> Any:
        if self._decoder is None or self._decoder[0] != len(self.policy.approved):
            self._decoder = (len(self.policy.approved), self.policy.decoder())
        return self._decoder[1].loads_typed(value_bytes(typed))


class Untrusted(CheckpointError):
    """A value to decode names a class outside the trusted modules; `module` allows it."""

    def __init__(self, message: str, module: str) -> None:
        super().__init__(message)
        self.module = module


def _refusal(problem: str, why: str) -> CheckpointError:
    """`Untrusted` when adding a module to the trusted ones would allow the value, else
    `Unmovable`."""
    found = re.search(r"; if you trust that module, add --trust (\S+)$", problem)
    if found is None:
        return Unmovable(f"{problem} ({why})")
    module, problem = found[1], problem.removesuffix(found[0])
    if not _importable(module):
        return Unmovable(f"{problem}; and module {module} cannot be imported here ({why})")
    return Untrusted(f"{problem} ({why})", module)


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _holds_objects(kind: str, data: bytes) -> bool:
    """Whether a stored value holds an object of some class (a msgpack extension)."""
    if kind != "msgpack":
        return False
    found = False

    def hook(code: int, payload: bytes) -> None:
        nonlocal found
        found = True

    try:
        ormsgpack.unpackb(data, ext_hook=hook, option=MSGPACK_OPTIONS)
    except (ValueError, TypeError):
        return True
    return found


def _keeps_json(saver: Any) -> bool:
    """Whether the saver stores a checkpoint's values inline as JSON (RedisSaver)."""
    return hasattr(saver, "_dump_checkpoint") and hasattr(saver, "_deserialize_channel_values")


def value_class(kind: str, data: bytes) -> str:
    """What a stored value holds, for a message: its class, or the first class in it that is
    not one of LangGraph's safe types."""
    if kind != "msgpack":
        return f"a {kind} value"
    found: list[str] = []

    def hook(code: int, payload: bytes) -> None:
        inner = ormsgpack.unpackb(payload, ext_hook=hook, option=MSGPACK_OPTIONS)
        if (
            isinstance(inner, list)
            and len(inner) >= 2
            and all(isinstance(x, str) for x in inner[:2])
        ):
            found.append(f"{inner[0]}.{inner[1]}")

    try:
        outer = ormsgpack.unpackb(data, ext_hook=hook, option=MSGPACK_OPTIONS)
    except (ValueError, TypeError):
        return "a value"
    unsafe = [name for name in found if tuple(name.rsplit(".", 1)) not in SAFE_MSGPACK_TYPES]
    if unsafe:
        return f"a value of {unsafe[-1]}"
    if found:
        return f"a value of {found[-1]}"
    return f"a {type(outer).__name__}"


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
