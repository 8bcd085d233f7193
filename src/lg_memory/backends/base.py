"""The interface every backend implements, with generic defaults over LangGraph's saver API.

A backend opens savers (`open_saver`, `aopen_saver`: the only two methods it must write) and
may replace any default below with a native query of its store: the defaults work on any
`BaseCheckpointSaver`, but read every checkpoint to count, list or export.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator, Iterable, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Any, ClassVar

from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

from .. import store, transfer
from ..settings import CheckpointError, Settings
from ..store import Stats, Thread

Saver = BaseCheckpointSaver[Any]


class Backend:
    """One kind of store. Stateless: every method takes the saver it works on."""

    name: ClassVar[str]
    # Set when `load_records` writes export records as they are (no value decoded).
    bulk_loads: ClassVar[bool] = False

    def open_saver(self, settings: Settings) -> AbstractContextManager[Saver]:
        """A ready sync saver (storage initialised); closes its connections on exit."""
        raise NotImplementedError

    def aopen_saver(self, settings: Settings) -> AbstractAsyncContextManager[Saver]:
        """The same for async code (`ainvoke`, `astream`)."""
        raise NotImplementedError

    def exists(self, settings: Settings) -> bool:
        """Whether the store is there already (a file store's file); opening creates it."""
        return True

    def stats(self, saver: Saver, settings: Settings) -> Stats:
        """Threads, checkpoints and bytes stored (None: the store cannot tell)."""
        counts = Counter(t.config["configurable"]["thread_id"] for t in saver.list(None))
        return Stats(len(counts), sum(counts.values()), None)

    def threads(self, saver: Saver, limit: int | None) -> list[Thread]:
        """Threads, most recently updated first."""
        found: dict[str, Thread] = {}
        for t in saver.list(None):
            thread_id = t.config["configurable"]["thread_id"]
            checkpoint_id = t.checkpoint["id"]
            old = found.get(thread_id)
            found[thread_id] = Thread(
                thread_id,
                (old.checkpoints if old else 0) + 1,
                max(checkpoint_id, old.latest_id) if old else checkpoint_id,
            )
        ordered = sorted(found.values(), key=lambda t: t.latest_id, reverse=True)
        return ordered[:limit] if limit is not None else ordered

    def history(
        self, saver: Saver, thread_id: str, limit: int | None = None
    ) -> Iterator[CheckpointTuple]:
        """The checkpoints of a thread, in all its namespaces, newest first."""
        return store.history(saver, thread_id, limit)

    def delete_thread(self, saver: Saver, thread_id: str) -> None:
        """Delete every checkpoint and write of the thread."""
        saver.delete_thread(thread_id)

    def tuples(self, saver: Saver, thread_id: str | None) -> Iterator[CheckpointTuple]:
        """The store (or one thread) in export order, pending writes included."""
        return transfer.iter_store(saver, thread_id)

    def records(self, saver: Saver, thread_id: str | None) -> Generator[transfer.Json]:
        """The store (or one thread) as export records, in export order."""
        for t in self.tuples(saver, thread_id):
            yield transfer.record(t, saver.serde)

    def load_records(self, saver: Saver, records: Iterable[transfer.Json]) -> None:
        """Write export records as they are, in one transaction (see `bulk_loads`)."""
        raise NotImplementedError

    def delete_checkpoint(self, saver: Saver, target: CheckpointTuple) -> None:
        """Delete one checkpoint and its writes; its children then hang from its parent."""
        raise CheckpointError(f"clearing a single checkpoint is not supported on {self.name}")

    def keep_last(self, saver: Saver, thread_id: str, keep: int) -> None:
        """Delete all but the newest `keep` checkpoints of each namespace of the thread."""
        chains: dict[str, list[CheckpointTuple]] = {}
        for t in self.history(saver, thread_id):
            chains.setdefault(t.config["configurable"]["checkpoint_ns"], []).append(t)
        for chain in chains.values():
            for old in chain[keep:]:  # newest first, so these are the oldest
                self.delete_checkpoint(saver, old)

    def vacuum(self, saver: Saver) -> None:
        """Give the space of deleted data back (where the store keeps it otherwise)."""

    def describe_error(self, exc: BaseException) -> str | None:
        """A one-line message naming the problem (the seed's error classes: connection failed,
        storage full, corrupted data) for an error of this backend's driver, or None."""
        return None

    def loader(self, saver: Saver) -> transfer.Loader | None:
        """The bulk writer of export records, when values can go in as they are: the saver
        must serialise as LangGraph's plain serializer does (not encrypt, say). Without it,
        an import writes through the saver's `put`."""
        if not self.bulk_loads or not transfer.plain_serde(saver.serde):
            return None

        def load(records: Iterable[transfer.Json]) -> None:
            self.load_records(saver, records)

        return load


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def server_error(exc: BaseException, *modules: str) -> str | None:
    """`connection failed` or `storage full` for an error raised by one of `modules`."""
    if type(exc).__module__.split(".")[0] not in modules:
        return None
    text = first_line(exc)
    if ("disk" in text and "full" in text) or "OOM" in text:
        return f"storage full: {text}"
    return f"connection failed: {text}"
