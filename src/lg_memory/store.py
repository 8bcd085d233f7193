"""What is stored, backend-independently: threads, histories, steps, and the records of
checkpoints read through a saver. Counting, listing and deleting are the backend's
(see backends/base.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

from . import transfer
from .settings import CheckpointError

if TYPE_CHECKING:
    from .backends.base import Backend

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


def thread(backend: Backend, saver: Saver, thread_id: str) -> Thread:
    """One thread's summary, counted like `threads` (Redis' list() would stop at 10,000)."""
    for found in backend.threads(saver, None):
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


def history(saver: Saver, thread_id: str, limit: int | None = None) -> Iterator[CheckpointTuple]:
    """The checkpoints of a thread, in all its namespaces, newest first."""
    return saver.list({"configurable": {"thread_id": thread_id}}, limit=limit)


def require_thread(saver: Saver, thread_id: str) -> None:
    if saver.get_tuple({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}) is None:
        raise CheckpointError(f"checkpoint not found: no thread {thread_id!r} in this namespace")


def find_checkpoint(
    backend: Backend, saver: Saver, thread_id: str, checkpoint_id: str
) -> CheckpointTuple:
    for t in backend.history(saver, thread_id):
        if t.checkpoint["id"] == checkpoint_id:
            return t
    raise CheckpointError(
        f"checkpoint not found: thread {thread_id!r} has no checkpoint {checkpoint_id!r}"
    )


def parent_id(t: CheckpointTuple) -> str | None:
    return t.parent_config["configurable"]["checkpoint_id"] if t.parent_config else None


def next_nodes(latest: CheckpointTuple) -> tuple[str, ...]:
    """The nodes a thread runs next (where it paused), read from its latest checkpoint alone:
    those whose trigger channel (`branch:to:<node>`) holds a write they have not seen (a
    consumed trigger is emptied, so it leaves the checkpoint's values)."""
    checkpoint = latest.checkpoint
    versions, seen = checkpoint["channel_versions"], checkpoint["versions_seen"]
    return tuple(
        sorted(
            channel.removeprefix("branch:to:")
            for channel in checkpoint["channel_values"]
            if channel.startswith("branch:to:")
            and seen.get(channel.removeprefix("branch:to:"), {}).get(channel)
            != versions.get(channel)
        )
    )


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
