"""Redis' saver lists at most 10,000 checkpoints and ignores `before`, and RediSearch
aggregations keep 10 rows unless told otherwise: a thread longer than 10,000 checkpoints, and
more than 10 threads, must still be listed, counted and exported completely."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Servers, install, render, run

CHECKPOINTS = 10_050
SHORT = 25  # threads of one checkpoint each

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
    for n in range({SHORT}):
        checkpoint = empty_checkpoint()
        saver.put({{"configurable": {{"thread_id": f"short-{{n}}", "checkpoint_ns": ""}}}},
                  checkpoint, {{"source": "input", "step": -1}}, {{}})
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
    assert f"Total Checkpoints: {CHECKPOINTS + SHORT}" in info
    assert f"Threads: {SHORT + 1}" in info
    listing = json.loads(run([lg, "list", "--json", "--limit", "100"], cwd=project, env=env).stdout)
    found = {t["thread_id"]: t["checkpoints"] for t in listing}
    assert found == {"long": CHECKPOINTS, **{f"short-{n}": 1 for n in range(SHORT)}}
    one = run([lg, "list", "--thread-id", "long", "--json"], cwd=project, env=env).stdout
    assert json.loads(one)[0]["checkpoints"] == CHECKPOINTS
    everything = tmp_path / "all.jsonl"
    run([lg, "export", "-o", everything], cwd=project, env=env)
    assert json.loads(everything.read_text().splitlines()[-1])["checkpoints"] == CHECKPOINTS + SHORT

    export = tmp_path / "long.jsonl"
    run([lg, "export", "--thread-id", "long", "-o", export], cwd=project, env=env)
    lines = export.read_text().splitlines()
    trailer = json.loads(lines[-1])
    assert trailer["checkpoints"] == CHECKPOINTS == len(lines) - 2
    assert trailer["writes"] == 11
    ids = [json.loads(line)["checkpoint_id"] for line in lines[1:-1]]
    assert ids == sorted(set(ids))  # every one, once, oldest first
