"""`lg-memory` on every backend: the commands a user runs, and their errors."""

from __future__ import annotations

import dataclasses
import json
import re
import time
import uuid
from pathlib import Path
from typing import Any, TypedDict

import pytest
from example_agent.graph import compile_graph
from langgraph.graph import START, StateGraph
from langgraph.types import interrupt

from lg_memory import Settings, open_checkpointer

from helpers import CLI, Fresh, chat_graph, config, fill, history, records_of

LINE = re.compile(r"^  (\S+)  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d  step: (.+)$")


def test_list_shows_threads_in_the_seed_format(settings: Settings, cli: CLI) -> None:
    done, paused = fill(settings)
    code, out, _ = cli("list")
    assert code == 0
    assert f"Thread: {done} ({len(history(settings, done))} checkpoints)" in out
    assert f"Thread: {paused} ({len(history(settings, paused))} checkpoints)" in out
    # Most recently updated first.
    assert out.index(f"Thread: {paused}") < out.index(f"Thread: {done}")
    paused_block = out.split(f"Thread: {paused}")[1].split("Thread:")[0]
    steps = [LINE.match(line) for line in paused_block.strip().splitlines()[1:]]
    assert all(steps), paused_block
    assert [m.group(2) for m in steps if m] == [
        "input",
        "__start__",
        "agent",
        "tools (interrupted before human_review)",
    ]
    assert [m.group(1) for m in steps if m] == history(settings, paused)[::-1]


def test_list_limits_threads_and_checkpoints(settings: Settings, cli: CLI) -> None:
    done, paused = fill(settings)
    code, out, _ = cli("list", "--limit", "1", "--checkpoints", "2")
    assert code == 0
    assert f"Thread: {paused}" in out and f"Thread: {done}" not in out
    total = len(history(settings, paused))
    assert f"  ... {total - 2} older not shown" in out
    assert [m.group(1) for m in map(LINE.match, out.splitlines()) if m] == history(
        settings, paused
    )[:2][::-1]


class Inner(TypedDict, total=False):
    answer: str


def ask(state: Inner) -> dict[str, Any]:
    return {"answer": interrupt("approve?")}


def test_subgraph_checkpoints_are_listed_under_their_subgraph(settings: Settings, cli: CLI) -> None:
    inner = StateGraph(Inner)
    inner.add_node("ask", ask)
    inner.add_edge(START, "ask")
    outer = StateGraph(Inner)
    outer.add_node("review", inner.compile())
    outer.add_edge(START, "review")
    thread = f"sub-{uuid.uuid4().hex[:6]}"
    with open_checkpointer(settings) as checkpointer:
        outer.compile(checkpointer=checkpointer).invoke({"answer": ""}, config(thread))

    code, out, _ = cli("list", "--thread-id", thread)
    assert code == 0
    root, subgraph = out.split("  Subgraph: review:")
    root_lines = root.splitlines()[1:]
    assert root_lines and all(
        line.startswith("  ") and not line.startswith("    ") for line in root_lines
    )
    sub_lines = [line for line in subgraph.splitlines()[1:] if line.strip()]
    assert sub_lines and all(line.startswith("    ") for line in sub_lines)


def test_list_json_and_thread_filter(settings: Settings, cli: CLI) -> None:
    done, paused = fill(settings)
    code, out, _ = cli("list", "--thread-id", done, "--json")
    assert code == 0
    [thread] = json.loads(out)
    assert thread["thread_id"] == done
    assert thread["checkpoints"] == len(history(settings, done))
    assert thread["namespaces"][""][-1]["interrupted_before"] is None
    code, out, _ = cli("list", "--thread-id", paused, "--json")
    [thread] = json.loads(out)
    assert thread["namespaces"][""][-1]["interrupted_before"] == ["human_review"]


def test_list_of_an_empty_namespace(settings: Settings, cli: CLI) -> None:
    with open_checkpointer(settings):  # storage initialised, nothing stored
        pass
    code, out, err = cli("list")
    assert code == 0, err
    assert out.strip() == f"No threads in namespace {settings.namespace}."


def test_info_counts_what_is_stored(settings: Settings, cli: CLI) -> None:
    done, paused = fill(settings)
    code, out, _ = cli("info")
    assert code == 0
    assert f"Memory System: {settings.label}" in out
    assert "Threads: 2" in out
    total = len(history(settings, done)) + len(history(settings, paused))
    assert f"Total Checkpoints: {total}" in out
    assert f"Namespace: {settings.namespace}" in out
    assert "Async: disabled" in out
    code, out, _ = cli("info", "--json")
    info = json.loads(out)
    assert (info["threads"], info["total_checkpoints"]) == (2, total)
    assert info["memory_system"] == settings.label


def test_unknown_thread_is_a_clear_error(settings: Settings, cli: CLI) -> None:
    fill(settings)
    for command in (("list",), ("export",), ("clear", "--yes")):
        code, out, err = cli(*command, "--thread-id", "no-such-thread")
        assert code == 1, command
        assert err.startswith("lg-memory: error: checkpoint not found"), err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_clear_refuses_without_a_terminal_or_yes(settings: Settings, cli: CLI) -> None:
    done, _ = fill(settings)
    before = history(settings, done)
    code, _, err = cli("clear", "--thread-id", done)
    assert code == 1 and "--yes" in err
    assert history(settings, done) == before


def test_clear_one_thread(settings: Settings, cli: CLI) -> None:
    done, paused = fill(settings)
    kept, gone = history(settings, paused), history(settings, done)
    code, out, err = cli("clear", "--thread-id", done, "--yes")
    assert code == 0, err
    assert out.startswith(f"cleared thread {done}: {len(gone)} checkpoints deleted")
    assert history(settings, done) == []
    assert history(settings, paused) == kept


def test_clear_one_checkpoint_keeps_the_thread_walkable(settings: Settings, cli: CLI) -> None:
    done, _ = fill(settings)
    ids = history(settings, done)
    with open_checkpointer(settings) as checkpointer:
        latest = compile_graph(checkpointer).get_state(config(done)).values
    code, out, err = cli("clear", "--thread-id", done, "--checkpoint-id", ids[2], "--yes")
    assert code == 0, err
    assert history(settings, done) == ids[:2] + ids[3:]
    with open_checkpointer(settings) as checkpointer:
        app = compile_graph(checkpointer)
        assert app.get_state(config(done)).values == latest
        parents = [s.parent_config for s in app.get_state_history(config(done))]
    # The child of the deleted checkpoint now hangs from the deleted one's parent.
    assert parents[1] is not None
    assert parents[1]["configurable"]["checkpoint_id"] == ids[3]
    code, _, err = cli("clear", "--thread-id", done, "--checkpoint-id", ids[2], "--yes")
    assert code == 1 and "checkpoint not found" in err


def test_clear_everything_with_a_verified_backup(
    settings: Settings, cli: CLI, tmp_path: Path
) -> None:
    done, paused = fill(settings)
    backup = tmp_path / "backup.jsonl"
    code, out, err = cli("clear", "--yes", "--backup", str(backup))
    assert code == 0, err
    assert out.startswith(f"cleared all 2 threads of namespace {settings.namespace}")
    assert history(settings, done) == [] and history(settings, paused) == []
    code, out, err = cli("import", str(backup))
    assert code == 0, err
    assert out.startswith("imported ") and " of 2 threads " in out
    with open_checkpointer(settings) as checkpointer:
        app = compile_graph(checkpointer)
        assert app.get_state(config(paused)).next == ("human_review",)
        app.update_state(config(paused), {"approved": True})
        app.invoke(None, config(paused))
        assert app.get_state(config(paused)).next == ()


def test_export_then_import_elsewhere(
    settings: Settings, cli: CLI, fresh: Fresh, tmp_path: Path
) -> None:
    """`export` (to a file, or to stdout with its report on stderr), then `import` into
    another namespace: `--dry-run` writes nothing, `--thread-id` one thread."""
    done, paused = fill(settings)
    code, out, err = cli("export", "-o", "all.jsonl")
    assert code == 0, err
    assert out.startswith("exported ") and " of 2 threads " in out
    code, stdout, err = cli("export", "--thread-id", paused)
    assert code == 0 and err.startswith("exported ") and " of 1 threads " in err
    assert json.loads(stdout.splitlines()[0])["thread_id"] == paused

    other = fresh(settings.type)
    elsewhere = ("--namespace", other.namespace)
    code, out, err = cli("import", "all.jsonl", "--dry-run", *elsewhere)
    assert code == 0, err
    assert out.startswith("would import ") and " of 2 threads " in out
    assert history(other, done) == [] and history(other, paused) == []
    code, out, err = cli("import", "all.jsonl", "--thread-id", paused, *elsewhere)
    assert code == 0, err
    assert history(other, paused) == history(settings, paused)
    assert history(other, done) == []
    code, out, err = cli("import", "all.jsonl", *elsewhere)
    assert code == 0, err
    assert history(other, done) == history(settings, done)
    code, _, err = cli("import", "missing.jsonl", *elsewhere)
    assert code == 1 and err.startswith("lg-memory: error: ") and "no such file" in err


@dataclasses.dataclass
class Ticket:
    title: str


class TicketState(TypedDict):
    ticket: Ticket


def test_a_backup_holds_values_of_any_class(settings: Settings, cli: CLI, tmp_path: Path) -> None:
    """`clear --backup` verifies its own file (count, checksum) and refuses no class; importing
    it, a file like any other, trusts only this project's classes and LangGraph's, and those
    of the modules named by `--trust`."""
    graph = StateGraph(TicketState)
    graph.add_node("open", lambda state: {"ticket": Ticket(f"open: {state['ticket'].title}")})
    graph.add_edge(START, "open")
    thread = config(f"t-{uuid.uuid4().hex[:6]}")
    with open_checkpointer(settings) as checkpointer:
        graph.compile(checkpointer=checkpointer).invoke({"ticket": Ticket("new")}, thread)
    backup = tmp_path / "backup.jsonl"
    code, out, err = cli("clear", "--yes", "--backup", str(backup))
    assert code == 0, err
    code, out, err = cli("import", str(backup))
    assert code == 1
    assert f"{__name__}.Ticket is not a trusted type" in err
    with open_checkpointer(settings) as checkpointer:
        assert list(checkpointer.list(None)) == []
    code, out, err = cli("import", str(backup), "--trust", __name__)
    assert code == 0, err
    with open_checkpointer(settings) as checkpointer:
        state = graph.compile(checkpointer=checkpointer).get_state(thread)
    assert state.values == {"ticket": Ticket("open: new")}


def test_prune_keep_last(settings: Settings, cli: CLI) -> None:
    done, paused = fill(settings)
    with open_checkpointer(settings) as checkpointer:
        latest = compile_graph(checkpointer).get_state(config(paused)).values
    total = len(history(settings, done)) + len(history(settings, paused))
    code, out, err = cli("prune", "--keep-last", "2", "--yes")
    assert code == 0, err
    assert out.startswith(f"pruned all but the last 2 checkpoints of each thread: {total - 4} ")
    assert len(history(settings, done)) == 2
    assert len(history(settings, paused)) == 2
    with open_checkpointer(settings) as checkpointer:
        app = compile_graph(checkpointer)
        assert app.get_state(config(paused)).values == latest
        app.update_state(config(paused), {"approved": True})
        app.invoke(None, config(paused))
        assert app.get_state(config(paused)).next == ()


def test_prune_older_than(settings: Settings, cli: CLI) -> None:
    done, paused = fill(settings)
    assert cli("prune", "--older-than", "1d")[0] == 0
    assert history(settings, done) and history(settings, paused)
    assert cli("prune", "--older-than", "0s", "--yes")[0] == 0
    assert history(settings, done) == [] and history(settings, paused) == []


def test_prune_without_arguments_applies_the_ttl(
    settings: Settings, cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    done, paused = fill(settings)
    variable = "REDIS_TTL" if settings.type == "redis" else "CHECKPOINT_TTL"
    monkeypatch.setenv(variable, "3600")
    assert cli("prune")[0] == 0  # an hour: nothing is that old
    assert history(settings, done)
    monkeypatch.setenv(variable, "0")
    code, _, err = cli("prune")
    assert code == 1 and "--keep-last" in err  # no ttl and no flag: says what it needs
    assert history(settings, done) and history(settings, paused)
    time.sleep(1.1)
    monkeypatch.setenv(variable, "1")
    assert cli("prune", "--yes")[0] == 0  # a second: both threads are older
    assert history(settings, done) == [] and history(settings, paused) == []


@pytest.mark.parametrize(
    "args",
    [
        ("prune", "--keep-last", "0"),
        ("prune", "--older-than", "soon"),
        ("prune", "--keep-last", "1", "--older-than", "1d"),
        ("clear", "--checkpoint-id", "x", "--yes"),
    ],
)
def test_bad_arguments_are_one_line_errors(cli: CLI, args: tuple[str, ...]) -> None:
    code, _, err = cli(*args)
    assert code == 1
    assert err.startswith("lg-memory: error: ") and len(err.strip().splitlines()) == 1


def test_check(settings: Settings, cli: CLI) -> None:
    code, out, _ = cli("check")
    assert code == 0 and out.startswith(f"ok: {settings.label} at ")
    assert out.strip().endswith("0 threads, 0 checkpoints")


UNREACHABLE = {
    "postgres": "postgresql://agent:s3cret-pw@127.0.0.1:9/langgraph",
    "redis": "redis://:s3cret-pw@127.0.0.1:9",
    "mongodb": "mongodb://agent:s3cret-pw@127.0.0.1:9",
}


@pytest.mark.backends("sqlite", "postgres", "redis", "mongodb")
def test_errors_are_one_line_without_the_password(
    settings: Settings, cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that does not answer, or a file that is not a database (the two backends
    without either have nothing to miss or damage)."""
    if settings.type == "sqlite":
        bad, expected = str(tmp_path / "garbage.db"), "corrupted data"
        # The namespace's own file, beside the one named (see backends/sqlite.py).
        (tmp_path / f"garbage.{settings.namespace}.db").write_bytes(b"not a database" * 100)
    else:
        bad, expected = UNREACHABLE[settings.type], "connection failed"
    monkeypatch.setenv("CHECKPOINT_CONNECT_TIMEOUT", "1")
    code, out, err = cli("info", "--connection-string", bad)
    assert code == 1
    assert err.startswith(f"lg-memory: error: {expected}"), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "s3cret-pw" not in out + err


# Ids that differ only in case or spaces, hold a comma, a pipe, a wildcard or punctuation:
# Redis' search index matches its tags case-insensitively, trimmed, split at commas.
ODD_IDS = ["Alice", "alice", " alice ", "a,b", "a", "b", "a|b", "x*e", "me@x.org/chat#1 (draft)"]


def test_thread_ids_are_matched_exactly(settings: Settings, cli: CLI, fresh: Fresh) -> None:
    """Every command works on the thread named, and on no other one."""
    with open_checkpointer(settings) as checkpointer:
        app = compile_graph(checkpointer)
        for thread_id in ODD_IDS:
            app.invoke({"messages": [f"Hello {thread_id}"]}, config(thread_id))
    per_thread = 4  # input, __start__, agent, tools

    def counts(*args: str) -> dict[str, int]:
        code, out, err = cli("list", "--json", "--limit", "100", "--checkpoints", "100", *args)
        assert code == 0, err
        listing = json.loads(out)
        for thread in listing:  # as many as counted, each of its own thread
            assert thread["shown"] == thread["checkpoints"], thread
        return {t["thread_id"]: t["checkpoints"] for t in listing}

    assert counts() == dict.fromkeys(ODD_IDS, per_thread)
    for thread_id in ODD_IDS:
        code, out, err = cli("list", "--thread-id", thread_id, "--json", "--checkpoints", "100")
        assert code == 0, err
        [thread] = json.loads(out)
        assert (thread["thread_id"], thread["shown"]) == (thread_id, per_thread)
        code, out, err = cli("export", "--thread-id", thread_id, "-o", "one.jsonl")
        assert code == 0, err
        exported = records_of(Path("one.jsonl").read_bytes())
        assert [r["thread_id"] for r in exported] == [thread_id] * per_thread

    code, out, err = cli("export", "-o", "all.jsonl")
    assert code == 0, err
    other = fresh(settings.type)
    code, out, err = cli("import", "all.jsonl", "--namespace", other.namespace)
    assert code == 0, err
    assert counts("--namespace", other.namespace) == dict.fromkeys(ODD_IDS, per_thread)

    code, out, err = cli("prune", "--keep-last", "2", "--yes")
    assert code == 0, err
    assert counts() == dict.fromkeys(ODD_IDS, 2)
    code, out, err = cli("clear", "--thread-id", "alice", "--yes")
    assert code == 0, err
    newest = history_of(cli, "a,b")[0]
    code, out, err = cli("clear", "--thread-id", "a,b", "--checkpoint-id", newest, "--yes")
    assert code == 0, err
    expected = {t: 2 for t in ODD_IDS if t != "alice"} | {"a,b": 1}
    assert counts() == expected
    code, out, err = cli("prune", "--older-than", "0s", "--yes")
    assert code == 0, err
    assert counts() == {}
    assert counts("--namespace", other.namespace) == dict.fromkeys(ODD_IDS, per_thread)


def history_of(cli: CLI, thread_id: str) -> list[str]:
    """The checkpoint ids of a thread, newest first, as `lg-memory list` shows them."""
    code, out, err = cli("list", "--thread-id", thread_id, "--json", "--checkpoints", "100")
    assert code == 0, err
    [thread] = json.loads(out)
    return [e["checkpoint_id"] for entries in thread["namespaces"].values() for e in entries][::-1]


def test_threads_with_a_delta_channel_are_not_pruned_empty(settings: Settings, cli: CLI) -> None:
    """Deleting some of such a thread's checkpoints would empty its state: `prune` keeps the
    chain back to a snapshot, and `clear --checkpoint-id` of one of those refuses; other
    threads are pruned as usual (more in test_prune_safety.py). On Redis too: lg-memory's
    RedisSaver keeps the writes the saver's own `put` hides (4 turns read back 7 items)."""
    chat = config(f"chat-{uuid.uuid4().hex[:6]}")
    done, _ = fill(settings)
    with open_checkpointer(settings) as checkpointer:
        app = chat_graph(checkpointer)
        for turn in range(4):
            app.invoke({"items": [f"turn {turn}"]}, chat)
        before = app.get_state(chat).values
        checkpoints = [s.config for s in app.get_state_history(chat)]
    assert len(before["items"]) == 8

    one = checkpoints[2]["configurable"]["checkpoint_id"]
    code, _, err = cli(
        "clear", "--thread-id", chat["configurable"]["thread_id"], "--checkpoint-id", one, "--yes"
    )
    assert code == 1 and "uses a DeltaChannel" in err
    code, out, err = cli("prune", "--keep-last", "1", "--yes")
    assert code == 0, err
    assert f"{chat['configurable']['thread_id']}: kept " in out and "DeltaChannel" in out
    assert len(history(settings, done)) == 1
    with open_checkpointer(settings) as checkpointer:
        app = chat_graph(checkpointer)
        kept = [s.config for s in app.get_state_history(chat)]
        assert 1 < len(kept) < len(checkpoints) and kept == checkpoints[: len(kept)]
        assert app.get_state(chat).values == before
        assert app.invoke({"items": ["turn 4"]}, chat)["items"][-2:] == ["turn 4", "reply 9"]
