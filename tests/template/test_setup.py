"""The seed's commands, run verbatim from outside the project: `lg-memory setup` renders it
through Copier, the store commands take `--project`, and `migrate --to-type` re-renders it and
moves the data. The lg-memory here is the dev environment's (every extra installed)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rendering import TEMPLATE, git, install, lg, run
from services import Servers

FILL = """
from agent.graph import compile_graph
from agent.memory import open_checkpointer
with open_checkpointer() as cp:
    app = compile_graph(cp)
    for name in ("thread_1", "thread_2"):
        config = {"configurable": {"thread_id": name}}
        app.invoke({"messages": [f"request of {name}"]}, config)
    app.update_state({"configurable": {"thread_id": "thread_1"}}, {"approved": True})
    app.invoke(None, {"configurable": {"thread_id": "thread_1"}})
"""


def test_the_seed_commands_from_outside_the_project(tmp_path: Path) -> None:
    done = lg(tmp_path, "setup", "--preset", "sqlite-persistent", "--project", "./my-agent",
              "--template", str(TEMPLATE))  # fmt: skip
    assert "set up" in done.stdout and "connected: SQLite answers" in done.stdout
    project = tmp_path / "my-agent"
    assert 'type="sqlite"' in (project / "src/my_agent/memory.py").read_text()
    python = install(project)
    run([python, "-c", FILL.replace("agent.", "my_agent.")], cwd=project)

    listing = lg(tmp_path, "list", "--project", "./my-agent").stdout
    assert "Thread: thread_1 (" in listing and "Thread: thread_2 (" in listing
    assert "(interrupted before human_review)" in listing.split("Thread: thread_2")[1]
    one = lg(tmp_path, "list", "--thread-id", "thread_1", "--project", "./my-agent").stdout
    assert one.startswith("Thread: thread_1 (") and "thread_2" not in one
    backup = lg(tmp_path, "export", "--thread-id", "thread_1", "--project", "./my-agent").stdout
    (tmp_path / "backup.json").write_text(backup)
    assert json.loads(backup.splitlines()[-1])["checkpoints"] >= 5
    ids = [json.loads(line)["checkpoint_id"] for line in backup.splitlines()[1:-1]]
    cleared = lg(tmp_path, "clear", "--thread-id", "thread_1", "--checkpoint-id", ids[1],
                 "--project", "./my-agent", "--yes").stdout  # fmt: skip
    assert "1 checkpoints deleted" in cleared
    imported = lg(tmp_path, "import", "backup.json", "--project", "./my-agent").stdout
    assert "imported" in imported
    info = lg(tmp_path, "info", "--project", "./my-agent").stdout
    assert "Memory System: SQLite" in info and "Threads: 2" in info
    assert f"Connection: {project / 'checkpoints.db'}" in info


def test_setup_tests_the_connection_and_warns_when_nothing_answers(
    tmp_path: Path, servers: Servers
) -> None:
    url = servers.url("postgres")
    done = lg(tmp_path, "setup", "--type", "postgres", "--connection-string", url, "--async",
              "--project", "./pg-agent", "--template", str(TEMPLATE))  # fmt: skip
    assert "connected: PostgreSQL answers" in done.stdout
    assert "async_=True" in (tmp_path / "pg-agent/src/pg_agent/memory.py").read_text()
    password = url.split("://")[1].split("@")[0].split(":")[1]
    assert password not in done.stdout + done.stderr
    assert password in (tmp_path / "pg-agent/.env").read_text()

    down = "postgresql://agent:s3cret-pw@127.0.0.1:9/langgraph"
    later = lg(tmp_path, "setup", "--type", "postgres", "--connection-string", down,
               "--project", "./later", "--template", str(TEMPLATE))  # fmt: skip
    assert later.returncode == 0  # projects are often set up before their server exists
    assert "warning: connection failed" in later.stdout
    assert "lg-memory check --project" in later.stdout
    assert "s3cret-pw" not in later.stdout + later.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--preset", "redis-distributed", "--ttl", "5"], "--preset redis-distributed sets ttl"),
        (["--type", "postgres", "--connection-string", "redis://h"], "needs a postgresql://"),
        (["--type", "sqlite", "--namespace", "Bad ns!"], "cannot name a schema"),
        (["--type", "sqlite", "--ttl", "-1"], "ttl must be a whole number"),
    ],
)
def test_setup_refuses_bad_answers_in_one_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    done = lg(tmp_path, "setup", *args, "--project", "p", "--template", str(TEMPLATE),
              check=False)  # fmt: skip
    assert done.returncode != 0
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "p").exists()


def test_setup_refuses_a_directory_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    done = lg(tmp_path, "setup", "--project", "mine", "--template", str(TEMPLATE), check=False)
    assert done.returncode == 1 and "no pyproject.toml or requirements.txt" in done.stderr
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["notes.txt"]


def test_migrate_to_type_switches_the_project_and_moves_the_data(
    tmp_path: Path, servers: Servers
) -> None:
    lg(tmp_path, "setup", "--type", "sqlite", "--project", "agent", "--template", str(TEMPLATE))
    project = tmp_path / "agent"
    python = install(project)
    run([python, "-c", FILL], cwd=project)
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "rendered")
    before = lg(tmp_path, "list", "--json", "--project", "agent").stdout

    url = servers.url("postgres")
    done = lg(tmp_path, "migrate", "--to-type", "postgres", "--connection-string", url,
              "--namespace", "moved", "--project", "agent")  # fmt: skip

    assert "switched" in done.stdout and "SQLite -> PostgreSQL" in done.stdout
    assert "migrated 2 threads" in done.stdout + done.stderr
    assert 'type="postgres"' in (project / "src/agent/memory.py").read_text()
    after = lg(tmp_path, "list", "--json", "--project", "agent").stdout
    assert json.loads(after) == json.loads(before)
    assert url.split("@")[0].split(":")[-1] not in done.stdout + done.stderr


def test_the_package_installs_from_a_local_clone(tmp_path: Path) -> None:
    """`pip install <clone>[sqlite]`: lg-memory without Copier and without other drivers reads a
    store that a plain LangGraph app wrote."""
    clone = tmp_path / "lg-memory"
    subprocess.run(["git", "clone", "-q", str(TEMPLATE), str(clone)], check=True)
    venv = tmp_path / "venv"
    subprocess.run(["uv", "venv", "-q", "-p", sys.executable, str(venv)], check=True)
    subprocess.run(["uv", "pip", "install", "-q", "-p", str(venv / "bin/python"),
                    f"{clone}[sqlite]"], check=True)  # fmt: skip
    plain_app = """
import operator, sys
from typing import Annotated, TypedDict
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import START, StateGraph
class S(TypedDict):
    log: Annotated[list[str], operator.add]
graph = StateGraph(S)
graph.add_node("say", lambda s: {"log": ["hi"]})
graph.add_edge(START, "say")
with SqliteSaver.from_conn_string(sys.argv[1]) as saver:
    app = graph.compile(checkpointer=saver)
    for t in ("a", "b", "c"):
        app.invoke({"log": []}, {"configurable": {"thread_id": t}})
"""
    run([venv / "bin/python", "-c", plain_app, "x.db"], cwd=tmp_path)
    info = run([venv / "bin/lg-memory", "info", "--type", "sqlite", "--connection-string",
                "x.db"], cwd=tmp_path).stdout  # fmt: skip
    assert "Threads: 3" in info and "Total Checkpoints: 9" in info
    listed = run(["uv", "pip", "list", "-p", venv / "bin/python"], cwd=tmp_path).stdout.lower()
    for absent in ("copier", "psycopg", "redis", "pymongo"):
        assert f"\n{absent} " not in listed, absent
    assert shutil.which("lg-memory", path=str(venv / "bin"))
