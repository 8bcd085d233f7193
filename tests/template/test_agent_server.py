"""`langgraph dev` (the LangGraph Agent Server, from the project's dev tools) serves the example
graph with the project's checkpointer: a thread created and run through langgraph-sdk lands in
the project's store, where `lg-memory` sees it."""

from __future__ import annotations

import json
from pathlib import Path

from rendering import install, langgraph_dev, render, run
from services import Servers

CLIENT = """
import json, sys
from langgraph_sdk import get_sync_client

client = get_sync_client(url=sys.argv[1])
thread = client.threads.create()
client.runs.wait(thread["thread_id"], "agent", input={"messages": ["Book a table"]})
state = client.threads.get_state(thread["thread_id"])
print(json.dumps({"thread_id": thread["thread_id"], "next": state["next"]}))
"""


def test_langgraph_dev_stores_threads_in_the_projects_backend(
    tmp_path: Path, servers: Servers
) -> None:
    project = render(tmp_path / "agent", project_name="agent", type="postgres")
    python = install(project)
    env = {"POSTGRES_URL": servers.url("postgres")}
    with langgraph_dev(python, project, tmp_path / "server.log", env) as url:
        result = json.loads(run([python, "-c", CLIENT, url], cwd=project).stdout)
    served = (tmp_path / "server.log").read_text()
    assert "Using custom checkpointer: LgAsyncPostgresSaver" in served
    assert result["next"] == ["human_review"]  # paused, as compiled in studio.py

    listing = run([python.parent / "lg-memory", "list", "--thread-id", result["thread_id"],
                   "--json"], cwd=project, env=env).stdout  # fmt: skip
    [thread] = json.loads(listing)
    assert thread["checkpoints"] >= 4
    assert thread["namespaces"][""][-1]["interrupted_before"] == ["human_review"]
