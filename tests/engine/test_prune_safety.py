"""`prune` and `clear --checkpoint-id` never break a DeltaChannel thread (issue 11, item 2).

A DeltaChannel stores a sentinel in most checkpoints and rebuilds its value by replaying the
writes of the checkpoint's ancestors back to the nearest snapshot. Deleting one of those
ancestors (or its writes) silently empties the state: a 4-turn thread pruned to its last
checkpoint read back `[]` where it had 8 items. `prune` keeps what the replay reads; `clear` of
a checkpoint it reads refuses. Both ask first (or take `--yes`) and have `--dry-run`.
"""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from example_agent.graph import compile_graph
from langchain_core.runnables import RunnableConfig
from langgraph.channels.delta import DeltaChannel
from langgraph.graph import START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from lg_memory import Settings, backends, open_checkpointer

from helpers import CLI, Saver, chat_graph, concatenated, config, fill, new_thread

TURNS = 4


class LongChat(TypedDict, total=False):  # no snapshot in a few turns
    items: Annotated[list[str], DeltaChannel(concatenated, snapshot_frequency=100)]


def long_reply(state: dict[str, Any]) -> dict[str, Any]:  # helpers.reply's, of any schema
    return {"items": [f"reply {len(state['items'])}"]}


def notes_graph(saver: Saver, snapshot_frequency: int = 3) -> CompiledStateGraph[Any]:
    """helpers.chat_graph: one node answers each turn; `items` is a DeltaChannel that writes a
    snapshot every `snapshot_frequency` (3 or 100) updates: each turn updates it twice."""
    if snapshot_frequency == 3:
        return chat_graph(saver)
    graph = StateGraph(LongChat)
    graph.add_node("reply", long_reply)
    graph.add_edge(START, "reply")
    return graph.compile(checkpointer=saver)


def notes_thread(
    settings: Settings, turns: int = TURNS, snapshot_frequency: int = 3
) -> tuple[RunnableConfig, list[str]]:
    """A thread of `turns` turns; its items as the graph reads them."""
    thread = new_thread("notes")
    with open_checkpointer(settings) as saver:
        app = notes_graph(saver, snapshot_frequency)
        for turn in range(turns):
            app.invoke({"items": [f"turn {turn}"]}, thread)
        items: list[str] = app.get_state(thread).values["items"]
    assert len(items) == 2 * turns
    return thread, items


def items_of(settings: Settings, thread: RunnableConfig, snapshot_frequency: int = 3) -> Any:
    with open_checkpointer(settings) as saver:
        return notes_graph(saver, snapshot_frequency).get_state(thread).values.get("items")


def checkpoint_ids(settings: Settings, thread: RunnableConfig) -> list[str]:
    """Every checkpoint of the thread (all namespaces), newest first."""
    thread_id = thread["configurable"]["thread_id"]
    with open_checkpointer(settings) as saver:
        backend = backends.load(settings.type)
        return [t.checkpoint["id"] for t in backend.history(saver, thread_id)]


def states(settings: Settings, thread: RunnableConfig) -> dict[str, Any]:
    """The items at each checkpoint of the thread, newest first, as the graph reads them."""
    with open_checkpointer(settings) as saver:
        return {
            s.config["configurable"]["checkpoint_id"]: s.values.get("items")
            for s in notes_graph(saver).get_state_history(thread)
        }


def test_prune_keep_last_keeps_a_delta_threads_chain_back_to_a_snapshot(
    settings: Settings, cli: CLI
) -> None:
    thread, items = notes_thread(settings)
    done, _ = fill(settings)  # a thread without a DeltaChannel, pruned as before
    before = checkpoint_ids(settings, thread)
    read = states(settings, thread)

    code, out, err = cli("prune", "--keep-last", "1", "--yes")
    assert code == 0, err
    assert items_of(settings, thread) == items  # the issue: [] instead of 8 items
    left = checkpoint_ids(settings, thread)
    assert 1 < len(left) < len(before)  # the chain back to a snapshot, and nothing older
    assert left == before[: len(left)]
    assert states(settings, thread) == {i: read[i] for i in left}  # each reads as it did
    assert len(checkpoint_ids(settings, config(done))) == 1
    assert "kept" in out and thread["configurable"]["thread_id"] in out

    # The thread goes on from there, and its history still reads.
    with open_checkpointer(settings) as saver:
        app = notes_graph(saver)
        app.invoke({"items": ["turn 4"]}, thread)
        assert app.get_state(thread).values["items"] == [*items, "turn 4", "reply 9"]
        assert all(s.values.get("items") is not None for s in app.get_state_history(thread))


def test_prune_keeps_a_delta_thread_without_a_snapshot_whole(settings: Settings, cli: CLI) -> None:
    """Before its first snapshot, every checkpoint of the thread is part of the replay."""
    thread, items = notes_thread(settings, snapshot_frequency=100)
    before = checkpoint_ids(settings, thread)
    code, out, err = cli("prune", "--keep-last", "2", "--yes")
    assert code == 0, err
    assert checkpoint_ids(settings, thread) == before
    assert items_of(settings, thread, snapshot_frequency=100) == items
    assert f"{thread['configurable']['thread_id']}: kept whole" in out


def test_clear_of_a_checkpoint_a_delta_replay_reads_is_refused(
    settings: Settings, cli: CLI
) -> None:
    thread, items = notes_thread(settings)
    thread_id = thread["configurable"]["thread_id"]
    before = checkpoint_ids(settings, thread)
    middle = before[1]  # the latest checkpoint replays its writes

    code, out, err = cli("clear", "--thread-id", thread_id, "--checkpoint-id", middle, "--yes")
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert thread_id in err and middle in err and "DeltaChannel" in err
    assert checkpoint_ids(settings, thread) == before  # nothing deleted
    assert items_of(settings, thread) == items


def test_clear_of_a_checkpoint_no_replay_reads_goes_ahead(settings: Settings, cli: CLI) -> None:
    """The newest checkpoint of a DeltaChannel thread is read by no other: it may go, and every
    other checkpoint reads as before."""
    thread, _ = notes_thread(settings)
    thread_id = thread["configurable"]["thread_id"]
    before = states(settings, thread)
    newest = next(iter(before))
    code, _, err = cli("clear", "--thread-id", thread_id, "--checkpoint-id", newest, "--yes")
    assert code == 0, err
    assert states(settings, thread) == {k: v for k, v in before.items() if k != newest}


def test_prune_asks_before_deleting(settings: Settings, cli: CLI) -> None:
    """Without a terminal to ask on, prune refuses unless given --yes, as clear does."""
    thread, items = notes_thread(settings)
    done, paused = fill(settings)
    counts = {t: len(checkpoint_ids(settings, config(t))) for t in (done, paused)}
    before = checkpoint_ids(settings, thread)
    for policy in (("--keep-last", "1"), ("--older-than", "0s")):
        code, out, err = cli("prune", *policy)
        assert code == 1 and out == "" and "--yes" in err
    assert checkpoint_ids(settings, thread) == before
    assert {t: len(checkpoint_ids(settings, config(t))) for t in counts} == counts
    assert items_of(settings, thread) == items


def test_dry_run_says_what_would_go_and_deletes_nothing(settings: Settings, cli: CLI) -> None:
    thread, items = notes_thread(settings)
    whole, _ = notes_thread(settings, snapshot_frequency=100)
    thread_id, whole_id = thread["configurable"]["thread_id"], whole["configurable"]["thread_id"]
    done, paused = fill(settings)
    before = {t: checkpoint_ids(settings, config(t)) for t in (thread_id, whole_id, done, paused)}

    code, out, err = cli("prune", "--keep-last", "1", "--dry-run")
    assert code == 0, err
    lines = {line.split(":")[0].strip(): line for line in out.splitlines()}
    assert f"would delete {len(before[done]) - 1} checkpoints" in lines[done]
    assert "would delete" in lines[thread_id] and "DeltaChannel" in lines[thread_id]
    assert "kept whole" in lines[whole_id] and "DeltaChannel" in lines[whole_id]
    assert out.splitlines()[-1].startswith("prune would delete ")
    code, out, err = cli("prune", "--older-than", "0s", "--dry-run")
    assert code == 0, err
    assert f"{done}: would delete {len(before[done])} checkpoints" in out

    code, out, err = cli("clear", "--thread-id", done, "--dry-run")
    assert code == 0, err
    assert f"would delete {len(before[done])} checkpoints" in out
    code, out, err = cli("clear", "--dry-run")
    assert code == 0, err
    assert f"would delete {sum(map(len, before.values()))} checkpoints of 4 threads" in out
    code, out, err = cli("clear", "--thread-id", done, "--checkpoint-id", before[done][2],
                         "--dry-run")  # fmt: skip
    assert code == 0, err
    assert "would delete 1 checkpoint" in out
    code, out, err = cli("clear", "--thread-id", thread_id, "--checkpoint-id",
                         before[thread_id][1], "--dry-run")  # fmt: skip
    assert code == 1 and "DeltaChannel" in err

    assert {t: checkpoint_ids(settings, config(t)) for t in before} == before
    assert items_of(settings, thread) == items
    with open_checkpointer(settings) as saver:
        assert compile_graph(saver).get_state(config(paused)).next == ("human_review",)
