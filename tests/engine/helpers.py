"""What the engine's tests share: the example agent's threads, exports and their comparison."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypedDict

from example_agent.graph import compile_graph
from langchain_core.runnables import RunnableConfig
from langgraph.channels.delta import DeltaChannel
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from lg_memory import Settings, backends, catalog, open_checkpointer
from lg_memory.transfer import Summary, export_checkpoints, import_checkpoints, iter_store

Saver = BaseCheckpointSaver[Any]

TYPES = tuple(catalog.BACKENDS)
# The backends with a server of their own (a compose image): tests/services.py starts them.
SERVER_TYPES = tuple(t for t in TYPES if catalog.BACKENDS[t].get("image"))
# Backends whose `loader` writes export records as they are (an import's second path).
BULK_TYPES = tuple(t for t in TYPES if backends.load(t).bulk_loads)
# Backends that read export records from their tables (not through the saver's `list()`).
NATIVE_TYPES = tuple(
    t for t in TYPES if type(backends.load(t)).records is not backends.Backend.records
)
# The fixtures of conftest.py: `fresh(type)` and `cli(*args)`.
Fresh = Callable[[str], Settings]
CLI = Callable[..., tuple[int, str, str]]


def config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


def new_thread(name: str = "test") -> RunnableConfig:
    return config(f"{name}-{uuid.uuid4()}")


def run_example(saver: Saver) -> dict[str, RunnableConfig]:
    """Three threads of the example graph: one paused at human_review, one finished, one
    finished and then replayed from its pause with another answer (a fork)."""
    app = compile_graph(saver)
    # Ids and text beyond ASCII: exports are UTF-8, and every backend sorts ids the same way.
    threads = {"paused": new_thread("Zoë ☕"), "done": new_thread(), "forked": new_thread("été")}
    for name, thread in threads.items():
        app.invoke({"messages": [f"Request {name} ✓"]}, thread)
        if name != "paused":
            app.update_state(thread, {"approved": True})
            app.invoke(None, thread)
    history = list(app.get_state_history(threads["forked"]))
    pause = next(s for s in reversed(history) if s.next == ("human_review",))
    app.invoke(None, app.update_state(pause.config, {"approved": False}))
    return threads


def fill(settings: Settings) -> tuple[str, str]:
    """Two threads of the example graph: one finished, one paused before human_review."""
    done, paused = f"done-{uuid.uuid4().hex[:6]}", f"paused-{uuid.uuid4().hex[:6]}"
    with open_checkpointer(settings) as saver:
        app = compile_graph(saver)
        app.invoke({"messages": ["Book a table"]}, config(done))
        app.update_state(config(done), {"approved": True})
        app.invoke(None, config(done))
        app.invoke({"messages": ["Find a flight"]}, config(paused))
    return done, paused


def history(settings: Settings, thread_id: str) -> list[str]:
    """The checkpoint ids of a thread's root graph, newest first, as the graph reads them."""
    with open_checkpointer(settings) as saver:
        return [
            s.config["configurable"]["checkpoint_id"]
            for s in compile_graph(saver).get_state_history(config(thread_id))
        ]


def histories(saver: Saver, threads: dict[str, RunnableConfig]) -> dict[str, list[Any]]:
    app = compile_graph(saver)
    return {
        name: [(s.values, s.next) for s in app.get_state_history(thread)]
        for name, thread in threads.items()
    }


def export(saver: Saver, thread_id: str | None = None) -> bytes:
    """The store (or one thread) exported through the generic listing (`iter_store`)."""
    out = io.BytesIO()
    export_checkpoints(
        iter_store(saver, thread_id), out, source={"test": True}, thread_id=thread_id
    )
    return out.getvalue()


def comparable(data: bytes) -> tuple[Any, ...]:
    """An export without what differs between two exports of one store: the time it was made
    and its source (and so the checksum, which covers the header)."""
    header, *records, trailer = data.splitlines()
    return (
        {**json.loads(header), "created_at": None, "source": None},
        records,
        {**json.loads(trailer), "sha256": None},
    )


def records_of(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.splitlines()[1:-1]]


def write(tmp_path: Path, data: bytes, name: str = "backup.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def load(via: str, settings: Settings, saver: Saver, path: Path, **options: Any) -> Summary:
    """`import_checkpoints` of `path` into `saver` (of `settings`), written `via` the saver's
    API or the backend's bulk loader."""
    if via == "saver API":
        return import_checkpoints(saver, path, **options)
    loader = backends.load(settings.type).loader(saver)
    assert loader is not None, f"the {settings.type} backend has no bulk loader"
    return import_checkpoints(saver, path, loader=loader, **options)


def resealed(lines: list[bytes], trailer: dict[str, Any]) -> bytes:
    """The lines with a trailer whose checksum matches them, as an attacker would write it."""
    body = b"".join(line + b"\n" for line in lines)
    trailer = {**trailer, "sha256": hashlib.sha256(body).hexdigest()}
    return body + json.dumps(trailer).encode() + b"\n"


def concatenated(state: list[str] | None, writes: list[list[str]]) -> list[str]:
    return [*(state or []), *(item for write in writes for item in write)]


class Chat(TypedDict, total=False):
    # A DeltaChannel (beta in LangGraph 1.2) stores a marker per checkpoint; its value is
    # rebuilt by replaying the writes of earlier checkpoints back to a snapshot.
    items: Annotated[list[str], DeltaChannel(concatenated, snapshot_frequency=3)]


def reply(state: Chat) -> dict[str, Any]:
    return {"items": [f"reply {len(state.get('items', []))}"]}


def chat_graph(checkpointer: Saver) -> CompiledStateGraph[Any]:
    """A chat whose items are a DeltaChannel, snapshotted every third update."""
    graph = StateGraph(Chat)
    graph.add_node("reply", reply)
    graph.add_edge(START, "reply")
    return graph.compile(checkpointer=checkpointer)
