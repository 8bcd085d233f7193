"""Export and import of checkpoints (`lg-memory export` / `import`), and migrations, on every
backend. Each test works in namespaces of its own, so it sees only the threads it makes."""

from __future__ import annotations

import base64
import io
import json
import operator
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any, TypedDict

import ormsgpack
import pytest
from example_agent.graph import compile_graph
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde import jsonplus
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, interrupt
from pydantic import BaseModel

from lg_memory import CheckpointError, Settings, backends, cli, migrate, open_checkpointer
from lg_memory.transfer import export_checkpoints, iter_store, read_export, record

from helpers import (
    BULK_TYPES,
    CLI,
    NATIVE_TYPES,
    TYPES,
    Fresh,
    Saver,
    chat_graph,
    comparable,
    export,
    histories,
    load,
    new_thread,
    records_of,
    resealed,
    run_example,
    write,
)

PACKAGE = compile_graph.__module__.split(".")[0]  # the project's package: example_agent

# -- round trips ------------------------------------------------------------------------------


def test_round_trip_keeps_everything_and_the_paused_thread_resumes(
    via: str, settings: Settings, fresh: Fresh, tmp_path: Path
) -> None:
    target = fresh(settings.type)
    with open_checkpointer(settings) as saver:
        threads = run_example(saver)
        exported = export(saver)
        before = histories(saver, threads)
    path = write(tmp_path, exported)

    header = read_export(path)
    assert (header.thread_id, header.source) == (None, {"test": True})
    with open_checkpointer(target) as saver:
        summary = load(via, target, saver, path)
        assert (summary.threads, summary.checkpoints) == (3, header.checkpoints)
        assert summary.writes == header.writes > 0
        assert comparable(export(saver)) == comparable(exported)
        assert histories(saver, threads) == before

        app = compile_graph(saver)
        paused = threads["paused"]
        assert app.get_state(paused).next == ("human_review",)
        app.update_state(paused, {"approved": True})
        result = app.invoke(None, paused)
        assert result["messages"][-1] == f"finalize: {result['draft']}"
        assert app.get_state(paused).next == ()


def test_importing_twice_leaves_the_same_store(
    via: str, settings: Settings, fresh: Fresh, tmp_path: Path
) -> None:
    target = fresh(settings.type)
    with open_checkpointer(settings) as saver:
        run_example(saver)
        path = write(tmp_path, export(saver))
    with open_checkpointer(target) as saver:
        load(via, target, saver, path)
        once = export(saver)
        load(via, target, saver, path)  # into a store that holds it all already
        assert comparable(export(saver)) == comparable(once)


def test_one_thread_and_dry_run(via: str, settings: Settings, fresh: Fresh, tmp_path: Path) -> None:
    target = fresh(settings.type)
    with open_checkpointer(settings) as saver:
        paused = run_example(saver)["paused"]["configurable"]["thread_id"]
        one_thread = export(saver, paused)
        path = write(tmp_path, export(saver))
    with open_checkpointer(target) as saver:
        planned = load(via, target, saver, path, thread_id=paused, dry_run=True)
        assert list(iter_store(saver)) == []
        done = load(via, target, saver, path, thread_id=paused)
        assert (done.threads, done.checkpoints, done.writes) == (
            1,
            planned.checkpoints,
            planned.writes,
        )
        assert comparable(export(saver, paused)) == comparable(one_thread)
        assert comparable(export(saver))[1] == comparable(one_thread)[1]  # nothing else
        with pytest.raises(CheckpointError, match="thread 'nobody' is not in backup.jsonl"):
            load(via, target, saver, path, thread_id="nobody")


def test_export_streams_one_checkpoint_at_a_time(settings: Settings) -> None:
    with open_checkpointer(settings) as saver:
        run_example(saver)
        out = io.BytesIO()
        written_before_each: list[int] = []

        def tuples() -> Iterator[Any]:
            for tup in iter_store(saver):
                written_before_each.append(out.tell())
                yield tup

        export_checkpoints(tuples(), out, source={"test": True})
        # To a text stream, with the saver's serializer (Redis' writes JSON): the same export.
        text = io.StringIO()
        export_checkpoints(iter_store(saver), text, serde=saver.serde, source={"test": True})
    # Each checkpoint was written out before the next one was asked for.
    assert len(written_before_each) > 10
    assert written_before_each == sorted(set(written_before_each))
    assert comparable(text.getvalue().encode()) == comparable(out.getvalue())


def test_the_backend_exports_what_the_generic_listing_exports(settings: Settings) -> None:
    """`lg-memory export` reads through the backend (natively where it can); the file is the
    one the generic `iter_store` listing makes, and a thread's is that thread's lines."""
    backend = backends.load(settings.type)
    with open_checkpointer(settings) as saver:
        threads = run_example(saver)
        generic = export(saver)
        out = io.BytesIO()
        migrate.export_to(backend, saver, settings, out, None)
        one = threads["done"]["configurable"]["thread_id"]
        single = io.BytesIO()
        migrate.export_to(backend, saver, settings, single, one)
    assert comparable(out.getvalue()) == comparable(generic)
    assert json.loads(out.getvalue().splitlines()[0])["source"] == {
        "type": settings.type,
        "namespace": settings.namespace,
    }
    assert [r["thread_id"] for r in records_of(single.getvalue())] == [one] * len(
        records_of(single.getvalue())
    )
    assert records_of(single.getvalue()) == [
        r for r in records_of(generic) if r["thread_id"] == one
    ]


# RedisSaver (0.5.2) itself loses writes of a thread with a DeltaChannel (see test_cli.py).
@pytest.mark.backends(*(t for t in TYPES if t != "redis"))
def test_a_thread_with_a_delta_channel_moves_whole(
    via: str, settings: Settings, fresh: Fresh, tmp_path: Path
) -> None:
    """Its snapshots and the writes replayed on them move as they are: the state reads back,
    at every checkpoint, and grows on."""
    target = fresh(settings.type)
    chat = new_thread("chat")
    with open_checkpointer(settings) as saver:
        app = chat_graph(saver)
        for turn in range(4):
            app.invoke({"items": [f"turn {turn}"]}, chat)
        states = [s.values for s in app.get_state_history(chat)]
        exported = export(saver)
    assert len(states[0]["items"]) == 8
    snapshots = [
        ormsgpack.unpackb(base64.b64decode(value[1]), ext_hook=lambda code, _: code)
        for r in records_of(exported)
        if (value := r["checkpoint"]["channel_values"].get("items")) and value[0] == "msgpack"
    ]
    assert jsonplus.EXT_DELTA_SNAPSHOT in snapshots  # the values hold snapshots too
    path = write(tmp_path, exported)
    with open_checkpointer(target) as saver:
        load(via, target, saver, path)
        assert comparable(export(saver)) == comparable(exported)
        app = chat_graph(saver)
        assert [s.values for s in app.get_state_history(chat)] == states
        assert app.invoke({"items": ["turn 4"]}, chat)["items"][-2:] == ["turn 4", "reply 9"]


# -- a richer state: Pydantic, a dataclass, a subgraph with a pending interrupt ----------------


class Review(BaseModel):
    verdict: str
    score: int


@dataclass
class Note:
    text: str
    tags: list[str]


class RichState(TypedDict, total=False):
    review: Review
    note: Note
    log: Annotated[list[str], operator.add]


class ReviewState(TypedDict, total=False):
    review: Review
    note: Note


def draft(state: RichState) -> dict[str, Any]:
    return {
        "review": Review(verdict="pending", score=3),
        "note": Note(text="first draft", tags=["a", "b"]),
        "log": ["draft"],
    }


def ask(state: ReviewState) -> dict[str, Any]:
    answer = interrupt({"question": "approve?", "score": state["review"].score})
    return {"review": Review(verdict=answer, score=state["review"].score + 1)}


def rich_graph(saver: Saver) -> CompiledStateGraph[Any]:
    if any(c.__module__.startswith("langgraph.checkpoint.redis") for c in type(saver).__mro__):
        # Redis' serializer stores a Pydantic model as JSON and rebuilds it only when its class
        # is allowed, with or without export and import.
        from langgraph.checkpoint.redis.jsonplus_redis import JsonPlusRedisSerializer

        saver.serde = JsonPlusRedisSerializer(allowed_json_modules=[(__name__, "Review")])
    inner = StateGraph(ReviewState)
    inner.add_node("ask", ask)
    inner.add_edge(START, "ask")
    inner.add_edge("ask", END)
    outer = StateGraph(RichState)
    outer.add_node("draft", draft)
    outer.add_node("review", inner.compile())
    outer.add_edge(START, "draft")
    outer.add_edge("draft", "review")
    outer.add_edge("review", END)
    return outer.compile(checkpointer=saver)


def test_pydantic_dataclass_and_a_subgraph_interrupt_survive(
    via: str, settings: Settings, fresh: Fresh, tmp_path: Path
) -> None:
    target = fresh(settings.type)
    config = new_thread()
    with open_checkpointer(settings) as saver:
        rich_graph(saver).invoke({"log": ["start"]}, config)
        exported = export(saver)
    path = write(tmp_path, exported)
    records = records_of(exported)
    assert any(r["checkpoint_ns"].startswith("review:") for r in records)
    assert any(w[1] == "__interrupt__" for r in records for w in r["writes"])

    with open_checkpointer(target) as saver:
        app = rich_graph(saver)
        # The state's classes live in this test module: the import must be told to trust it
        # (the project's package is not enough).
        untrusted = rf"{__name__}\.(Review|Note) is not a trusted type"
        with pytest.raises(CheckpointError, match=untrusted):
            load(via, target, saver, path, allowed_modules=[PACKAGE])
        assert list(iter_store(saver)) == []

        load(via, target, saver, path, allowed_modules=[PACKAGE, __name__])
        assert comparable(export(saver)) == comparable(exported)
        state = app.get_state(config, subgraphs=True)
        assert state.interrupts[0].value == {"question": "approve?", "score": 3}
        assert isinstance(state.values["note"], Note)
        if settings.type == "redis":
            # Redis gives a pending write of a Pydantic model back as the JSON it keeps (a
            # dict): this thread does not resume even in the store that ran it. The import
            # stores the writes as that store held them (the exports above are equal).
            return

        result = app.invoke(Command(resume="approved"), config)
        assert result["review"] == Review(verdict="approved", score=4)
        assert result["note"] == Note(text="first draft", tags=["a", "b"])
        assert result["log"] == ["start", "draft"]


def test_pruning_to_the_last_checkpoint_keeps_a_paused_subgraph_resumable(
    settings: Settings, cli: CLI
) -> None:
    """`prune --keep-last 1` keeps the newest checkpoint of each namespace of a thread: the
    subgraph's, with its pending interrupt, too."""
    config = new_thread()
    with open_checkpointer(settings) as saver:
        rich_graph(saver).invoke({"log": ["start"]}, config)
        namespaces = {t.config["configurable"]["checkpoint_ns"] for t in saver.list(config)}
    code, _, err = cli("prune", "--keep-last", "1", "--yes")
    assert code == 0, err
    with open_checkpointer(settings) as saver:
        left = [t.config["configurable"]["checkpoint_ns"] for t in saver.list(config)]
        assert sorted(left) == sorted(namespaces) and len(namespaces) == 2
        result = rich_graph(saver).invoke(Command(resume="approved"), config)
    assert result["review"] == Review(verdict="approved", score=4)
    assert result["note"] == Note(text="first draft", tags=["a", "b"])
    assert result["log"] == ["start", "draft"]


def test_native_backends_are_known() -> None:
    """The backends that read their own tables are those the next test covers."""
    assert set(NATIVE_TYPES) == {"sqlite", "postgres"}
    assert set(BULK_TYPES) == {"sqlite", "postgres"}


@pytest.mark.backends(*NATIVE_TYPES)
def test_native_records_are_those_of_the_saver_listing(settings: Settings) -> None:
    """Where the backend reads its tables itself (values never decoded), it exports exactly
    what reading through the saver's `list()` exports."""
    backend = backends.load(settings.type)
    with open_checkpointer(settings) as saver:
        threads = run_example(saver)
        rich_graph(saver).invoke({"log": ["start"]}, new_thread())
        listed = [record(t, saver.serde) for t in backend.tuples(saver, None)]
        assert list(backend.records(saver, None)) == listed
        assert len({r["checkpoint_ns"] for r in listed}) > 1  # subgraph checkpoints too
        one = threads["forked"]["configurable"]["thread_id"]
        assert list(backend.records(saver, one)) == [r for r in listed if r["thread_id"] == one]


def test_the_store_listing_has_every_pending_write(settings: Settings) -> None:
    """Exports list the store natively where they can; they miss no pending write (Redis'
    get_tuple() skips those of a checkpoint whose flag its own put() reset, as here)."""
    config = new_thread()
    with open_checkpointer(settings) as saver:
        rich_graph(saver).invoke({"log": ["start"]}, config)
        listed = backends.load(settings.type).tuples(saver, None)
        found = {t.checkpoint["id"]: sorted(map(repr, t.pending_writes or [])) for t in listed}
        expected = {
            t.checkpoint["id"]: sorted(map(repr, t.pending_writes or []))
            for ns in {t.config["configurable"]["checkpoint_ns"] for t in saver.list(config)}
            for t in saver.list({"configurable": {**config["configurable"], "checkpoint_ns": ns}})
        }
    assert found == expected
    assert sum(map(len, found.values())) >= 10


@pytest.mark.backends(*BULK_TYPES)
def test_a_bulk_load_that_fails_half_way_writes_nothing(settings: Settings, fresh: Fresh) -> None:
    target = fresh(settings.type)
    with open_checkpointer(settings) as saver:
        run_example(saver)
        records = records_of(export(saver))

    def failing() -> Iterator[dict[str, Any]]:
        yield from records[: len(records) // 2]
        raise CheckpointError("the file changed")

    with open_checkpointer(target) as saver:
        loader = backends.load(target.type).loader(saver)
        assert loader is not None
        for holds in ("nothing", "threads of its own"):
            before = export(saver)
            with pytest.raises(CheckpointError, match="the file changed"):
                loader(failing())
            assert comparable(export(saver)) == comparable(before), holds
            run_example(saver)


@pytest.mark.backends("sqlite")
def test_a_full_store_says_so_and_keeps_nothing_of_the_import(
    via: str, settings: Settings, fresh: Fresh, tmp_path: Path
) -> None:
    """A store that fills up half-way through an import: one line saying so, nothing written.
    SQLite is filled for real, by capping its file's size (`max_page_count`)."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    target = fresh(settings.type)
    with open_checkpointer(settings) as saver:
        for _ in range(3):
            run_example(saver)
        path = write(tmp_path, export(saver))
    with open_checkpointer(target) as saver:
        assert isinstance(saver, SqliteSaver)
        (pages,) = saver.conn.execute("PRAGMA page_count").fetchone()
        saver.conn.execute(f"PRAGMA max_page_count = {pages + 3}")
        with pytest.raises(sqlite3.DatabaseError) as error:
            load(via, target, saver, path)
        message = cli.describe(error.value, target)
        assert message.startswith("storage full: database or disk is full"), message
        saver.conn.rollback()  # what the saver API had written before the store was full
        if via == "bulk loader":
            assert list(iter_store(saver)) == []


# Redis' serializer rebuilds a Pydantic model only if the saver's serializer allows its class,
# which a migration's own savers do not: there, the model moves as a dict.
@pytest.mark.backends(*(t for t in TYPES if t != "redis"))
def test_a_migration_moves_classes_an_import_would_refuse(
    settings: Settings, fresh: Fresh, tmp_path: Path
) -> None:
    """A migration moves the project's own store: a value of any class moves, as stored."""
    target = fresh(settings.type)
    config = new_thread()
    with open_checkpointer(settings) as saver:
        rich_graph(saver).invoke({"log": ["start"]}, config)  # classes of this test module
        exported = export(saver)
    report = migrate.run(settings, target, cli.opened, cli.progress)
    assert report.startswith("migrated 1 threads"), report
    with open_checkpointer(target) as saver:
        assert comparable(export(saver)) == comparable(exported)
        result = rich_graph(saver).invoke(Command(resume="approved"), config)
        assert result["review"] == Review(verdict="approved", score=4)
        assert result["note"] == Note(text="first draft", tags=["a", "b"])
    assert migrate.pending(tmp_path) is None
    [backup] = (tmp_path / migrate.BACKUPS).glob("*.jsonl")
    assert comparable(backup.read_bytes())[1] == comparable(exported)[1]


# -- threads made by other savers: string and integer channel versions ------------------------


def integer_versions(exported: bytes) -> bytes:
    """The export as MongoDB's saver numbers versions: 1, 2, 3... (the same counters). Unlike
    the strings, they repeat across the two branches of a fork."""
    header, *lines, trailer = exported.splitlines()
    out = [header]
    for line in lines:
        rec = json.loads(line)
        checkpoint = rec["checkpoint"]
        checkpoint["channel_versions"] = counters(checkpoint["channel_versions"])
        checkpoint["versions_seen"] = {
            node: counters(seen) for node, seen in checkpoint["versions_seen"].items()
        }
        out.append(json.dumps(rec).encode())
    return resealed(out, json.loads(trailer))


def counters(versions: dict[str, str]) -> dict[str, int]:
    return {channel: int(version.split(".")[0]) for channel, version in versions.items()}


@pytest.mark.parametrize("versions", ["strings", "integers"])
def test_threads_from_another_saver_resume_here(
    versions: str, via: str, settings: Settings, tmp_path: Path
) -> None:
    source = InMemorySaver()
    threads = run_example(source)
    exported = export(source)
    path = write(tmp_path, exported if versions == "strings" else integer_versions(exported))
    with open_checkpointer(settings) as saver:
        load(via, settings, saver, path)
        # Every state of every thread, both branches of the fork included.
        assert histories(saver, threads) == histories(source, threads)
        app = compile_graph(saver)
        paused = threads["paused"]
        app.update_state(paused, {"approved": True})
        assert app.invoke(None, paused)["messages"][-1].startswith("finalize: Request paused")
        forked = threads["forked"]
        app.invoke({"messages": ["Once more"]}, forked)
        assert app.get_state(forked).next == ("human_review",)


# -- damaged and crafted files ------------------------------------------------------------------


@cache
def example_export() -> bytes:
    """An export of the example's threads (made once: which saver wrote it does not matter
    to the checks of an import)."""
    saver = InMemorySaver()
    run_example(saver)
    return export(saver)


def smuggle(exported: bytes, typed: list[str]) -> bytes:
    """The export with one more channel value, `typed`, in its first checkpoint."""
    header, first, *lines, trailer = exported.splitlines()
    rec = json.loads(first)
    rec["checkpoint"]["channel_values"]["smuggled"] = typed
    return resealed([header, json.dumps(rec).encode(), *lines], json.loads(trailer))


def msgpack_ext(code: int, *payload: Any) -> list[str]:
    data = ormsgpack.packb({"x": [ormsgpack.Ext(code, ormsgpack.packb(list(payload)))]})
    return ["msgpack", base64.b64encode(data).decode()]


def damaged(name: str, exported: bytes, marker: Path) -> bytes:
    header, *lines, trailer = exported.splitlines()
    middle = len(exported) // 2
    flipped = bytes([exported[middle] ^ 1])
    touch = f"touch {marker}"
    single, positional, keywords = (
        jsonplus.EXT_CONSTRUCTOR_SINGLE_ARG,
        jsonplus.EXT_CONSTRUCTOR_POS_ARGS,
        jsonplus.EXT_CONSTRUCTOR_KW_ARGS,
    )
    cases: dict[str, Callable[[], bytes]] = {
        "truncated": lambda: exported[:middle],
        "flipped byte": lambda: exported[:middle] + flipped + exported[middle + 1 :],
        "edited count": lambda: exported.replace(b'"checkpoints":', b'"checkpoints":1'),
        "data after the trailer": lambda: exported + lines[0] + b"\n",
        "unsupported version": lambda: exported.replace(b'"version":1', b'"version":2', 1),
        "not an export": lambda: b'{"hello": "world"}\n',
        "empty": lambda: b"",
        "out of order": lambda: resealed(
            [header, lines[1], lines[0], *lines[2:]], json.loads(trailer)
        ),  # fmt: skip
        "os.system": lambda: smuggle(exported, msgpack_ext(single, "os", "system", touch)),
        "subprocess.Popen": lambda: smuggle(
            exported, msgpack_ext(positional, "subprocess", "Popen", [touch.split()])
        ),
        "builtins.eval": lambda: smuggle(
            exported,
            msgpack_ext(single, "builtins", "eval", f"__import__('os').system({touch!r})"),
        ),
        "a function of this project": lambda: smuggle(
            exported, msgpack_ext(keywords, f"{PACKAGE}.graph", "compile_graph", {})
        ),
        "a class this project imported": lambda: smuggle(
            exported, msgpack_ext(keywords, f"{PACKAGE}.graph", "StateGraph", {})
        ),
        "pickle": lambda: smuggle(exported, ["pickle", "gASVAAAAAAAAAAAu"]),
        "a method call": lambda: smuggle(
            exported, msgpack_ext(jsonplus.EXT_METHOD_SINGLE_ARG, "os", "system", touch, "__call__")
        ),
    }
    return cases[name]()


DAMAGE = {
    "truncated": r"backup.jsonl is truncated: no trailer after line \d+",
    "flipped byte": "backup.jsonl: checksum mismatch: the file was edited or corrupted",
    "edited count": "the trailer counts 1[0-9]+ checkpoints .* the file was edited or corrupted",
    "data after the trailer": r"backup.jsonl has data after its trailer \(line \d+\)",
    "unsupported version": "unsupported export version 2 in backup.jsonl",
    "not an export": "backup.jsonl is not an lg-memory export",
    "empty": "backup.jsonl is empty",
    "out of order": r"line 3: checkpoints out of export order",
    "os.system": r"line 2: channel 'smuggled' .* os\.system is not a trusted type",
    "subprocess.Popen": r"subprocess\.Popen is not a trusted type",
    "builtins.eval": r"builtins\.eval is not a trusted type",
    "a function of this project": rf"{PACKAGE}\.graph\.compile_graph is not a trusted type",
    "a class this project imported": rf"{PACKAGE}\.graph\.StateGraph is not a trusted type",
    "pickle": "values of type 'pickle' are never imported",
    "a method call": r"a call of os\.system\.__call__",
}


@pytest.mark.parametrize("case", DAMAGE)
def test_a_damaged_or_crafted_file_is_refused_and_nothing_written(
    case: str, via: str, settings: Settings, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    path = write(tmp_path, damaged(case, example_export(), marker))
    with open_checkpointer(settings) as saver:
        compile_graph(saver).invoke({"messages": ["mine"]}, new_thread())  # the target's own
        before = export(saver)
        with pytest.raises(CheckpointError, match=DAMAGE[case]) as error:
            # As `lg-memory import` calls it: the project's package is trusted.
            load(via, settings, saver, path, allowed_modules=[PACKAGE])
        assert "\n" not in str(error.value)
        assert comparable(export(saver)) == comparable(before)
    with pytest.raises(CheckpointError, match=DAMAGE[case]):
        read_export(path, allowed_modules=[PACKAGE])
    assert not marker.exists()


INTEGRITY = ["truncated", "flipped byte", "edited count", "unsupported version", "not an export",
             "empty"]  # fmt: skip


@pytest.mark.parametrize("case", INTEGRITY)
def test_a_damaged_backup_stops_a_migration_before_it_writes(
    case: str, via: str, settings: Settings, tmp_path: Path
) -> None:
    """A migration trusts its own backup's types, not its integrity."""
    path = write(tmp_path, damaged(case, example_export(), tmp_path / "unused"))
    with open_checkpointer(settings) as saver:
        compile_graph(saver).invoke({"messages": ["mine"]}, new_thread())
        before = export(saver)
        with pytest.raises(CheckpointError, match=DAMAGE[case]):
            load(via, settings, saver, path, trusted=True)
        assert comparable(export(saver)) == comparable(before)
