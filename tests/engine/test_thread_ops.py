"""`copy_thread`, `prune` and `delete_for_runs`, sync and async, on every backend's saver
(issue 11, item 6): the methods the LangGraph Agent Server asks a checkpointer for (it warns at
startup for each one missing). They keep DeltaChannel threads readable (see chains.py)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from example_agent.graph import compile_graph
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver

from lg_memory import Settings, aopen_checkpointer, backends, open_checkpointer

from helpers import Saver, chat_graph, new_thread

METHODS = ("copy_thread", "prune", "delete_for_runs")


def with_run(thread: RunnableConfig, run_id: str) -> RunnableConfig:
    """The thread's config for a run: its checkpoints' metadata records `run_id`."""
    return {"configurable": {**thread["configurable"], "run_id": run_id}}


def read(saver: Saver, thread: RunnableConfig) -> list[tuple[str, Any, tuple[str, ...]]]:
    """(checkpoint id, values, next) of each checkpoint of the example graph's thread."""
    return [
        (s.config["configurable"]["checkpoint_id"], s.values, s.next)
        for s in compile_graph(saver).get_state_history(thread)
    ]


def notes(saver: Saver, thread: RunnableConfig) -> list[tuple[str, Any]]:
    """(checkpoint id, items) of each checkpoint of a DeltaChannel thread."""
    return [
        (s.config["configurable"]["checkpoint_id"], s.values.get("items"))
        for s in chat_graph(saver).get_state_history(thread)
    ]


def ids(settings: Settings, saver: Saver, thread: RunnableConfig) -> list[str]:
    """Every checkpoint id of the thread, all namespaces, newest first (the backend's view)."""
    history = backends.load(settings.type).history(saver, thread["configurable"]["thread_id"])
    return [t.checkpoint["id"] for t in history]


def paused_thread(saver: Saver) -> RunnableConfig:
    thread = new_thread("paused")
    compile_graph(saver).invoke({"messages": ["Book a table"]}, thread)
    return thread


def notes_thread(saver: Saver, turns: int = 4, runs: list[str] | None = None) -> RunnableConfig:
    """A DeltaChannel thread (snapshot every 3 updates), one run per turn (ids in `runs`)."""
    thread = new_thread("notes")
    app = chat_graph(saver)
    for turn in range(turns):
        run = str(uuid.uuid4())
        app.invoke({"items": [f"turn {turn}"]}, with_run(thread, run))
        if runs is not None:
            runs.append(run)
    return thread


async def test_every_saver_has_the_methods(settings: Settings) -> None:
    """As the Agent Server checks: the class overrides BaseCheckpointSaver's."""
    with open_checkpointer(settings) as saver:
        sync = type(saver)
    async with aopen_checkpointer(settings) as saver:
        for cls in (sync, type(saver)):
            for name in (*METHODS, *(f"a{m}" for m in METHODS)):
                assert getattr(cls, name) is not getattr(BaseCheckpointSaver, name), (cls, name)


def test_copy_thread_gives_the_copy_the_same_history_and_it_resumes_apart(
    settings: Settings,
) -> None:
    with open_checkpointer(settings) as saver:
        source, chat = paused_thread(saver), notes_thread(saver)
        copy, chat_copy = new_thread("copy"), new_thread("copy")
        saver.copy_thread(source["configurable"]["thread_id"], copy["configurable"]["thread_id"])
        saver.copy_thread(chat["configurable"]["thread_id"], chat_copy["configurable"]["thread_id"])
        assert read(saver, copy) == read(saver, source)
        assert notes(saver, chat_copy) == notes(saver, chat)
        assert len(notes(saver, chat_copy)[0][1]) == 8

        app = compile_graph(saver)
        app.update_state(copy, {"approved": True})
        assert app.invoke(None, copy)["messages"][-1].startswith("finalize: Book a table")
        assert app.get_state(source).next == ("human_review",)  # the source is as it was
        items = chat_graph(saver).invoke({"items": ["turn 4"]}, chat_copy)["items"]
        assert items[-2:] == ["turn 4", "reply 9"]
        assert len(chat_graph(saver).get_state(chat).values["items"]) == 8

        with pytest.raises(ValueError, match="has checkpoints already"):
            saver.copy_thread(
                source["configurable"]["thread_id"], copy["configurable"]["thread_id"]
            )


def test_prune_keep_latest_and_delete(settings: Settings) -> None:
    with open_checkpointer(settings) as saver:
        paused, chat, gone = paused_thread(saver), notes_thread(saver), paused_thread(saver)
        before = notes(saver, chat)
        latest = read(saver, paused)[0]
        saver.prune([paused["configurable"]["thread_id"], chat["configurable"]["thread_id"]])
        assert read(saver, paused) == [latest]  # the newest checkpoint, and it resumes
        app = compile_graph(saver)
        app.update_state(paused, {"approved": True})
        assert app.invoke(None, paused)["messages"][-1].startswith("finalize: ")
        after = notes(saver, chat)  # the chain back to a snapshot, each one read as before
        assert 1 < len(after) < len(before) and after == before[: len(after)]

        saver.prune([gone["configurable"]["thread_id"]], strategy="delete")
        assert ids(settings, saver, gone) == [] and app.get_state(gone).values == {}
        with pytest.raises(ValueError, match="strategy"):
            saver.prune([chat["configurable"]["thread_id"]], strategy="keep_some")
        with pytest.raises(TypeError):
            saver.prune(chat["configurable"]["thread_id"])
        assert notes(saver, chat) == after


def test_delete_for_runs_removes_exactly_a_runs_checkpoints(settings: Settings) -> None:
    with open_checkpointer(settings) as saver:
        app = compile_graph(saver)
        thread, other = new_thread(), paused_thread(saver)
        first, second = str(uuid.uuid4()), str(uuid.uuid4())
        app.invoke({"messages": ["Book a table"]}, with_run(thread, first))
        app.update_state(thread, {"approved": True})
        paused = read(saver, thread)
        found = set(ids(settings, saver, thread))
        app.invoke(None, with_run(thread, second))
        theirs = set(ids(settings, saver, thread)) - found
        assert len(theirs) >= 2
        others = read(saver, other)

        saver.delete_for_runs([second, str(uuid.uuid4())])
        assert set(ids(settings, saver, thread)).isdisjoint(theirs)
        assert read(saver, thread) == paused  # what the run found, every checkpoint as it was
        assert read(saver, other) == others
        assert app.invoke(None, thread)["messages"][-1].startswith("finalize: Book a table")


def test_delete_for_runs_keeps_what_a_delta_channel_replays(settings: Settings) -> None:
    """The last turn's run goes: the thread reads as after the turn before, and goes on. A run
    in the middle, whose writes later turns replay, stays."""
    with open_checkpointer(settings) as saver:
        runs: list[str] = []
        chat = notes_thread(saver, runs=runs)
        before = notes(saver, chat)
        saver.delete_for_runs([runs[1]])  # what later turns replay of it stays
        after = notes(saver, chat)
        assert after[0] == before[0] and after == [entry for entry in before if entry in after]

        saver.delete_for_runs([runs[-1]])
        after = notes(saver, chat)
        assert after == [entry for entry in before if entry in after]
        assert after[0][1] == before[0][1][:6]  # three turns
        items = chat_graph(saver).invoke({"items": ["turn 3"]}, chat)["items"]
        assert items == before[0][1]


async def test_the_async_twins(settings: Settings) -> None:
    async with aopen_checkpointer(settings) as saver:
        app, chat_app = compile_graph(saver), chat_graph(saver)
        source, chat, copy = new_thread("paused"), new_thread("notes"), new_thread("copy")
        await app.ainvoke({"messages": ["Book a table"]}, source)
        runs = [str(uuid.uuid4()) for _ in range(4)]
        for turn, run in enumerate(runs[:3]):
            await chat_app.ainvoke({"items": [f"turn {turn}"]}, with_run(chat, run))
        three = [(s.config, s.values) async for s in chat_app.aget_state_history(chat)]

        await saver.acopy_thread(
            chat["configurable"]["thread_id"], copy["configurable"]["thread_id"]
        )
        assert [(s.config, s.values) async for s in chat_app.aget_state_history(copy)] == [
            ({"configurable": {**c["configurable"], **copy["configurable"]}}, v) for c, v in three
        ]
        await chat_app.ainvoke({"items": ["turn 3"]}, with_run(chat, runs[3]))
        four = [(s.config, s.values) async for s in chat_app.aget_state_history(chat)]
        assert len(four[0][1]["items"]) == 8

        await saver.adelete_for_runs([runs[3]])  # the last turn goes
        assert [(s.config, s.values) async for s in chat_app.aget_state_history(chat)] == three
        assert len([s async for s in chat_app.aget_state_history(copy)]) == len(three)

        await saver.aprune([chat["configurable"]["thread_id"]], strategy="keep_latest")
        pruned = [(s.config, s.values) async for s in chat_app.aget_state_history(chat)]
        assert len(pruned) < len(three) and pruned == three[: len(pruned)]
        items = (await chat_app.ainvoke({"items": ["turn 3"]}, chat))["items"]
        assert items == four[0][1]["items"]

        await saver.aprune([source["configurable"]["thread_id"]], strategy="delete")
        assert (await app.aget_state(source)).values == {}
        assert (await chat_app.aget_state(copy)).values == three[0][1]
        # The sync methods work from another thread (an async saver's wait on its loop).
        await asyncio.to_thread(saver.prune, [copy["configurable"]["thread_id"]], strategy="delete")
        assert (await chat_app.aget_state(copy)).values == {}
