"""`lg-memory migrate --from-type A --to-type B`: every checkpoint moved to another backend,
verified, the source left as it was; an interrupted move is reminded of, then resumed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from example_agent.graph import compile_graph

from lg_memory import Settings, migrate, open_checkpointer

from helpers import CLI, SERVER_TYPES, Fresh, comparable, export, histories, run_example


def test_a_store_moves_to_this_backend_and_resumes_there(
    settings: Settings, cli: CLI, fresh: Fresh, tmp_path: Path
) -> None:
    source = fresh("sqlite")
    with open_checkpointer(source) as saver:
        threads = run_example(saver)
        exported = export(saver)
        before = histories(saver, threads)
    code, out, err = cli(
        "migrate", "--from-type", "sqlite", "--from-connection-string", source.connection_string,
        "--from-namespace", source.namespace, "--to-type", settings.type,
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith("migrated 3 threads, "), out
    assert f"sqlite (namespace {source.namespace}) -> {settings.type}" in out
    assert "verified" in out
    assert migrate.pending(tmp_path) is None
    [backup] = (tmp_path / migrate.BACKUPS).glob(f"sqlite-{source.namespace}-*.jsonl")
    assert comparable(backup.read_bytes()) == comparable(exported)
    with open_checkpointer(settings) as saver:
        assert comparable(export(saver)) == comparable(exported)
        assert histories(saver, threads) == before
        app = compile_graph(saver)
        paused = threads["paused"]
        app.update_state(paused, {"approved": True})
        assert app.invoke(None, paused)["messages"][-1].startswith("finalize: Request paused")
    with open_checkpointer(source) as saver:  # the source is left as it was
        assert comparable(export(saver)) == comparable(exported)


def test_a_migration_into_the_same_store_is_refused(settings: Settings, cli: CLI) -> None:
    code, _, err = cli(
        "migrate", "--from-type", settings.type,
        "--from-connection-string", settings.connection_string, "--to-type", settings.type,
    )  # fmt: skip
    assert code == 1
    assert err.strip() == "lg-memory: error: --from-type and --to-type name the same store"
    code, _, err = cli("migrate", "--resume")
    assert code == 1 and "no migration to resume" in err


UNREACHABLE = {
    "postgres": "postgresql://agent:s3cret-pw@127.0.0.1:9/langgraph",
    "redis": "redis://:s3cret-pw@127.0.0.1:9",
    "mongodb": "mongodb://agent:s3cret-pw@127.0.0.1:9",
}


@pytest.mark.backends(*SERVER_TYPES)
def test_a_move_to_a_server_that_was_down_is_resumed(
    settings: Settings, cli: CLI, fresh: Fresh, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = fresh("sqlite")
    with open_checkpointer(source) as saver:
        run_example(saver)
        exported = export(saver)
    monkeypatch.setenv("CHECKPOINT_CONNECT_TIMEOUT", "1")
    move = ("migrate", "--from-type", "sqlite", "--from-connection-string",
            source.connection_string, "--from-namespace", source.namespace)  # fmt: skip
    code, out, err = cli(*move, "--connection-string", UNREACHABLE[settings.type])
    assert code == 1 and err.startswith("lg-memory: error: connection failed"), err
    assert "s3cret-pw" not in out + err
    plan = migrate.pending(tmp_path)
    assert plan is not None and plan.backup is not None
    assert (plan.from_type, plan.to_type, plan.to_namespace) == (
        "sqlite", settings.type, settings.namespace,
    )  # fmt: skip
    backup = tmp_path / plan.backup
    assert comparable(backup.read_bytes()) == comparable(exported)

    code, out, err = cli("list")  # every other command reminds the user
    assert code == 0
    assert "a migration sqlite" in err and "lg-memory migrate --resume" in err
    assert out.strip() == f"No threads in namespace {settings.namespace}."

    code, out, err = cli("migrate", "--resume")
    assert code == 0, err
    assert out.startswith("migrated 3 threads, ") and str(backup) in out
    assert migrate.pending(tmp_path) is None
    assert list((tmp_path / migrate.BACKUPS).glob("*.jsonl")) == [backup]  # not made again
    with open_checkpointer(settings) as saver:
        assert comparable(export(saver)) == comparable(exported)
    code, out, err = cli("list", "--json")
    assert code == 0 and err == ""
    assert len(json.loads(out)) == 3
