"""Which checkpoints of a thread may go: the one rule behind every partial delete.

A DeltaChannel (LangGraph 1.2, beta; deepagents keeps `messages` and `files` in them) stores a
sentinel in most checkpoints. LangGraph rebuilds its value at a checkpoint K by walking K's
ancestors, from K's parent up (`get_delta_channel_history`): it collects each ancestor's
pending writes to the channel until it reaches one whose `channel_values` holds the channel (a
`_DeltaSnapshot`, the seed), or the root. Those ancestors, with their pending writes and the
blobs they reference, are what K *reads*. Delete one and K silently rebuilds an empty (or
shorter) value.

The rule, for every backend and every partial delete (`prune`, `clear --checkpoint-id`, the
savers' `prune` and `delete_for_runs`):

- a checkpoint kept keeps what it reads, and what those read in turn (`Chain.closure`);
- so `keep_last` keeps, beyond the newest N of each namespace, the chain back to a snapshot
  (`Plan.held`); a thread that never wrote one is kept whole;
- a checkpoint is deleted alone only when no remaining checkpoint reads it (else `Refused`);
- children of a deleted checkpoint hang from its nearest remaining ancestor (`Plan.parents`).

Which channels are DeltaChannels is read from the store, not from the graph: a checkpoint's
metadata lists them (`counters_since_delta_snapshot`), a snapshot value is one, and LangGraph.js
marks such threads `delta_writes_versioned` (then every channel without a stored value counts).
This module does no I/O: the backends read the checkpoints and delete what a `Plan` says.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from langgraph.checkpoint.base import CheckpointTuple
from langgraph.checkpoint.serde.types import _DeltaSnapshot

from .settings import CheckpointError

Key = tuple[str, str]  # (checkpoint_ns, checkpoint_id)

COUNTERS = "counters_since_delta_snapshot"  # metadata of a checkpoint of a DeltaChannel graph
JS_MARKER = "delta_writes_versioned"  # LangGraph.js' mark on such threads


@dataclass(frozen=True)
class Node:
    """What the rule needs of one checkpoint (no values)."""

    ns: str
    id: str
    parent: str | None
    seeded: frozenset[str] = frozenset()  # channels whose value it stores
    versioned: frozenset[str] = frozenset()  # channels it has a version of
    delta: frozenset[str] = frozenset()  # channels it shows to be DeltaChannels
    marked: bool = False  # LangGraph.js' DeltaChannel mark

    @property
    def key(self) -> Key:
        return self.ns, self.id


def node(t: CheckpointTuple) -> Node:
    """A checkpoint read through a saver, as the rule sees it."""
    c = t.config["configurable"]
    values = t.checkpoint.get("channel_values") or {}
    metadata = t.metadata or {}
    counters = metadata.get("counters_since_delta_snapshot") or {}  # beta: COUNTERS
    snapshots = {ch for ch, value in values.items() if isinstance(value, _DeltaSnapshot)}
    return Node(
        c.get("checkpoint_ns", ""),
        c["checkpoint_id"],
        t.parent_config["configurable"]["checkpoint_id"] if t.parent_config else None,
        frozenset(values),
        frozenset(t.checkpoint.get("channel_versions") or {}),
        frozenset(counters) | frozenset(snapshots),
        JS_MARKER in metadata,
    )


class Refused(CheckpointError):
    """A checkpoint asked to go is read by remaining ones (`Chain.without(..., hold=False)`)."""

    def __init__(self, thread_id: str, key: Key, readers: int) -> None:
        self.thread_id, self.key, self.readers = thread_id, key, readers
        super().__init__(
            f"thread {thread_id} uses a DeltaChannel: checkpoint {key[1]} is replayed to "
            f"rebuild the state of {readers} later checkpoint{'s' if readers != 1 else ''}, "
            "so it cannot be deleted alone; nothing was deleted (clear the whole thread, "
            "or prune it: prune keeps what the replay reads)"
        )


@dataclass(frozen=True)
class Plan:
    """What a partial delete of one thread deletes, and what it changes in what stays."""

    thread_id: str
    doomed: tuple[Node, ...] = ()  # newest first
    held: tuple[Key, ...] = ()  # asked to go (or beyond the newest N), kept for a replay
    parents: dict[Key, str | None] = field(default_factory=dict)  # new parents of the rest
    remaining: int = 0
    # Namespaces whose newest checkpoint goes: their newest remaining one (None: none left).
    latest: dict[str, str | None] = field(default_factory=dict)

    @property
    def keys(self) -> list[Key]:
        return [n.key for n in self.doomed]

    def describe(self) -> str | None:
        """`deletes N checkpoints (kept K more: a DeltaChannel replays them)`, `kept whole: ...`,
        or None when there is nothing to say."""
        if not self.doomed and not self.held:
            return None
        held = len(self.held)
        if not self.doomed:
            return f"kept whole: a DeltaChannel replays {held} older checkpoint" + (
                "s" if held != 1 else ""
            )
        text = f"{len(self.doomed)} checkpoint{'s' if len(self.doomed) != 1 else ''}"
        if held:
            text += f" (kept {held} more: a DeltaChannel replays them)"
        return text


class Chain:
    """The checkpoints of one thread, and which of them rebuilding each one reads."""

    def __init__(self, thread_id: str, nodes: Iterable[Node]) -> None:
        self.thread_id = thread_id
        self.nodes: dict[Key, Node] = {}
        self.delta: dict[str, set[str]] = {}
        self.marked: set[str] = set()
        for n in nodes:
            self.nodes[n.key] = n
            self.delta.setdefault(n.ns, set()).update(n.delta)
            if n.marked:
                self.marked.add(n.ns)

    def replayed(self, n: Node) -> set[str]:
        """The channels LangGraph rebuilds at `n` from its ancestors."""
        if n.ns in self.marked:
            return set(n.versioned - n.seeded)
        return (self.delta.get(n.ns, set()) & n.versioned) - n.seeded

    def reads(self, key: Key) -> list[Key]:
        """The ancestors whose writes (or snapshot) rebuilding `key` reads, nearest first."""
        n = self.nodes[key]
        wanted = self.replayed(n)
        found: list[Key] = []
        cursor = n.parent
        while wanted and cursor is not None:
            ancestor = self.nodes.get((n.ns, cursor))
            if ancestor is None:  # the root of what is stored
                break
            found.append(ancestor.key)
            wanted -= ancestor.seeded
            cursor = ancestor.parent
        return found

    def closure(self, kept: Iterable[Key]) -> set[Key]:
        """`kept`, with what each of them reads, and what those read in turn."""
        result = set(kept)
        todo = list(result)
        while todo:
            for key in self.reads(todo.pop()):
                if key not in result:
                    result.add(key)
                    todo.append(key)
        return result

    def newest(self, keep: int) -> set[Key]:
        """The newest `keep` checkpoints of each namespace."""
        by_ns: dict[str, list[str]] = {}
        for ns, checkpoint_id in self.nodes:
            by_ns.setdefault(ns, []).append(checkpoint_id)
        return {(ns, i) for ns, ids in by_ns.items() for i in sorted(ids, reverse=True)[:keep]}

    def keep_last(self, keep: int) -> Plan:
        """Keep the newest `keep` checkpoints of each namespace, and what they read."""
        newest = self.newest(keep)
        kept = self.closure(newest)
        return self._plan(set(self.nodes) - kept, held=kept - newest)

    def without(self, asked: Collection[Key], *, hold: bool) -> Plan:
        """Delete `asked` (those of this thread). What remaining checkpoints read stays: held
        back when `hold`, else the whole delete is `Refused`."""
        asked = {key for key in asked if key in self.nodes}
        kept = self.closure(set(self.nodes) - asked)
        needed = asked & kept
        if needed and not hold:
            key = max(needed, key=lambda k: k[1])
            remaining = set(self.nodes) - asked
            raise Refused(self.thread_id, key, sum(key in self.closure([k]) for k in remaining))
        return self._plan(asked - needed, held=needed)

    def _plan(self, doomed: set[Key], held: set[Key]) -> Plan:
        parents: dict[Key, str | None] = {}
        for key, n in self.nodes.items():
            if key in doomed or n.parent is None or (n.ns, n.parent) not in doomed:
                continue
            parent: str | None = n.parent
            while parent is not None and (n.ns, parent) in doomed:
                parent = self.nodes[(n.ns, parent)].parent
            parents[key] = parent
        latest: dict[str, str | None] = {}
        for ns in {ns for ns, _ in doomed}:
            ids = sorted((i for s, i in self.nodes if s == ns), reverse=True)
            if (ns, ids[0]) in doomed:
                latest[ns] = next((i for i in ids if (ns, i) not in doomed), None)
        return Plan(
            self.thread_id,
            tuple(sorted((self.nodes[k] for k in doomed), key=lambda n: n.id, reverse=True)),
            tuple(sorted(held)),
            parents,
            len(self.nodes) - len(doomed),
            latest,
        )
