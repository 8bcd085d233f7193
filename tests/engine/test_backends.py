"""What every backend gives an agent and `lg-memory`: savers that keep a thread (sync and
async, across reopening), namespaces that do not see each other, and threads counted and
listed newest first by the backend's own queries."""

from __future__ import annotations

import uuid

import pytest
from example_agent.graph import compile_graph
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.base.id import uuid6

from lg_memory import (
    CheckpointError,
    Settings,
    aopen_checkpointer,
    backends,
    load_settings,
    open_checkpointer,
    store,
)

from helpers import TYPES, Fresh, config, fill, history, new_thread


@pytest.mark.backends(*(t for t in TYPES if t != "memory"))  # memory ends with its process
def test_a_paused_thread_survives_reopening_the_store(settings: Settings) -> None:
    thread = new_thread()
    with open_checkpointer(settings) as saver:
        compile_graph(saver).invoke({"messages": ["Hello"]}, thread)
    if settings.type == "custom":  # its files are all there is
        assert any((settings.home / "store").rglob("*.json"))
    with open_checkpointer(settings) as saver:
        app = compile_graph(saver)
        state = app.get_state(thread)
        assert state.values["messages"][0] == "Hello"
        assert state.next == ("human_review",)
        app.update_state(thread, {"approved": True})
        app.invoke(None, thread)
        assert app.get_state(thread).next == ()


async def test_the_async_saver_shares_the_store(settings: Settings) -> None:
    thread = new_thread()
    async with aopen_checkpointer(settings) as saver:
        app = compile_graph(saver)
        await app.ainvoke({"messages": ["Start"]}, thread)
        assert (await app.aget_state(thread)).next == ("human_review",)
    with open_checkpointer(settings) as saver:
        app = compile_graph(saver)
        assert app.get_state(thread).values["messages"][0] == "Start"
        app.update_state(thread, {"approved": True})
    async with aopen_checkpointer(settings) as saver:
        app = compile_graph(saver)
        result = await app.ainvoke(None, thread)
        assert result["messages"][-1] == f"finalize: {result['draft']}"


def test_namespaces_are_isolated(settings: Settings, fresh: Fresh) -> None:
    other = fresh(settings.type)
    thread = new_thread()  # the same thread id in both namespaces
    with open_checkpointer(settings) as saver:
        compile_graph(saver).invoke({"messages": ["in the project's namespace"]}, thread)
    with open_checkpointer(other) as saver:
        app = compile_graph(saver)
        assert app.get_state(thread).values == {}
        app.invoke({"messages": ["in another namespace"]}, thread)
        assert app.get_state(thread).values["messages"][0] == "in another namespace"
        assert backends.load(other.type).stats(saver, other).threads == 1
    with open_checkpointer(settings) as saver:
        state = compile_graph(saver).get_state(thread)
        assert state.values["messages"][0] == "in the project's namespace"


def test_stats_and_threads_count_what_the_graph_stored(settings: Settings) -> None:
    done, paused = fill(settings)
    backend = backends.load(settings.type)
    with open_checkpointer(settings) as saver:
        found = backend.stats(saver, settings)
        threads = {t.thread_id: t for t in backend.threads(saver, None)}
        assert store.thread(backend, saver, done) == threads[done]
        with pytest.raises(CheckpointError, match="checkpoint not found"):
            store.thread(backend, saver, "nobody")
    counts = {done: len(history(settings, done)), paused: len(history(settings, paused))}
    assert (found.threads, found.checkpoints) == (2, sum(counts.values()))
    assert {t: thread.checkpoints for t, thread in threads.items()} == counts
    assert threads[paused].latest_id == history(settings, paused)[0]
    if settings.type in ("sqlite", "postgres", "redis"):
        assert found.storage_bytes is not None and found.storage_bytes > 0


def test_threads_are_listed_newest_first(settings: Settings) -> None:
    """Threads written one after the other, faster than a clock tick: the listing (and its
    limit) follows the order of their newest checkpoints."""
    names = [f"thread-{n}-{uuid.uuid4().hex[:4]}" for n in range(8)]
    with open_checkpointer(settings) as saver:
        for name in names:
            checkpoint = empty_checkpoint()
            checkpoint["id"] = str(uuid6())
            saver.put({"configurable": {**config(name)["configurable"], "checkpoint_ns": ""}},
                      checkpoint, {"source": "input", "step": -1}, {})  # fmt: skip
        backend = backends.load(settings.type)
        listed = backend.threads(saver, None)
        first = backend.threads(saver, 3)
    assert [t.thread_id for t in listed] == names[::-1]
    assert first == listed[:3]


def test_settings_of_a_project(settings: Settings) -> None:
    """`--project DIR` alone: the type, namespace and package of its answers file."""
    found = load_settings(connection_string=settings.connection_string, project=settings.home)
    assert (found.type, found.namespace, found.package) == (
        settings.type,
        settings.namespace,
        "example_agent",
    )
    assert found.custom_saver == "example_agent.saver:FileCheckpointSaver"
