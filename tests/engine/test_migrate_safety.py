"""A migration loses nothing, whatever happens around it (issue 11, items 1, 3 and 4):

- checkpoints written to the source while the move runs are carried over in catch-up passes,
  or the move stops and asks for the writers to be stopped;
- values reach every backend as the bytes the source stored, classes this process cannot
  import included; a move that can never finish says so, and offers the way back;
- a thread that both stores hold with different histories stops the move before anything is
  written, until the user keeps the target's copies or replaces them.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ormsgpack
import pytest
from example_agent.graph import compile_graph
from langgraph.checkpoint.base import empty_checkpoint
from pydantic import BaseModel

from lg_memory import CheckpointError, Settings, backends, migrate, open_checkpointer
from lg_memory import cli as lg_cli
from lg_memory.backends import postgres as postgres_backend
from lg_memory.backends.sqlite import database_path
from lg_memory.transfer import unpack_raw

from helpers import CLI, Fresh, comparable, config, export, fill, history, records_of

# -- 4. two histories of one thread --------------------------------------------------------


def move_args(source: Settings, settings: Settings) -> tuple[str, ...]:
    return (
        "migrate", "--from-type", source.type, "--from-connection-string",
        source.connection_string, "--from-namespace", source.namespace,
        "--to-type", settings.type,
    )  # fmt: skip


def talk(settings: Settings, thread_id: str, text: str) -> None:
    """A turn of the example agent on `thread_id` (paused before human_review)."""
    with open_checkpointer(settings) as saver:
        compile_graph(saver).invoke({"messages": [text]}, config(thread_id))


def thread_export(settings: Settings, thread_id: str) -> Any:
    with open_checkpointer(settings) as saver:
        return comparable(export(saver, thread_id))[1]


@pytest.fixture
def both(settings: Settings, fresh: Fresh) -> tuple[Settings, list[str]]:
    """A SQLite source with three threads, `t-5` among them, and a target (the backend under
    test) where the application already wrote `t-5` with a history of its own."""
    source = fresh("sqlite")
    threads = [*fill(source), "t-5"]
    talk(source, "t-5", "written before the switch")
    talk(settings, "t-5", "written to the new backend while the move was pending")
    return source, threads


def test_two_histories_of_a_thread_stop_the_move_before_anything_is_written(
    settings: Settings, both: tuple[Settings, list[str]], cli: CLI, tmp_path: Path
) -> None:
    source, _ = both
    with open_checkpointer(settings) as saver:
        before = comparable(export(saver))

    code, out, err = cli(*move_args(source, settings))

    assert code == 1 and out == ""
    assert err.count("\n") == 1, err  # one line
    assert "two histories" in err and "thread 't-5' " in err
    assert "nothing was written" in err
    assert "lg-memory migrate --resume --keep-target" in err
    assert "lg-memory migrate --resume --replace" in err
    with open_checkpointer(settings) as saver:
        assert comparable(export(saver)) == before  # not one checkpoint written
    assert migrate.pending(tmp_path) is not None


def test_keep_target_skips_the_threads_both_stores_hold(
    settings: Settings, both: tuple[Settings, list[str]], cli: CLI, tmp_path: Path
) -> None:
    source, threads = both
    theirs = thread_export(settings, "t-5")
    assert cli(*move_args(source, settings))[0] == 1

    code, out, err = cli("migrate", "--resume", "--keep-target")

    assert code == 0, err
    assert out.startswith("migrated 2 threads, "), out
    assert "verified" in out and "kept the " in out and "copies of thread 't-5'" in out
    assert thread_export(settings, "t-5") == theirs  # the target's history, untouched
    for thread_id in threads[:2]:
        assert thread_export(settings, thread_id) == thread_export(source, thread_id)
    assert migrate.pending(tmp_path) is None


def test_replace_puts_the_source_history_in_place_of_the_target_one(
    settings: Settings, both: tuple[Settings, list[str]], cli: CLI, tmp_path: Path
) -> None:
    source, threads = both
    theirs = thread_export(settings, "t-5")

    code, out, err = cli(*move_args(source, settings), "--replace")

    assert code == 0, err
    assert out.startswith("migrated 3 threads, "), out
    assert "replaced the " in out and "copies of thread 't-5'" in out
    for thread_id in threads:
        assert thread_export(settings, thread_id) == thread_export(source, thread_id)
    assert history(settings, "t-5") == history(source, "t-5")
    # The target's own copy was saved before it was deleted.
    [saved] = (tmp_path / migrate.BACKUPS).glob(f"{settings.type}-*-replaced.jsonl")
    assert comparable(saved.read_bytes())[1] == theirs
    assert migrate.pending(tmp_path) is None


def test_a_resumed_move_is_not_taken_for_two_histories(
    settings: Settings, cli: CLI, fresh: Fresh, tmp_path: Path
) -> None:
    """A move that stopped half-way left some threads in the target: those are its own."""
    source = fresh("sqlite")
    done, paused = fill(source)

    @contextmanager
    def killed(stage: str) -> Iterator[Callable[[int], None]]:
        if stage == "import":
            raise KeyboardInterrupt  # before anything is imported
        yield lambda n: None

    with pytest.raises(KeyboardInterrupt):
        migrate.run(source, settings, lg_cli.opened, killed)
    assert migrate.pending(tmp_path) is not None
    with open_checkpointer(settings) as saver:
        assert export(saver).count(b"\n") == 2  # nothing but a header and a trailer
    with open_checkpointer(source) as saver:  # one thread arrives, as from an earlier attempt
        (tmp_path / "done.jsonl").write_bytes(export(saver, done))
    code, _, err = cli("import", str(tmp_path / "done.jsonl"))
    assert code == 0, err

    code, out, err = cli("migrate", "--resume")

    assert code == 0, err
    assert out.startswith("migrated 2 threads, ") and "copies of" not in out
    with open_checkpointer(source) as a, open_checkpointer(settings) as b:
        assert comparable(export(a)) == comparable(export(b))


@pytest.mark.backends("sqlite", "postgres")
def test_a_move_stopped_while_its_backup_streams_in_leaves_nothing_behind(
    settings: Settings, fresh: Fresh, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Into SQLite and PostgreSQL the backup is imported as it is written, in one transaction
    that commits once the file is complete. Stopped half-way (rows sent, file unfinished), the
    target holds nothing and no backup is left; resumed, the move starts again and finishes."""
    monkeypatch.setattr(postgres_backend, "BATCH", 1)  # every row reaches the server at once
    source = fresh("sqlite")
    fill(source)
    stages: list[str] = []

    @contextmanager
    def stopped(stage: str) -> Iterator[Callable[[int], None]]:
        stages.append(stage)

        def tick(n: int) -> None:
            if stage == "import" and n == 3:
                raise KeyboardInterrupt

        yield tick

    with pytest.raises(KeyboardInterrupt):
        migrate.run(source, settings, lg_cli.opened, stopped)

    assert stages == ["import"]  # no backup of its own: the import writes it
    with open_checkpointer(settings) as saver:
        assert export(saver).count(b"\n") == 2  # nothing but a header and a trailer
    assert not list((tmp_path / migrate.BACKUPS).glob("*.jsonl*"))
    plan = migrate.pending(tmp_path)
    assert plan is not None and plan.backup is None

    stages.clear()
    report = migrate.run(source, settings, lg_cli.opened, recorded(stages), resume=True)

    assert stages == ["import", "verify"], stages
    assert report.startswith("migrated 2 threads, "), report
    with open_checkpointer(source) as a, open_checkpointer(settings) as b:
        assert comparable(export(a)) == comparable(export(b))
    [backup] = (tmp_path / migrate.BACKUPS).glob("*.jsonl")
    with open_checkpointer(source) as saver:
        assert comparable(backup.read_bytes()) == comparable(export(saver))


@pytest.mark.backends("sqlite")
def test_a_loader_that_stops_reading_early_does_not_pass_for_a_move(
    settings: Settings, fresh: Fresh, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backup is complete only once the loader has read its last record: a loader that
    returns before (a bug) is an error, not a move with a backup missing."""
    source = fresh("sqlite")
    fill(source)

    def three(self: Any, saver: Any, records: Any) -> None:
        for _ in zip(range(3), records, strict=False):
            pass

    monkeypatch.setattr(type(backends.load("sqlite")), "load_records", three)
    with pytest.raises(CheckpointError, match="the import stopped reading .* before its end"):
        migrate.run(source, settings, lg_cli.opened, lg_cli.progress)
    plan = migrate.pending(settings.home)
    assert plan is not None and plan.backup is None


def recorded(stages: list[str]) -> Callable[[str], Any]:
    @contextmanager
    def progress(stage: str) -> Iterator[Callable[[int], None]]:
        stages.append(stage)
        yield lambda n: None

    return progress


# -- 1. writes racing a migration ------------------------------------------------------------


def injecting(inject: Callable[[str], None]) -> Callable[[str], Any]:
    """A progress reporter that calls `inject(stage)` at the first tick of each stage."""

    @contextmanager
    def progress(stage: str) -> Iterator[Callable[[int], None]]:
        ticked = False

        def tick(n: int) -> None:
            nonlocal ticked
            if not ticked:
                ticked = True
                inject(stage)

        yield tick

    return progress


@pytest.mark.backends("postgres", "mongodb")
def test_checkpoints_written_during_the_move_are_carried_over(
    settings: Settings, fresh: Fresh
) -> None:
    """Writes arrive between the backup and the verification, and again during the first
    catch-up pass: new threads, and new checkpoints of a thread already moved."""
    source = fresh("sqlite")
    done, paused = fill(source)
    held = len(records_of(export_of(source)))
    arrived: list[str] = []

    def inject(stage: str) -> None:
        if stage == "import" and not arrived:
            for n in range(3):
                arrived.append(f"during-{n}")
                talk(source, arrived[-1], f"request {n}")
            with open_checkpointer(source) as saver:  # the paused thread goes on
                app = compile_graph(saver)
                app.update_state(config(paused), {"approved": True})
                app.invoke(None, config(paused))
        elif stage == "catch-up 1":
            arrived.append("during-catch-up")
            talk(source, arrived[-1], "one more")

    report = migrate.run(source, settings, lg_cli.opened, injecting(inject))

    assert len(arrived) == 4
    everything = export_of(source)
    assert comparable(export_of(settings)) == comparable(everything)
    assert report.startswith("migrated 6 threads, "), report
    more = len(records_of(everything)) - held
    assert (
        f"; {more} checkpoints written during the move were carried over in 2 catch-up "
        "passes;" in report
    ), report


def export_of(settings: Settings) -> bytes:
    with open_checkpointer(settings) as saver:
        return export(saver)


@pytest.mark.backends("sqlite", "postgres", "mongodb")
def test_writes_to_a_moved_checkpoint_without_a_new_one_are_carried_over(
    settings: Settings, fresh: Fresh
) -> None:
    """A step that pauses writes to the newest checkpoint and writes no new one: the thread's
    count and newest checkpoint stay as they were moved, its pending writes do not."""
    source = fresh("sqlite")
    _, paused = fill(source)

    def inject(stage: str) -> None:
        if stage == "verify":
            with open_checkpointer(source) as saver:
                latest = saver.get_tuple(config(paused))
                assert latest is not None
                saver.put_writes(latest.config, [("messages", ["arrived late"])], "late-task")

    report = migrate.run(source, settings, lg_cli.opened, injecting(inject))

    assert "; pending writes written during the move were carried over in 1 catch-up pass;" in (
        report
    ), report
    assert comparable(export_of(settings)) == comparable(export_of(source))


@pytest.mark.backends("postgres")
def test_writers_that_never_stop_are_refused_then_resume_finishes(
    settings: Settings, fresh: Fresh, tmp_path: Path
) -> None:
    source = fresh("sqlite")
    fill(source)
    written: list[str] = []

    def inject(stage: str) -> None:
        if stage == "import" or stage.startswith("catch-up"):
            written.append(f"busy-{len(written)}")
            talk(source, written[-1], "again")

    with pytest.raises(CheckpointError) as refused:
        migrate.run(source, settings, lg_cli.opened, injecting(inject))

    message = str(refused.value)
    assert message.startswith("checkpoints keep arriving in the SQLite store"), message
    assert f"after {migrate.CATCH_UP_PASSES} catch-up passes" in message
    assert "Stop the agents that write to it, then run `lg-memory migrate --resume`" in message
    plan = migrate.pending(tmp_path)
    assert plan is not None and len(plan.moved) == 1 + migrate.CATCH_UP_PASSES

    report = migrate.run(source, settings, lg_cli.opened, lg_cli.progress, resume=True)

    assert "carried over in 1 catch-up pass;" in report, report
    with open_checkpointer(source) as a, open_checkpointer(settings) as b:
        assert comparable(export(a)) == comparable(export(b))
    assert migrate.pending(tmp_path) is None


@pytest.mark.backends("postgres")
def test_an_agent_writing_throughout_the_move_loses_nothing(
    settings: Settings, fresh: Fresh, tmp_path: Path
) -> None:
    """A real writer in another thread (12 new threads, one after another), while a move
    runs that takes a second or two (as over a slow network: each checkpoint imported or
    verified takes 2 ms more). When the move exits 0, the target holds everything the source
    holds; when the writes outrun the catch-up passes, it stops, and `--resume` finishes."""
    source = fresh("sqlite")
    for n in range(80):
        talk(source, f"before-{n}", f"request {n}")
    stop = threading.Event()
    written: list[str] = []

    def writer() -> None:
        marker = tmp_path / migrate.MARKER
        while not marker.exists() and not stop.is_set():  # the move has begun
            time.sleep(0.001)
        while not stop.is_set() and len(written) < 12:
            talk(source, f"racing-{len(written)}", "racing")
            written.append(f"racing-{len(written)}")

    @contextmanager
    def slow(stage: str) -> Iterator[Callable[[int], None]]:
        yield lambda n: time.sleep(0.002 if stage in ("import", "verify") else 0)

    agent = threading.Thread(target=writer)
    agent.start()
    try:
        report = migrate.run(source, settings, lg_cli.opened, slow)
    except CheckpointError as exc:  # the writer outran the catch-up passes
        assert str(exc).startswith("checkpoints keep arriving"), exc
        stop.set()
        agent.join()
        report = migrate.run(source, settings, lg_cli.opened, slow, resume=True)
    finally:
        stop.set()
        agent.join()
    assert len(written) == 12, "the writer was stopped: the move was too short to race it"
    assert comparable(export_of(settings)) == comparable(export_of(source)), report
    assert "written during the move were carried over" in report, report


# -- 3. values the migrating process cannot rebuild ------------------------------------------

USER_MODULE = """
from typing import TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from pydantic import BaseModel


class Note(BaseModel):
    text: str
    tags: list[str] = []


class State(TypedDict, total=False):
    note: Note
    verdict: str


def draft(state: State) -> State:
    return {"note": Note(text="first draft", tags=["a", "b"])}


def review(state: State) -> State:
    answer = interrupt(Note(text="approve?", tags=[state["note"].text]))
    return {"verdict": f"{answer}: {state['note'].model_dump()['text']}"}


def build(checkpointer):
    graph = StateGraph(State)
    graph.add_node("draft", draft)
    graph.add_node("review", review)
    graph.add_edge(START, "draft")
    graph.add_edge("draft", "review")
    graph.add_edge("review", END)
    return graph.compile(checkpointer=checkpointer)
"""

IN_USER_PROCESS = """
import json, sys
from langgraph.types import Command
from lg_memory import load_settings, open_checkpointer
from {module} import Note, build

type_, connection_string, namespace, action = sys.argv[1:]
config = {{"configurable": {{"thread_id": "noted"}}}}
with open_checkpointer(load_settings(type_, connection_string, namespace)) as saver:
    app = build(saver)
    if action == "fill":
        app.invoke({{}}, config)
    else:
        state = app.get_state(config)
        assert isinstance(state.values["note"], Note), state.values
        assert isinstance(state.interrupts[0].value, Note), state.interrupts
        print(json.dumps(app.invoke(Command(resume="approved"), config)["verdict"]))
"""


@pytest.fixture
def user_module(tmp_path: Path) -> tuple[str, Path]:
    """A module of the user's own (not the project's package), which this process cannot
    import: (its name, the folder that holds it)."""
    name = f"usermodels_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "user-code"
    folder.mkdir()
    (folder / f"{name}.py").write_text(USER_MODULE)
    with pytest.raises(ImportError):
        __import__(name)
    return name, folder


def in_user_process(module: tuple[str, Path], settings: Settings, action: str) -> str:
    name, folder = module
    done = subprocess.run(
        [sys.executable, "-c", IN_USER_PROCESS.format(module=name), settings.type,
         settings.connection_string, settings.namespace, action],
        env={**os.environ, "PYTHONPATH": str(folder)}, cwd=folder,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def sqlite_values(source: Settings) -> dict[str, bytes]:
    """The bytes SQLite holds for the thread's `note` channel value (newest checkpoint) and
    for its interrupt."""
    with sqlite3.connect(database_path(source)) as conn:
        (document,) = conn.execute(
            "SELECT checkpoint FROM checkpoints ORDER BY checkpoint_id DESC LIMIT 1"
        ).fetchone()
        (write,) = conn.execute(
            "SELECT value FROM writes WHERE channel = '__interrupt__'"
        ).fetchone()
    note = unpack_raw(document)["channel_values"]["note"]
    return {"note": ormsgpack.packb(note, option=ormsgpack.OPT_NON_STR_KEYS), "write": write}


@pytest.mark.backends("memory", "mongodb", "custom")
def test_values_of_a_class_this_process_cannot_import_move_as_stored(
    settings: Settings, cli: CLI, fresh: Fresh, user_module: tuple[str, Path], tmp_path: Path
) -> None:
    source = fresh("sqlite")
    in_user_process(user_module, source, "fill")
    stored = sqlite_values(source)
    assert user_module[0].encode() in stored["note"] and b"Note" in stored["write"]

    code, out, err = cli(*move_args(source, settings))

    assert code == 0, err
    assert out.startswith("migrated 1 threads, ") and "verified" in out, out
    code, exported, err = cli("export")  # as stored, nothing rebuilt
    assert code == 0, err
    code, original, err = cli(
        "export", "--type", "sqlite", "--connection-string", source.connection_string,
        "--namespace", source.namespace,
    )  # fmt: skip
    assert code == 0, err
    assert comparable(exported.encode())[1] == comparable(original.encode())[1]
    if settings.type == "mongodb":  # the bytes in MongoDB's own documents
        with open_checkpointer(settings) as mongo:
            saver: Any = mongo
            [doc] = saver.checkpoint_collection.find().sort("checkpoint_id", -1).limit(1)
            note = unpack_raw(doc["checkpoint"])["channel_values"]["note"]
            assert ormsgpack.packb(note, option=ormsgpack.OPT_NON_STR_KEYS) == stored["note"]
            [write] = saver.writes_collection.find({"channel": "__interrupt__"})
            assert write["value"] == stored["write"]
        # ... and the thread resumes there, with its model, where the module can be imported.
        assert json.loads(in_user_process(user_module, settings, "resume")) == (
            "approved: first draft"
        )


@pytest.mark.backends("redis")
def test_a_move_that_can_never_finish_says_so_and_offers_the_way_back(
    settings: Settings, cli: CLI, fresh: Fresh, user_module: tuple[str, Path], tmp_path: Path
) -> None:
    """Redis keeps channel values as JSON: a value must be rebuilt to move there, and a class
    this process cannot import cannot be. Refused before anything is written; no `--resume`
    is offered, the way back is."""
    source = fresh("sqlite")
    in_user_process(user_module, source, "fill")
    before = export_of(source)

    code, out, err = cli(*move_args(source, settings))

    assert code == 1 and err.count("\n") == 1, err
    module = user_module[0]
    assert "thread 'noted'" in err and f"channel 'note': {module}.Note" in err, err
    assert f"module {module} cannot be imported here" in err, err
    assert "the target keeps channel values as JSON" in err
    assert "Nothing was written" in err and "a retry would give the same result" in err
    assert "--resume" not in err and "`lg-memory migrate --abort` gives the move up" in err
    with open_checkpointer(settings) as saver:
        assert list(saver.list(None)) == []
    plan = migrate.pending(tmp_path)
    assert plan is not None and plan.blocked is not None
    code, _, err = cli("info")  # every command says it cannot finish, and the way back
    assert "cannot finish" in err and "--resume" not in err and "migrate --abort" in err

    code, out, err = cli("migrate", "--abort")

    assert code == 0, err
    assert out.startswith("gave up the migration sqlite"), out
    assert migrate.pending(tmp_path) is None
    assert cli("info")[2] == ""  # no reminder any more
    assert comparable(export_of(source)) == comparable(before)  # the source as it was


class Rating(BaseModel):
    """A class of this module: importable here, but not trusted unless named."""

    stars: int


@pytest.mark.backends("redis")
def test_a_value_to_rebuild_must_be_trusted_then_must_come_back(
    settings: Settings, cli: CLI, fresh: Fresh, tmp_path: Path
) -> None:
    """Redis keeps channel values as JSON, so a move rebuilds them: their classes must be
    trusted (`--trust`), and Redis must give them back as they were, which it does not for a
    Pydantic model (its saver returns it as a dict). Both are found before anything is
    written; only the first can be fixed by a `--resume`."""
    source = fresh("sqlite")
    with open_checkpointer(source) as saver:
        checkpoint = empty_checkpoint()
        checkpoint["channel_values"] = {"rating": Rating(stars=4), "plain": {"a": [1, 2]}}
        checkpoint["channel_versions"] = {"rating": "1", "plain": "1"}
        saver.put({"configurable": {"thread_id": "rated", "checkpoint_ns": ""}}, checkpoint,
                  {"source": "input", "step": -1}, {"rating": "1", "plain": "1"})  # fmt: skip

    code, _, err = cli(*move_args(source, settings))

    assert code == 1 and err.count("\n") == 1, err
    assert f"channel 'rating': {__name__}.Rating is not a trusted type" in err, err
    assert f"`lg-memory migrate --resume --trust {__name__}`" in err
    assert "Nothing was written" in err and "`lg-memory migrate --abort`" in err
    plan = migrate.pending(tmp_path)
    assert plan is not None and plan.blocked is None  # a --resume can succeed

    code, _, err = cli("migrate", "--resume", "--trust", __name__)

    assert code == 1 and err.count("\n") == 1, err
    assert (
        f"channel 'rating': a value of {__name__}.Rating would come back from the target "
        "as another value" in err
    ), err
    assert "--resume" not in err and "`lg-memory migrate --abort` gives the move up" in err
    plan = migrate.pending(tmp_path)
    assert plan is not None and plan.blocked is not None
    with open_checkpointer(settings) as saver:
        assert list(saver.list(None)) == []


def test_redis_pending_writes_move_as_stored(
    fresh: Fresh, user_module: tuple[str, Path], tmp_path: Path
) -> None:
    """Redis keeps a pending write as the bytes it is given: a write of a class this process
    cannot import moves there intact (its channel values, plain here, are rebuilt)."""
    source = fresh("sqlite")
    target = fresh("redis")
    name, folder = user_module
    script = textwrap.dedent(f"""
        import sys
        from lg_memory import load_settings, open_checkpointer
        from langgraph.checkpoint.base import empty_checkpoint
        from {name} import Note
        with open_checkpointer(load_settings("sqlite", sys.argv[1], sys.argv[2])) as saver:
            conf = {{"configurable": {{"thread_id": "w", "checkpoint_ns": ""}}}}
            conf = saver.put(conf, empty_checkpoint(), {{"source": "loop", "step": 1}}, {{}})
            saver.put_writes(conf, [("notes", Note(text="pending"))], "task-1")
    """)  # fmt: skip
    subprocess.run(
        [sys.executable, "-c", script, source.connection_string, source.namespace],
        env={**os.environ, "PYTHONPATH": str(folder)}, check=True,
    )  # fmt: skip
    report = migrate.run(source, target, lg_cli.opened, lg_cli.progress)
    assert report.startswith("migrated 1 threads, 1 checkpoints and 1 pending writes"), report
    with open_checkpointer(source) as a, open_checkpointer(target) as b:
        assert comparable(migrated(a, source)) == comparable(migrated(b, target))


def migrated(saver: Any, settings: Settings) -> bytes:
    """An export as `lg-memory export` makes it (values as stored)."""
    import io

    from lg_memory import backends

    out = io.BytesIO()
    migrate.export_to(backends.load(settings.type), saver, settings, out, None)
    return out.getvalue()
