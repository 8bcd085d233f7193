"""The LangGraph Agent Server (`langgraph dev`) on a PostgreSQL project finds every method it
asks a checkpointer for (issue 11, item 6): no "missing" warning at startup; a thread copied
through the API (`acopy_thread`) resumes on its own; a run cancelled by
`multitask_strategy="rollback"` leaves none of its checkpoints (`adelete_for_runs`)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psycopg

from rendering import install, langgraph_dev, render, run
from services import Servers

# A graph whose second node takes a while, so a second run finds the thread busy.
SLOW_GRAPH = """
import asyncio
import operator
from typing import Annotated, Any, TypedDict

from langgraph.graph import START, StateGraph


class State(TypedDict, total=False):
    steps: Annotated[list[str], operator.add]


def first(state: State) -> dict[str, Any]:
    return {"steps": ["first"]}


async def slow(state: State) -> dict[str, Any]:
    await asyncio.sleep(6)
    return {"steps": ["slow"]}


builder = StateGraph(State)
builder.add_node("first", first)
builder.add_node("slow", slow)
builder.add_edge(START, "first")
builder.add_edge("first", "slow")
graph = builder.compile()
"""

CLIENT = """
import json, sys, time
from langgraph_sdk import get_sync_client

client = get_sync_client(url=sys.argv[1])
out = {}

# A thread paused at human_review, copied, and the copy resumed on its own.
source = client.threads.create()["thread_id"]
client.runs.wait(source, "agent", input={"messages": ["Book a table"]})
copy = client.threads.copy(source)["thread_id"]
out["source"], out["copy"] = source, copy
out["copied_state"] = client.threads.get_state(copy)["values"]
out["source_state"] = client.threads.get_state(source)["values"]
out["copied_history"] = len(client.threads.get_history(copy, limit=100))
out["source_history"] = len(client.threads.get_history(source, limit=100))
client.threads.update_state(copy, {"approved": True})
done = client.runs.wait(copy, "agent", input=None)
out["copy_result"] = done["messages"][-1]
out["copy_next"] = client.threads.get_state(copy)["next"]
out["source_next"] = client.threads.get_state(source)["next"]

# A run cancelled by a second one with multitask_strategy="rollback".
busy = client.threads.create()["thread_id"]
first = client.runs.create(busy, "slow", input={"steps": ["one"]})
deadline = time.monotonic() + 30
while len(client.threads.get_history(busy, limit=10)) < 2:  # its first checkpoints are saved
    assert time.monotonic() < deadline, "the first run saved no checkpoint"
    time.sleep(0.2)
second = client.runs.create(busy, "slow", input={"steps": ["two"]},
                            multitask_strategy="rollback")
client.runs.join(busy, second["run_id"])
out["busy"], out["first_run"], out["second_run"] = busy, first["run_id"], second["run_id"]
out["busy_state"] = client.threads.get_state(busy)["values"]
print(json.dumps(out))
"""


def runs_of(url: str, thread_id: str) -> list[str]:
    """The run id of each checkpoint of the thread, as PostgreSQL holds them."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT metadata ->> 'run_id' FROM checkpoints WHERE thread_id = %s", (thread_id,)
        ).fetchall()
    return [row[0] for row in rows]


def test_the_agent_server_copies_and_rolls_back_through_the_projects_checkpointer(
    tmp_path: Path, servers: Servers
) -> None:
    project = render(tmp_path / "agent", project_name="agent", type="postgres")
    config = json.loads((project / "langgraph.json").read_text())
    package = config["graphs"]["agent"].split(".")[0]
    (project / "src" / package / "slow.py").write_text(SLOW_GRAPH)
    config["graphs"]["slow"] = f"{package}.slow:graph"
    (project / "langgraph.json").write_text(json.dumps(config))
    python = install(project)
    url = servers.url("postgres")
    env = {"POSTGRES_URL": url}
    log_path = tmp_path / "server.log"
    with langgraph_dev(python, project, log_path, env) as server_url:
        result = json.loads(run([python, "-c", CLIENT, server_url], cwd=project).stdout)
        # The rolled-back run's checkpoints go once it has stopped.
        deadline = time.monotonic() + 15
        while result["first_run"] in runs_of(url, result["busy"]):
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.5)
    served = log_path.read_text()

    assert "Using custom checkpointer: LgAsyncPostgresSaver" in served
    assert "checkpointer missing" not in served, [
        line for line in served.splitlines() if "checkpointer missing" in line
    ]

    assert result["copied_state"] == result["source_state"]
    assert result["copied_history"] == result["source_history"] >= 4
    assert result["copy_result"].startswith("finalize: Book a table")
    assert result["copy_next"] == [] and result["source_next"] == ["human_review"]

    left = runs_of(url, result["busy"])
    assert result["first_run"] not in left
    assert left and set(left) == {result["second_run"]}
    assert result["busy_state"] == {"steps": ["two", "first", "slow"]}

    listing = run([python.parent / "lg-memory", "list", "--thread-id", result["busy"], "--json"],
                  cwd=project, env=env).stdout  # fmt: skip
    [thread] = json.loads(listing)
    assert thread["checkpoints"] == len(left)
