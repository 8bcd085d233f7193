"""`langgraph dev` (the LangGraph Agent Server, from the project's dev tools) serves the example
graph with the project's checkpointer: a thread created and run through langgraph-sdk lands in
the project's store, where `lg-memory` sees it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

from services import Servers
from rendering import install, render, run

CLIENT = """
import json, sys
from langgraph_sdk import get_sync_client

client = get_sync_client(url=sys.argv[1])
thread = client.threads.create()
client.runs.wait(thread["thread_id"], "agent", input={"messages": ["Book a table"]})
state = client.threads.get_state(thread["thread_id"])
print(json.dumps({"thread_id": thread["thread_id"], "next": state["next"]}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_langgraph_dev_stores_threads_in_the_projects_backend(
    tmp_path: Path, servers: Servers
) -> None:
    project = render(tmp_path / "agent", project_name="agent", type="postgres")
    python = install(project)
    env = {"POSTGRES_URL": servers.url("postgres")}
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [python.parent / "langgraph", "dev", "--port", str(port), "--no-browser", "--no-reload"],
        cwd=project, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        result = json.loads(run([python, "-c", CLIENT, url], cwd=project).stdout)
    finally:
        server.terminate()
        server.wait(30)
        log.close()
    served = (tmp_path / "server.log").read_text()
    assert "Using custom checkpointer: LgAsyncPostgresSaver" in served
    assert result["next"] == ["human_review"]  # paused, as compiled in studio.py

    listing = run([python.parent / "lg-memory", "list", "--thread-id", result["thread_id"],
                   "--json"], cwd=project, env=env).stdout  # fmt: skip
    [thread] = json.loads(listing)
    assert thread["checkpoints"] >= 4
    assert thread["namespaces"][""][-1]["interrupted_before"] == ["human_review"]
