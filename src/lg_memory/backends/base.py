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

from langgraph.checkpoint.base import BaseCheckpointSaver, Checkpoint, CheckpointTuple

from .. import chains, store, transfer
from ..chains import Key, Plan
from ..settings import CheckpointError, Settings
from ..store import Stats, Thread, checkpoint_config
from ..threadops import ThreadOps

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

    def write_counts(self, saver: Saver) -> dict[str, int] | None:
        """The pending writes of each thread's checkpoints, where the store counts them in one
        query (None: it does not). A move compares them with what it moved, to find a thread
        written to without a new checkpoint (the writes of a step that paused)."""
        return None

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
        """Delete one checkpoint and its writes; its children then hang from its parent. Only
        `target.config` and `target.parent_config` are read (see `reference`). No check: the
        callers ask `plan_delete` first."""
        raise CheckpointError(f"clearing a single checkpoint is not supported on {self.name}")

    # Partial deletes keep what DeltaChannel replays read: the rule is chains.py's, the plans
    # are made here, and a backend only replaces how a plan's checkpoints are read or deleted.

    def chain(self, saver: Saver, thread_id: str) -> chains.Chain:
        """The thread's checkpoints as the rule sees them (a backend may read them natively)."""
        return chains.Chain(thread_id, map(chains.node, self.history(saver, thread_id)))

    def plan_keep_last(self, saver: Saver, thread_id: str, keep: int) -> Plan:
        """The newest `keep` checkpoints of each namespace of the thread stay, with what their
        DeltaChannels replay (`Plan.held`); the rest go."""
        return self.chain(saver, thread_id).keep_last(keep)

    def plan_delete(
        self, saver: Saver, thread_id: str, keys: Iterable[Key], hold: bool = False
    ) -> Plan:
        """These checkpoints go, unless a remaining one replays them: then the whole delete is
        refused (`chains.Refused`, a CheckpointError naming the thread), or with `hold`, those
        stay."""
        return self.chain(saver, thread_id).without(set(keys), hold=hold)

    def delete_checkpoints(self, saver: Saver, plan: Plan) -> None:
        """Delete a plan's checkpoints with their writes (and values no remaining checkpoint
        uses); their children hang from `plan.parents`. By default one `delete_checkpoint`
        each, newest first: each one's parent is still there when it goes, so every child ends
        under its nearest remaining ancestor."""
        for n in plan.doomed:
            self.delete_checkpoint(saver, reference(plan.thread_id, n))

    def keep_last(self, saver: Saver, thread_id: str, keep: int) -> Plan:
        """Delete all but the newest `keep` checkpoints of each namespace of the thread, and
        what their DeltaChannels replay."""
        plan = self.plan_keep_last(saver, thread_id, keep)
        self.delete_checkpoints(saver, plan)
        return plan

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


def reference(thread_id: str, n: chains.Node) -> CheckpointTuple:
    """A checkpoint's address and parent, as `delete_checkpoint` reads them (no values)."""
    checkpoint: Checkpoint = {  # type: ignore[typeddict-item]  # an address only
        "id": n.id, "channel_values": {}, "channel_versions": {}, "versions_seen": {},
    }  # fmt: skip
    parent = checkpoint_config(thread_id, n.ns, n.parent) if n.parent else None
    return CheckpointTuple(checkpoint_config(thread_id, n.ns, n.id), checkpoint, {}, parent)


class BackendThreadOps(ThreadOps[Any]):
    """`ThreadOps` whose storage hooks are a backend's native operations (for the sync savers
    lg-memory opens: each backend subclasses its saver with this)."""

    @classmethod
    def _lg_backend(cls) -> Backend:
        raise NotImplementedError

    def _lg_history(self, thread_id: str) -> list[CheckpointTuple]:
        return list(self._lg_backend().history(self, thread_id))

    def _lg_chain(self, thread_id: str) -> chains.Chain:
        return self._lg_backend().chain(self, thread_id)

    def _lg_delete(self, plan: Plan) -> None:
        self._lg_backend().delete_checkpoints(self, plan)

    def _lg_drop(self, thread_id: str) -> None:
        self._lg_backend().delete_thread(self, thread_id)


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
