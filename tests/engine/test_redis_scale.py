"""Redis' saver lists at most 10,000 checkpoints and ignores `before`, and RediSearch
aggregations keep 10 rows unless told otherwise: a thread longer than 10,000 checkpoints, and
more than 10 threads, must still be listed, counted and exported completely."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.base.id import uuid6

from lg_memory import Settings, open_checkpointer

from helpers import CLI

CHECKPOINTS = 10_050
SHORT = 25  # threads of one checkpoint each


def fill(settings: Settings) -> None:
    with open_checkpointer(settings) as saver:
        config: RunnableConfig = {"configurable": {"thread_id": "long", "checkpoint_ns": ""}}
        version = None
        for i in range(CHECKPOINTS):
            version = saver.get_next_version(version, None)
            checkpoint = empty_checkpoint()
            checkpoint["id"] = str(uuid6(clock_seq=i))
            checkpoint["channel_values"] = {"messages": [f"message {i}"]}
            checkpoint["channel_versions"] = {"messages": version}
            config = saver.put(
                config, checkpoint, {"source": "loop", "step": i}, {"messages": version}
            )
            if i % 1000 == 0:
                saver.put_writes(config, [("messages", [f"pending {i}"])], f"task-{i}")
        for n in range(SHORT):
            saver.put(
                {"configurable": {"thread_id": f"short-{n}", "checkpoint_ns": ""}},
                empty_checkpoint(),
                {"source": "input", "step": -1},
                {},
            )


@pytest.mark.backends("redis")
def test_a_thread_longer_than_redis_list_cap_exports_completely(
    settings: Settings, cli: CLI, tmp_path: Path
) -> None:
    fill(settings)

    code, info, err = cli("info")
    assert code == 0, err
    assert f"Total Checkpoints: {CHECKPOINTS + SHORT}" in info
    assert f"Threads: {SHORT + 1}" in info
    code, listing, err = cli("list", "--json", "--limit", "100", "--checkpoints", "1")
    assert code == 0, err
    found = {t["thread_id"]: t["checkpoints"] for t in json.loads(listing)}
    assert found == {"long": CHECKPOINTS, **{f"short-{n}": 1 for n in range(SHORT)}}
    code, one, err = cli("list", "--thread-id", "long", "--json", "--checkpoints", "1")
    assert code == 0, err
    assert json.loads(one)[0]["checkpoints"] == CHECKPOINTS
    everything = tmp_path / "all.jsonl"
    assert cli("export", "-o", str(everything))[0] == 0
    assert json.loads(everything.read_text().splitlines()[-1])["checkpoints"] == CHECKPOINTS + SHORT

    export = tmp_path / "long.jsonl"
    assert cli("export", "--thread-id", "long", "-o", str(export))[0] == 0
    lines = export.read_text().splitlines()
    trailer = json.loads(lines[-1])
    assert trailer["checkpoints"] == CHECKPOINTS == len(lines) - 2
    assert trailer["writes"] == 11
    ids = [json.loads(line)["checkpoint_id"] for line in lines[1:-1]]
    assert ids == sorted(set(ids))  # every one, once, oldest first

    # Deleting goes beyond 10,000 too (the saver's delete_thread stops there).
    kept = CHECKPOINTS - 30
    code, out, err = cli("prune", "--keep-last", str(kept), "--yes")
    assert code == 0, err
    assert out.startswith(f"pruned all but the last {kept} checkpoints of each thread: 30 ")
    code, out, err = cli("clear", "--thread-id", "long", "--yes")
    assert code == 0, err
    assert out.startswith(f"cleared thread long: {kept} checkpoints deleted")
    code, info, err = cli("info")
    assert f"Total Checkpoints: {SHORT}" in info and f"Threads: {SHORT}" in info
