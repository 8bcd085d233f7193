"""The "custom" backend: a checkpoint saver that keeps everything in plain files.

`FileCheckpointSaver` is a complete LangGraph checkpointer. Use it as is for local
development, or adapt it to your own store: every storage access goes through four
small methods (`_read`, `_write`, `_iter`, `_delete`). Reimplement those for your
store and the rest of the class keeps working.

Layout under the saver's root, one JSON document per file::

    threads/<thread_id>/<checkpoint_ns>/
        checkpoints/<checkpoint_id>.json        checkpoint (without channel values),
                                                metadata and parent checkpoint id
        writes/<checkpoint_id>/<task_id>.json   pending writes of one task
        blobs/<channel>/<version>.json          one channel value per version

Each name in <...> is escaped by `_encode`. Values go through
`serde.dumps_typed` and are stored as `[type, base64]`, so they come back as
exactly the same bytes.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import shutil
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    PendingWrite,
    get_checkpoint_id,
    get_checkpoint_metadata,
    writes_sort_key,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from ..store import Stats, Thread, checkpoint_config, parent_id

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = ["FileCheckpointSaver", "aopen_saver", "open_saver"]

DEFAULT_NAMESPACE = "default"

# A storage key: a path of file-name-safe strings, such as
# ("threads", "_t1", "_", "checkpoints", "_1f0...").
Key = tuple[str, ...]
Document = dict[str, Any]

# Guards the read-modify-write in put_writes. It is shared by all savers in the
# process, because an app may open several savers on the same directory.
_writes_lock = threading.Lock()


def _encode(name: str) -> str:
    """Turn any string into a distinct, portable file name (`_decode` reverses it).

    `quote` alone is not enough. "" is not a file name, and "." or ".." would walk the
    tree. On case-insensitive file systems (macOS, Windows) "A" and "a" are the same
    file. So dots and ASCII capitals are escaped as well, and the "_" prefix keeps
    "" and reserved Windows names ("con", "nul") usable.
    """
    escaped = (
        f"%{ord(char):02X}" if char == "." or "A" <= char <= "Z" else quote(char, safe="")
        for char in name
    )
    return "_" + "".join(escaped)


def _decode(name: str) -> str:
    return unquote(name[1:])


def _pack(typed: tuple[str, bytes]) -> list[str]:
    return [typed[0], base64.b64encode(typed[1]).decode("ascii")]


def _unpack(packed: list[str]) -> tuple[str, bytes]:
    return packed[0], base64.b64decode(packed[1])


class FileCheckpointSaver(BaseCheckpointSaver[str]):
    """A checkpoint saver that stores each thread as a directory of JSON files.

    Safe for concurrent use within one process. There is no locking across
    processes: give each writing process its own directory (or namespace).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        serde: SerializerProtocol | None = None,
    ) -> None:
        super().__init__(serde=serde)
        self.root = Path(root)

    def setup(self) -> None:
        """Create the directory tree. Safe to call more than once."""
        threads = self.root / "threads"
        threads.mkdir(parents=True, exist_ok=True)
        # Leftovers of a delete_thread interrupted by a crash (see `_delete`).
        for leftover in threads.glob(".deleted-*"):
            shutil.rmtree(leftover, ignore_errors=True)

    # -- storage primitives -------------------------------------------------------
    # The rest of the class reads and writes only through these four methods. To use
    # another store (S3, Redis, a SQL table...), map a Key to one of its keys (for
    # example "/".join(key)) and reimplement them. _iter must list the names one level
    # below a key, and _delete must remove everything below it.

    def _file(self, key: Key) -> Path:
        return self.root.joinpath(*key[:-1], key[-1] + ".json")

    def _read(self, key: Key) -> Document | None:
        try:
            data = self._file(key).read_bytes()
        except FileNotFoundError:
            return None
        document: Document = json.loads(data)
        return document

    def _write(self, key: Key, document: Document) -> None:
        path = self._file(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write a temporary file next to the target, then rename it over the target.
        # Readers, and a crash, see either the old file or the new one, never half.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(json.dumps(document, separators=(",", ":")).encode())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _iter(self, key: Key) -> Iterator[str]:
        try:
            names = os.listdir(self.root.joinpath(*key))
        except (FileNotFoundError, NotADirectoryError):
            return
        for name in names:
            if not name.startswith("."):  # skip temporary and deleted files
                yield name.removesuffix(".json")

    def _delete(self, key: Key) -> None:
        path = self.root.joinpath(*key)
        trash = path.with_name(f".deleted-{uuid.uuid4().hex}")
        try:
            # One atomic rename removes the whole tree from view. The slow recursive
            # delete then works on a directory that no reader looks at.
            os.replace(path, trash)
        except FileNotFoundError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    # -- keys -----------------------------------------------------------------------

    @staticmethod
    def _ns_key(thread_id: str, checkpoint_ns: str) -> Key:
        return ("threads", _encode(thread_id), _encode(checkpoint_ns))

    @staticmethod
    def _blob_key(ns_key: Key, channel: str, version: str | float) -> Key:
        return (*ns_key, "blobs", _encode(channel), _encode(str(version)))

    # -- reading --------------------------------------------------------------------

    def _load_tuple(
        self,
        config: RunnableConfig,
        document: Document,
        metadata: CheckpointMetadata,
    ) -> CheckpointTuple:
        thread_id: str = config["configurable"]["thread_id"]
        checkpoint_ns: str = config["configurable"].get("checkpoint_ns", "")
        checkpoint_id: str = config["configurable"]["checkpoint_id"]
        ns_key = self._ns_key(thread_id, checkpoint_ns)

        checkpoint: Checkpoint = self.serde.loads_typed(_unpack(document["checkpoint"]))
        channel_values: dict[str, Any] = {}
        for channel, version in checkpoint["channel_versions"].items():
            blob = self._read(self._blob_key(ns_key, channel, version))
            if blob is not None and blob["value"][0] != "empty":
                channel_values[channel] = self.serde.loads_typed(_unpack(blob["value"]))

        parent: str | None = document["parent_checkpoint_id"]
        return CheckpointTuple(
            config=config,
            checkpoint={**checkpoint, "channel_values": channel_values},
            metadata=metadata,
            parent_config=(checkpoint_config(thread_id, checkpoint_ns, parent) if parent else None),
            pending_writes=self._load_writes(ns_key, checkpoint_id),
        )

    def _load_writes(self, ns_key: Key, checkpoint_id: str) -> list[PendingWrite]:
        writes_key = (*ns_key, "writes", _encode(checkpoint_id))
        rows: list[tuple[tuple[str, str, int], str, str, list[str]]] = []
        for task_name in self._iter(writes_key):
            document = self._read((*writes_key, task_name))
            if document is None:
                continue
            task_id: str = document["task_id"]
            for slot, write in document["writes"].items():
                sort_key = writes_sort_key(write["task_path"], task_id, int(slot))
                rows.append((sort_key, task_id, write["channel"], write["value"]))
        # The order LangGraph applies writes in (and InMemorySaver returns them in).
        rows.sort(key=lambda row: row[0])
        return [
            (task_id, channel, self.serde.loads_typed(_unpack(value)))
            for _, task_id, channel, value in rows
        ]

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        thread_id: str = config["configurable"]["thread_id"]
        checkpoint_ns: str = config["configurable"].get("checkpoint_ns", "")
        checkpoints_key = (*self._ns_key(thread_id, checkpoint_ns), "checkpoints")

        checkpoint_id = get_checkpoint_id(config)
        if not checkpoint_id:
            # Checkpoint ids are uuid6: the largest one is the newest.
            checkpoint_id = max(map(_decode, self._iter(checkpoints_key)), default=None)
            if checkpoint_id is None:
                return None
            config = checkpoint_config(thread_id, checkpoint_ns, checkpoint_id)

        document = self._read((*checkpoints_key, _encode(checkpoint_id)))
        if document is None:
            return None
        metadata = self.serde.loads_typed(_unpack(document["metadata"]))
        return self._load_tuple(config, document, metadata)

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        if config is None:
            thread_ids = [_decode(name) for name in self._iter(("threads",))]
            only_ns: str | None = None
            only_id: str | None = None
        else:
            thread_ids = [config["configurable"]["thread_id"]]
            only_ns = config["configurable"].get("checkpoint_ns")
            only_id = get_checkpoint_id(config)
        before_id = get_checkpoint_id(before) if before else None

        # Collect the candidates from file names alone, then read them newest first.
        found: list[tuple[str, str, str]] = []
        for thread_id in thread_ids:
            thread_key = ("threads", _encode(thread_id))
            if only_ns is None:
                namespaces = [_decode(name) for name in self._iter(thread_key)]
            else:
                namespaces = [only_ns]
            for checkpoint_ns in namespaces:
                ns_key = self._ns_key(thread_id, checkpoint_ns)
                for name in self._iter((*ns_key, "checkpoints")):
                    checkpoint_id = _decode(name)
                    if only_id and checkpoint_id != only_id:
                        continue
                    if before_id and checkpoint_id >= before_id:
                        continue
                    found.append((checkpoint_id, thread_id, checkpoint_ns))
        found.sort(reverse=True)

        remaining = limit
        for checkpoint_id, thread_id, checkpoint_ns in found:
            if remaining is not None and remaining <= 0:
                return
            ns_key = self._ns_key(thread_id, checkpoint_ns)
            document = self._read((*ns_key, "checkpoints", _encode(checkpoint_id)))
            if document is None:  # deleted since we listed it
                continue
            metadata = self.serde.loads_typed(_unpack(document["metadata"]))
            if filter and not all(metadata.get(k) == v for k, v in filter.items()):
                continue
            if remaining is not None:
                remaining -= 1
            config_ = checkpoint_config(thread_id, checkpoint_ns, checkpoint_id)
            yield self._load_tuple(config_, document, metadata)

    # -- writing --------------------------------------------------------------------

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        thread_id: str = config["configurable"]["thread_id"]
        checkpoint_ns: str = config["configurable"].get("checkpoint_ns", "")
        ns_key = self._ns_key(thread_id, checkpoint_ns)
        values = checkpoint["channel_values"]

        # Only channels that changed get a new blob; the others are read back from
        # earlier versions. Blobs go first and the checkpoint file last: it is the
        # commit point, so a crash in between leaves only unreferenced blobs.
        for channel, version in new_versions.items():
            typed = self.serde.dumps_typed(values[channel]) if channel in values else ("empty", b"")
            blob = {"value": _pack(typed)}
            self._write(self._blob_key(ns_key, channel, version), blob)

        stored = {k: v for k, v in checkpoint.items() if k != "channel_values"}
        full_metadata = get_checkpoint_metadata(config, metadata)
        self._write(
            (*ns_key, "checkpoints", _encode(checkpoint["id"])),
            {
                "checkpoint": _pack(self.serde.dumps_typed(stored)),
                "metadata": _pack(self.serde.dumps_typed(full_metadata)),
                "parent_checkpoint_id": config["configurable"].get("checkpoint_id"),
            },
        )
        return checkpoint_config(thread_id, checkpoint_ns, checkpoint["id"])

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        thread_id: str = config["configurable"]["thread_id"]
        checkpoint_ns: str = config["configurable"].get("checkpoint_ns", "")
        checkpoint_id: str = config["configurable"]["checkpoint_id"]
        key = (
            *self._ns_key(thread_id, checkpoint_ns),
            "writes",
            _encode(checkpoint_id),
            _encode(task_id),
        )
        new = {
            str(WRITES_IDX_MAP.get(channel, idx)): {
                "channel": channel,
                "value": _pack(self.serde.dumps_typed(value)),
                "task_path": task_path,
            }
            for idx, (channel, value) in enumerate(writes)
        }
        with _writes_lock:
            document = self._read(key) or {"task_id": task_id, "writes": {}}
            stored = document["writes"]
            for slot, write in new.items():
                # Special channels (errors, interrupts...) have fixed negative slots
                # and replace what is there. A normal write that is already stored is
                # kept, so a retried task does not duplicate its writes.
                if int(slot) < 0 or slot not in stored:
                    stored[slot] = write
            self._write(key, document)

    def delete_thread(self, thread_id: str) -> None:
        self._delete(("threads", _encode(thread_id)))

    def get_next_version(self, current: str | None, channel: None) -> str:
        # Same scheme as InMemorySaver and the database savers: a zero-padded counter
        # followed by a random fraction.
        if current is None:
            current_v = 0
        elif isinstance(current, int):
            current_v = current
        else:
            current_v = int(current.split(".")[0])
        return f"{current_v + 1:032}.{random.random():016}"

    # -- async ------------------------------------------------------------------------
    # File I/O blocks, so the async methods run the sync ones in a worker thread.

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await asyncio.to_thread(self.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        items = self.list(config, filter=filter, before=before, limit=limit)
        while (item := await asyncio.to_thread(next, items, None)) is not None:
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await asyncio.to_thread(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await asyncio.to_thread(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.delete_thread, thread_id)


def _namespace_root(settings: Settings) -> Path:
    # The default namespace uses <dir>/threads and every other namespace uses
    # <dir>/namespaces/<namespace>/threads, so they never see each other's threads.
    directory = Path(settings.connection_string).expanduser()
    if settings.namespace == DEFAULT_NAMESPACE:
        return directory
    return directory / "namespaces" / _encode(settings.namespace)


# settings.ttl is ignored: files stay until delete_thread removes them. Expire old
# threads with `lg-memory prune --older-than`, or use a store that has TTLs built in.
# settings.async_ is ignored too: the same saver serves sync and async graphs.


@contextmanager
def open_saver(settings: Settings) -> Iterator[FileCheckpointSaver]:
    saver = FileCheckpointSaver(_namespace_root(settings))
    saver.setup()
    yield saver


@asynccontextmanager
async def aopen_saver(settings: Settings) -> AsyncIterator[FileCheckpointSaver]:
    saver = FileCheckpointSaver(_namespace_root(settings))
    await asyncio.to_thread(saver.setup)
    yield saver


# Native operations for `lg-memory` (see ../store.py), built on the same primitives.
def stats(saver: FileCheckpointSaver, settings: Settings) -> Stats:
    found = threads(saver, None)
    size = sum(f.stat().st_size for f in (saver.root / "threads").rglob("*") if f.is_file())
    return Stats(len(found), sum(t.checkpoints for t in found), size)


def threads(saver: FileCheckpointSaver, limit: int | None) -> list[Thread]:
    """Threads, most recently updated first, from the file names alone."""
    found = []
    for thread in saver._iter(("threads",)):
        ids = [
            _decode(name)
            for ns in saver._iter(("threads", thread))
            for name in saver._iter(("threads", thread, ns, "checkpoints"))
        ]
        if ids:
            found.append(Thread(_decode(thread), len(ids), max(ids)))
    found.sort(key=lambda t: t.latest_id, reverse=True)
    return found[:limit] if limit is not None else found


def delete_checkpoint(saver: FileCheckpointSaver, target: CheckpointTuple) -> None:
    """Delete one checkpoint and its writes; its children then hang from its parent.

    Channel values stay: other checkpoints of the thread may share them.
    """
    c = target.config["configurable"]
    ns_key = saver._ns_key(c["thread_id"], c["checkpoint_ns"])
    parent = parent_id(target)
    for name in saver._iter((*ns_key, "checkpoints")):
        document = saver._read((*ns_key, "checkpoints", name))
        if document is not None and document["parent_checkpoint_id"] == c["checkpoint_id"]:
            document["parent_checkpoint_id"] = parent
            saver._write((*ns_key, "checkpoints", name), document)
    saver._delete((*ns_key, "writes", _encode(c["checkpoint_id"])))
    saver._file((*ns_key, "checkpoints", _encode(c["checkpoint_id"]))).unlink(missing_ok=True)
