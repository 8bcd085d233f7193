"""Redis' saver lists at most 10,000 checkpoints and ignores `before`: a thread longer than
that must still be listed, counted and exported completely."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Servers, install, render, run

CHECKPOINTS = 10_050

FILL = f"""
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.base.id import uuid6
from agent.memory import open_checkpointer

with open_checkpointer() as saver:
    config = {{"configurable": {{"thread_id": "long", "checkpoint_ns": ""}}}}
    version = None
    for i in range({CHECKPOINTS}):
        version = saver.get_next_version(version, None)
        checkpoint = empty_checkpoint()
        checkpoint["id"] = str(uuid6(clock_seq=i))
        checkpoint["channel_values"] = {{"messages": [f"message {{i}}"]}}
        checkpoint["channel_versions"] = {{"messages": version}}
        config = saver.put(config, checkpoint, {{"source": "loop", "step": i}},
                           {{"messages": version}})
        if i % 1000 == 0:
            saver.put_writes(config, [("messages", [f"pending {{i}}"])], f"task-{{i}}")
"""


def test_a_thread_longer_than_redis_list_cap_exports_completely(
    tmp_path: Path, servers: Servers
) -> None:
    project = render(tmp_path / "agent", project_name="agent", type="redis",
                     namespace="scale")  # fmt: skip
    python = install(project)
    env = {"REDIS_URL": servers.url("redis")}
    run([python, "-c", FILL], cwd=project, env=env)
    lg = str(python.parent / "lg-memory")

    info = run([lg, "info"], cwd=project, env=env).stdout
    assert f"Total Checkpoints: {CHECKPOINTS}" in info
    listing = json.loads(run([lg, "list", "--json"], cwd=project, env=env).stdout)
    assert [(t["thread_id"], t["checkpoints"]) for t in listing] == [("long", CHECKPOINTS)]

    export = tmp_path / "long.jsonl"
    run([lg, "export", "--thread-id", "long", "-o", export], cwd=project, env=env)
    lines = export.read_text().splitlines()
    trailer = json.loads(lines[-1])
    assert trailer["checkpoints"] == CHECKPOINTS == len(lines) - 2
    assert trailer["writes"] == 11
    ids = [json.loads(line)["checkpoint_id"] for line in lines[1:-1]]
    assert ids == sorted(set(ids))  # every one, once, oldest first
