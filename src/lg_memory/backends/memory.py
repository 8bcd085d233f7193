"""In-memory: InMemorySaver, one per namespace, shared by everything in this process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from langgraph.checkpoint.base import CheckpointTuple
from langgraph.checkpoint.memory import InMemorySaver

from ..settings import Settings
from ..store import Stats, Thread, parent_id
from .base import Backend, BackendThreadOps, Saver


class LgInMemorySaver(BackendThreadOps, InMemorySaver):
    """InMemorySaver with copy_thread, prune and delete_for_runs (see ../threadops.py)."""

    @classmethod
    def _lg_backend(cls) -> Backend:
        return BACKEND


_SAVERS: dict[str, InMemorySaver] = {}


def _saver(settings: Settings) -> InMemorySaver:
    return _SAVERS.setdefault(settings.namespace, LgInMemorySaver())


class MemoryBackend(Backend):
    name = "memory"

    @contextmanager
    def open_saver(self, settings: Settings) -> Iterator[InMemorySaver]:
        yield _saver(settings)

    @asynccontextmanager
    async def aopen_saver(self, settings: Settings) -> AsyncIterator[InMemorySaver]:
        yield _saver(settings)

    def stats(self, saver: Saver, settings: Settings) -> Stats:
        assert isinstance(saver, InMemorySaver)
        checkpoints = sum(len(ids) for ns in saver.storage.values() for ids in ns.values())
        return Stats(len(self.threads(saver, None)), checkpoints, None)

    def threads(self, saver: Saver, limit: int | None) -> list[Thread]:
        assert isinstance(saver, InMemorySaver)
        found = [
            Thread(
                thread_id, sum(map(len, ns.values())), max(max(ids) for ids in ns.values() if ids)
            )
            for thread_id, ns in saver.storage.items()
            if any(ns.values())
        ]
        found.sort(key=lambda t: t.latest_id, reverse=True)
        return found[:limit] if limit is not None else found

    def delete_checkpoint(self, saver: Saver, target: CheckpointTuple) -> None:
        assert isinstance(saver, InMemorySaver)
        c = target.config["configurable"]
        thread_id, ns, checkpoint_id = c["thread_id"], c["checkpoint_ns"], c["checkpoint_id"]
        parent = parent_id(target)
        chain = saver.storage[thread_id][ns]
        del chain[checkpoint_id]
        for child_id, (checkpoint, metadata, old_parent) in list(chain.items()):
            if old_parent == checkpoint_id:
                chain[child_id] = (checkpoint, metadata, parent)
        saver.writes.pop((thread_id, ns, checkpoint_id), None)


BACKEND = MemoryBackend()
