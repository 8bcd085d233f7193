"""`copy_thread`, `prune` and `delete_for_runs` (and their async twins) for any saver.

LangGraph's `BaseCheckpointSaver` declares them without implementing them, and the LangGraph
Agent Server (`langgraph dev`) asks a project's checkpointer for `acopy_thread` (`POST
/threads/<id>/copy`), `aprune` (thread TTL sweeps, `keep_latest`) and `adelete_for_runs`
(`multitask_strategy="rollback"`), warning at startup for each one it lacks. Every saver
lg-memory opens has them (each backend subclasses its saver with `ThreadOps` or
`AsyncThreadOps`), and so has the `custom` backend's FileCheckpointSaver.

One implementation over LangGraph's public saver API, DeltaChannel-safe by the rule of
chains.py: `keep_latest` keeps the chain a DeltaChannel replays, `delete_for_runs` keeps a
run's checkpoints that a remaining one replays, and children of a deleted checkpoint hang from
its nearest remaining ancestor. What it deletes goes through hooks (`_lg_*`) that a backend
replaces with its store's native operations.

- `copy_thread(source, target)`: every checkpoint of `source` (all namespaces, oldest first,
  each with its parent and pending writes) put under `target`, which must have none.
- `prune(thread_ids, strategy="keep_latest" | "delete", keep_last=None)`: keep the newest
  checkpoint (or `keep_last` ones; 0 deletes) of each namespace, and what they replay; or
  delete the whole thread.
- `delete_for_runs(run_ids)`: the checkpoints whose metadata `run_id` is one of them, with their
  pending writes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple, V

from .chains import Chain, Key, Plan, node

__all__ = ["PRUNE_STRATEGIES", "AsyncThreadOps", "ThreadOps"]

PRUNE_STRATEGIES = ("keep_latest", "delete")


def _thread(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


def _at(thread_id: str, checkpoint_ns: str, checkpoint_id: str | None) -> RunnableConfig:
    configurable = {"thread_id": thread_id, "checkpoint_ns": checkpoint_ns}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


def _of(thread_id: str, tuples: Iterable[CheckpointTuple]) -> list[CheckpointTuple]:
    """The tuples of that thread (a store's thread query may match others: Redis' does)."""
    return [t for t in tuples if t.config["configurable"]["thread_id"] == thread_id]


def _kept(thread_ids: Sequence[str], strategy: str, keep_last: int | None) -> int:
    """How many checkpoints per namespace a prune keeps (0: the whole thread goes)."""
    if isinstance(thread_ids, str):
        raise TypeError("thread_ids must be a sequence of thread IDs, not a str")
    if strategy not in PRUNE_STRATEGIES:
        raise ValueError(f"Unknown prune strategy: {strategy!r} (use keep_latest or delete)")
    if keep_last is not None and keep_last < 0:
        raise ValueError(f"keep_last must be 0 or more, got {keep_last}")
    return keep_last if keep_last is not None else int(strategy == "keep_latest")


def _copies(
    source: list[CheckpointTuple], target_thread_id: str
) -> list[tuple[RunnableConfig, CheckpointTuple, dict[str, Any], dict[str, list[Any]]]]:
    """(config to put under, tuple, metadata, writes by task) of each checkpoint to copy, oldest
    first: parents before their children, and the newest of each namespace put last."""
    found = []
    for t in sorted(source, key=lambda t: t.checkpoint["id"]):
        c = t.config["configurable"]
        parent = t.parent_config["configurable"]["checkpoint_id"] if t.parent_config else None
        metadata: dict[str, Any] = dict(t.metadata or {})
        if "thread_id" in metadata:  # the Agent Server records it
            metadata["thread_id"] = target_thread_id
        writes: dict[str, list[Any]] = {}
        for task_id, channel, value in t.pending_writes or ():
            writes.setdefault(task_id, []).append((channel, value))
        config = _at(target_thread_id, c.get("checkpoint_ns", ""), parent)
        found.append((config, t, metadata, writes))
    return found


def _runs(run_ids: Sequence[str], tuples: Iterable[CheckpointTuple]) -> dict[str, set[Key]]:
    """The checkpoints of those runs, by thread."""
    wanted = {str(r) for r in run_ids}
    found: dict[str, set[Key]] = {}
    for t in tuples:
        if str((t.metadata or {}).get("run_id")) in wanted:
            c = t.config["configurable"]
            key = (c.get("checkpoint_ns", ""), c["checkpoint_id"])
            found.setdefault(c["thread_id"], set()).add(key)
    return found


class ThreadOps(BaseCheckpointSaver[V]):
    """The three methods over a saver's sync API; the async ones run them in a worker thread.

    For a sync saver (or one whose async methods run sync code in a thread). Deleting single
    checkpoints needs a native operation: a subclass gives `_lg_delete`, or the saver has
    `delete_checkpoint(config, parent_id)` (as lg-memory's custom backend expects).
    """

    # -- storage hooks --------------------------------------------------------------------

    def _lg_history(self, thread_id: str) -> list[CheckpointTuple]:
        """Every checkpoint of the thread, in all its namespaces, with pending writes."""
        return _of(thread_id, self.list(_thread(thread_id)))

    def _lg_chain(self, thread_id: str) -> Chain:
        return Chain(thread_id, map(node, self._lg_history(thread_id)))

    def _lg_runs(self, run_ids: Sequence[str]) -> dict[str, set[Key]]:
        return _runs(
            run_ids, (t for r in run_ids for t in self.list(None, filter={"run_id": str(r)}))
        )

    def _lg_delete(self, plan: Plan) -> None:
        """Delete what the plan says (see chains.Plan)."""
        delete: Any = getattr(self, "delete_checkpoint", None)
        if not callable(delete):
            raise NotImplementedError(
                f"{type(self).__name__} cannot delete single checkpoints: give it "
                "delete_checkpoint(config, parent_id)"
            )
        for n in plan.doomed:  # newest first: its parent is still there
            delete(_at(plan.thread_id, n.ns, n.id), n.parent)

    def _lg_drop(self, thread_id: str) -> None:
        self.delete_thread(thread_id)

    # -- the methods ----------------------------------------------------------------------

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint of a thread, with its pending writes, to a new thread."""
        source_thread_id, target_thread_id = str(source_thread_id), str(target_thread_id)
        if source_thread_id == target_thread_id:
            raise ValueError("copy_thread needs two different threads")
        if self._lg_history(target_thread_id):
            raise ValueError(f"thread {target_thread_id} has checkpoints already")
        for config, t, metadata, writes in _copies(
            self._lg_history(source_thread_id), target_thread_id
        ):
            versions = t.checkpoint["channel_versions"]
            stored = self.put(config, t.checkpoint, metadata, versions)  # type: ignore[arg-type]
            for task_id, task_writes in writes.items():
                self.put_writes(stored, task_writes, task_id)

    def prune(
        self,
        thread_ids: Sequence[str],
        *,
        strategy: str = "keep_latest",
        keep_last: int | None = None,
    ) -> None:
        """`keep_latest`: keep the newest checkpoint (or `keep_last` ones) of each namespace of
        the threads, and what their DeltaChannels replay; `delete`: delete the threads."""
        keep = _kept(thread_ids, strategy, keep_last)
        for thread_id in map(str, thread_ids):
            if keep == 0:
                self._lg_drop(thread_id)
            else:
                self._lg_delete(self._lg_chain(thread_id).keep_last(keep))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints (and their pending writes) the runs made, but those that a
        remaining checkpoint's DeltaChannel replays."""
        for thread_id, keys in self._lg_runs(list(map(str, run_ids))).items():
            self._lg_delete(self._lg_chain(thread_id).without(keys, hold=True))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await asyncio.to_thread(self.copy_thread, source_thread_id, target_thread_id)

    async def aprune(
        self,
        thread_ids: Sequence[str],
        *,
        strategy: str = "keep_latest",
        keep_last: int | None = None,
    ) -> None:
        await asyncio.to_thread(self.prune, thread_ids, strategy=strategy, keep_last=keep_last)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await asyncio.to_thread(self.delete_for_runs, run_ids)


class AsyncThreadOps(ThreadOps[V]):
    """The three methods over an async saver's API (AsyncPostgresSaver, AsyncSqliteSaver,
    AsyncRedisSaver). The sync ones wait for the async ones on the saver's event loop, from
    another thread, as those savers' own sync methods do. A subclass gives `_lg_adelete`."""

    async def _lg_ahistory(self, thread_id: str) -> list[CheckpointTuple]:
        return _of(thread_id, [t async for t in self.alist(_thread(thread_id))])

    async def _lg_achain(self, thread_id: str) -> Chain:
        return Chain(thread_id, map(node, await self._lg_ahistory(thread_id)))

    async def _lg_aruns(self, run_ids: Sequence[str]) -> dict[str, set[Key]]:
        found = [t for r in run_ids async for t in self.alist(None, filter={"run_id": str(r)})]
        return _runs(run_ids, found)

    async def _lg_adelete(self, plan: Plan) -> None:
        raise NotImplementedError

    async def _lg_adrop(self, thread_id: str) -> None:
        await self.adelete_thread(thread_id)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        source_thread_id, target_thread_id = str(source_thread_id), str(target_thread_id)
        if source_thread_id == target_thread_id:
            raise ValueError("copy_thread needs two different threads")
        if await self._lg_ahistory(target_thread_id):
            raise ValueError(f"thread {target_thread_id} has checkpoints already")
        for config, t, metadata, writes in _copies(
            await self._lg_ahistory(source_thread_id), target_thread_id
        ):
            versions = t.checkpoint["channel_versions"]
            stored = await self.aput(config, t.checkpoint, metadata, versions)  # type: ignore[arg-type]
            for task_id, task_writes in writes.items():
                await self.aput_writes(stored, task_writes, task_id)

    async def aprune(
        self,
        thread_ids: Sequence[str],
        *,
        strategy: str = "keep_latest",
        keep_last: int | None = None,
    ) -> None:
        keep = _kept(thread_ids, strategy, keep_last)
        for thread_id in map(str, thread_ids):
            if keep == 0:
                await self._lg_adrop(thread_id)
            else:
                await self._lg_adelete((await self._lg_achain(thread_id)).keep_last(keep))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        for thread_id, keys in (await self._lg_aruns(list(map(str, run_ids)))).items():
            await self._lg_adelete((await self._lg_achain(thread_id)).without(keys, hold=True))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._lg_wait(self.acopy_thread(source_thread_id, target_thread_id))

    def prune(
        self,
        thread_ids: Sequence[str],
        *,
        strategy: str = "keep_latest",
        keep_last: int | None = None,
    ) -> None:
        self._lg_wait(self.aprune(thread_ids, strategy=strategy, keep_last=keep_last))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._lg_wait(self.adelete_for_runs(run_ids))

    def _lg_wait(self, work: Coroutine[Any, Any, None]) -> None:
        loop: asyncio.AbstractEventLoop | None = getattr(self, "loop", None)
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop:
            work.close()
            raise asyncio.InvalidStateError(
                f"{type(self).__name__} is async: call its a* methods from its event loop "
                "(the sync ones only work from another thread)"
            )
        asyncio.run_coroutine_threadsafe(work, loop).result()
