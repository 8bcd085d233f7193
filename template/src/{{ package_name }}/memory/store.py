"""What is stored, backend-independently: counts, threads, histories, deletions, records.

Each operation uses the backend module's native query when it has one (`stats`,
`threads`, `delete_checkpoint`, `iter_store`, `iter_records`, `load_records`), and otherwise
LangGraph's public saver API.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from . import transfer
from .settings import CheckpointError, Settings

Saver = BaseCheckpointSaver[Any]


@dataclass(frozen=True)
class Stats:
    threads: int
    checkpoints: int
    storage_bytes: int | None  # None: the backend cannot tell


@dataclass(frozen=True)
class Thread:
    thread_id: str
    checkpoints: int
    latest_id: str  # checkpoint ids sort by time, so this dates the thread


def stats(backend: ModuleType, saver: Saver, settings: Settings) -> Stats:
    if hasattr(backend, "stats"):
        result: Stats = backend.stats(saver, settings)
        return result
    counts = Counter(t.config["configurable"]["thread_id"] for t in saver.list(None))
    return Stats(len(counts), sum(counts.values()), None)


def threads(backend: ModuleType, saver: Saver, limit: int | None = None) -> list[Thread]:
    """Threads, most recently updated first."""
    if hasattr(backend, "threads"):
        result: list[Thread] = backend.threads(saver, limit)
        return result
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


def thread(backend: ModuleType, saver: Saver, thread_id: str) -> Thread:
    """One thread's summary, counted like `threads` (Redis' list() would stop at 10,000)."""
    for found in threads(backend, saver):
        if found.thread_id == thread_id:
            return found
    raise CheckpointError(f"checkpoint not found: no thread {thread_id!r} in this namespace")


def checkpoint_config(thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> RunnableConfig:
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": checkpoint_ns,
            "checkpoint_id": checkpoint_id,
        }
    }


def saved_record(saver: Saver, key: tuple[str, str, str]) -> transfer.Json:
    """The export record of one checkpoint, read through the saver's `get_tuple`."""
    tup = saver.get_tuple(checkpoint_config(*key))
    if tup is None:
        raise CheckpointError(f"checkpoint {key[2]} of thread {key[0]!r} vanished while read")
    return transfer.record(tup, saver.serde)


def tuples(backend: ModuleType, saver: Saver, thread_id: str | None) -> Iterator[CheckpointTuple]:
    """The store (or one thread) in export order, through the backend's listing if it has one."""
    if hasattr(backend, "iter_store"):
        found: Iterator[CheckpointTuple] = backend.iter_store(saver, thread_id)
        return found
    return transfer.iter_store(saver, thread_id)


def records(
    backend: ModuleType, saver: Saver, thread_id: str | None
) -> Generator[transfer.Json, None, None]:
    """The store (or one thread) as export records: read natively where the backend can."""
    if hasattr(backend, "iter_records"):
        yield from backend.iter_records(saver, thread_id)
    else:
        yield from (transfer.record(t, saver.serde) for t in tuples(backend, saver, thread_id))


def record_loader(backend: ModuleType, saver: Saver) -> transfer.Loader | None:
    """The backend's bulk writer of export records, when values can go in as they are: the
    saver must serialise as LangGraph's plain serializer does (not encrypt, say). Without it,
    an import writes through the saver's `put`."""
    if not hasattr(backend, "load_records") or type(saver.serde) is not JsonPlusSerializer:
        return None

    def load(records: Iterable[transfer.Json]) -> None:
        backend.load_records(saver, records)

    return load


def history(saver: Saver, thread_id: str, limit: int | None = None) -> Iterator[CheckpointTuple]:
    """The checkpoints of a thread, in all its namespaces, newest first."""
    return saver.list({"configurable": {"thread_id": thread_id}}, limit=limit)


def require_thread(saver: Saver, thread_id: str) -> None:
    if saver.get_tuple({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}) is None:
        raise CheckpointError(f"checkpoint not found: no thread {thread_id!r} in this namespace")


def find_checkpoint(saver: Saver, thread_id: str, checkpoint_id: str) -> CheckpointTuple:
    for t in history(saver, thread_id):
        if t.checkpoint["id"] == checkpoint_id:
            return t
    raise CheckpointError(
        f"checkpoint not found: thread {thread_id!r} has no checkpoint {checkpoint_id!r}"
    )


def delete_checkpoint(backend: ModuleType, saver: Saver, target: CheckpointTuple) -> None:
    """Delete one checkpoint and its writes; its children then hang from its parent."""
    if not hasattr(backend, "delete_checkpoint"):
        raise CheckpointError(
            f"clearing a single checkpoint is not supported by the {backend.__name__} backend"
        )
    backend.delete_checkpoint(saver, target)


def parent_id(t: CheckpointTuple) -> str | None:
    return t.parent_config["configurable"]["checkpoint_id"] if t.parent_config else None


def step_name(current: CheckpointTuple, parent: CheckpointTuple | None) -> str:
    """The node(s) that produced a checkpoint: those whose `versions_seen` moved."""
    source = current.metadata.get("source") if current.metadata else None
    if source == "input":
        return "input"
    if source == "update":
        return "update_state"
    seen = current.checkpoint.get("versions_seen", {})
    before = parent.checkpoint.get("versions_seen", {}) if parent else {}
    # __interrupt__ tracks what interrupts have seen, not a node that ran.
    nodes = [n for n, v in seen.items() if n != "__interrupt__" and before.get(n) != v]
    return ", ".join(sorted(nodes)) or str(source or "?")


def timestamp(checkpoint_ts: str) -> str:
    """ISO UTC from the checkpoint -> local `YYYY-MM-DD HH:MM:SS`."""
    try:
        return datetime.fromisoformat(checkpoint_ts).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return checkpoint_ts
