"""Runs inside a generated project's environment (see run.py): builds stores, and the naive
baselines that `lg-memory` is compared with. Usage: python inproject.py COMMAND ARGS..."""

from __future__ import annotations

import sqlite3
import sys
import time
from collections import Counter, defaultdict
from typing import Any

from agent.graph import compile_graph
from agent.memory import load_settings, open_checkpointer


def build_sqlite(path: str, threads: int) -> None:
    """`threads` threads of the example graph (about 10 checkpoints each, with pending
    writes): a few run for real, then their rows are copied under new thread ids."""
    settings = load_settings("sqlite", path)
    with open_checkpointer(settings) as saver:
        app = compile_graph(saver)
        for n in range(10):
            config: Any = {"configurable": {"thread_id": f"seed-{n}"}}
            app.invoke({"messages": [f"request {n}"]}, config)
            app.update_state(config, {"approved": n % 2 == 0})
            app.invoke(None, config)
            app.invoke({"messages": [f"follow-up {n}"]}, config)  # paused again
    conn = sqlite3.connect(path)
    with conn:
        for table in ("checkpoints", "writes"):
            columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
            rest = ", ".join(c for c in columns if c != "thread_id")
            for copy in range(1, threads // 10):
                conn.execute(
                    f"INSERT INTO {table} (thread_id, {rest}) "
                    f"SELECT thread_id || '-' || ?, {rest} FROM {table} "
                    "WHERE thread_id LIKE 'seed-%' AND thread_id NOT LIKE 'seed-%-%'",
                    (copy,),
                )
    conn.close()


def naive_info(type_: str) -> None:
    with open_checkpointer(load_settings(type_)) as saver:
        counts = Counter(t.config["configurable"]["thread_id"] for t in saver.list(None))
    print(f"Threads: {len(counts)}\nTotal Checkpoints: {sum(counts.values())}")


def naive_list(type_: str) -> None:
    latest: dict[str, str] = {}
    with open_checkpointer(load_settings(type_)) as saver:
        for t in saver.list(None):
            tid = t.config["configurable"]["thread_id"]
            latest[tid] = max(latest.get(tid, ""), t.checkpoint["id"])
        for tid in sorted(latest, key=latest.__getitem__, reverse=True)[:20]:
            print(f"Thread: {tid}")
            for t in saver.list({"configurable": {"thread_id": tid}}, limit=20):
                print(f"  {t.checkpoint['id']}")


def naive_migrate(from_type: str, from_ns: str, to_type: str, to_ns: str) -> None:
    """DESIGN.md's public-API loop: sort, put each with its parent, then its writes."""
    started = time.perf_counter()
    with open_checkpointer(load_settings(from_type, namespace=from_ns)) as source:
        tuples = sorted(
            source.list(None),
            key=lambda t: (t.config["configurable"]["thread_id"],
                           t.config["configurable"]["checkpoint_ns"], t.checkpoint["id"]),
        )  # fmt: skip
    with open_checkpointer(load_settings(to_type, namespace=to_ns)) as target:
        for t in tuples:
            c = t.config["configurable"]
            config: Any = {"configurable": {"thread_id": c["thread_id"],
                                            "checkpoint_ns": c["checkpoint_ns"]}}  # fmt: skip
            if t.parent_config:
                config["configurable"]["checkpoint_id"] = t.parent_config["configurable"][
                    "checkpoint_id"
                ]
            saved = target.put(config, t.checkpoint, t.metadata,
                               t.checkpoint["channel_versions"])  # fmt: skip
            by_task: dict[str, list[tuple[str, Any]]] = defaultdict(list)
            for task_id, channel, value in t.pending_writes or []:
                by_task[task_id].append((channel, value))
            for task_id, writes in by_task.items():
                target.put_writes(saved, writes, task_id)
    print(f"naive: {len(tuples)} checkpoints in {time.perf_counter() - started:.1f} s")


def timed(what: str, type_: str) -> None:
    """Seconds of one operation inside a warm process (imports done), ours or naive."""
    import contextlib
    import io

    from agent.memory.cli import main

    ops = {
        "info": lambda: main(["info", "--type", type_]),
        "list": lambda: main(["list", "--type", type_, "--limit", "20"]),
        "naive_info": lambda: naive_info(type_),
        "naive_list": lambda: naive_list(type_),
    }
    with contextlib.redirect_stdout(io.StringIO()):
        ops[what.replace("naive_", "")]()  # warm up: imports, connections, caches
        started = time.perf_counter()
        ops[what]()
        elapsed = time.perf_counter() - started
    print(f"{elapsed:.4f}")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"build_sqlite": lambda: build_sqlite(args[0], int(args[1])),
     "naive_info": lambda: naive_info(args[0]),
     "naive_list": lambda: naive_list(args[0]),
     "naive_migrate": lambda: naive_migrate(*args),
     "timed": lambda: timed(*args),
     }[command]()  # fmt: skip
