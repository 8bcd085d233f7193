"""One measured process of the benchmark (see run.py), in lg-memory's own environment: builds
the store, and runs the naive public-API baselines that `lg-memory` is compared with.

    python bench/worker.py COMMAND ARGS...

Stores are named as on the command line of `lg-memory`: a type, a connection string (the
SQLite file, or a server's URL) and a namespace. The example graph is the template's own,
loaded from its file: no project is rendered.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import sqlite3
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from lg_memory import load_settings, open_checkpointer
from lg_memory.settings import DEFAULT_NAMESPACE

GRAPH = Path(__file__).resolve().parents[1] / "template/{{ package_dir }}/graph.py"


def example_graph() -> ModuleType:
    """The template's example graph (plain Python), imported from its file."""
    spec = importlib.util.spec_from_file_location("lg_memory_bench_graph", GRAPH)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load the example graph from {GRAPH}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its State's annotations are resolved in its namespace
    writes, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no __pycache__ in template/
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = writes
    return module


def build_sqlite(graph: ModuleType, path: str, threads: int) -> None:
    """`threads` threads of the example graph (about 10 checkpoints each, with pending
    writes): a few run for real, then their rows are copied under new thread ids."""
    with open_checkpointer(load_settings("sqlite", path, DEFAULT_NAMESPACE)) as saver:
        app = graph.compile_graph(saver)
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


def naive_info(type_: str, connection: str, namespace: str) -> None:
    with open_checkpointer(load_settings(type_, connection, namespace)) as saver:
        counts = Counter(t.config["configurable"]["thread_id"] for t in saver.list(None))
    print(f"Threads: {len(counts)}\nTotal Checkpoints: {sum(counts.values())}")


def naive_list(type_: str, connection: str, namespace: str) -> None:
    latest: dict[str, str] = {}
    with open_checkpointer(load_settings(type_, connection, namespace)) as saver:
        for t in saver.list(None):
            tid = t.config["configurable"]["thread_id"]
            latest[tid] = max(latest.get(tid, ""), t.checkpoint["id"])
        for tid in sorted(latest, key=latest.__getitem__, reverse=True)[:20]:
            print(f"Thread: {tid}")
            for t in saver.list({"configurable": {"thread_id": tid}}, limit=20):
                print(f"  {t.checkpoint['id']}")


def naive_migrate(
    from_type: str, from_connection: str, from_ns: str,
    to_type: str, to_connection: str, to_ns: str,
) -> None:  # fmt: skip
    """DESIGN.md's public-API loop: sort, put each with its parent, then its writes."""
    started = time.perf_counter()
    with open_checkpointer(load_settings(from_type, from_connection, from_ns)) as source:
        tuples = sorted(
            source.list(None),
            key=lambda t: (t.config["configurable"]["thread_id"],
                           t.config["configurable"]["checkpoint_ns"], t.checkpoint["id"]),
        )  # fmt: skip
    with open_checkpointer(load_settings(to_type, to_connection, to_ns)) as target:
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


def timed(what: str, type_: str, connection: str, namespace: str) -> None:
    """Seconds of one operation inside a warm process (imports done), ours or naive."""
    from lg_memory.cli import main

    store = ["--type", type_, "--connection-string", connection, "--namespace", namespace]
    ops: dict[str, Callable[[], object]] = {
        "info": lambda: main(["info", *store]),
        "list": lambda: main(["list", *store, "--limit", "20"]),
        "naive_info": lambda: naive_info(type_, connection, namespace),
        "naive_list": lambda: naive_list(type_, connection, namespace),
    }
    with contextlib.redirect_stdout(io.StringIO()):
        failed = ops[what.replace("naive_", "")]()  # warm up: imports, connections, caches
        started = time.perf_counter()
        failed = ops[what]() or failed
        elapsed = time.perf_counter() - started
    if failed:  # `lg-memory` said why on stderr: a figure of an error is no figure
        raise SystemExit(f"timed {what} failed")
    print(f"{elapsed:.4f}")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    # Every command imports the graph first, as a project's code does (and as this bench did
    # when it ran in a rendered project): the naive approaches run in the application, whose
    # graph is loaded, so their processes pay its imports (LangGraph's graph) as before.
    graph = example_graph()
    {"build_sqlite": lambda: build_sqlite(graph, args[0], int(args[1])),
     "naive_info": lambda: naive_info(*args),
     "naive_list": lambda: naive_list(*args),
     "naive_migrate": lambda: naive_migrate(*args),
     "timed": lambda: timed(*args),
     }[command]()  # fmt: skip
