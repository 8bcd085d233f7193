"""Checkpoints moved across every backend in a chain (export, then import into the next one)
come back unchanged, and the paused thread resumes on each backend."""

from __future__ import annotations

import io
from pathlib import Path

from example_agent.graph import compile_graph

from lg_memory import backends, catalog, open_checkpointer
from lg_memory.transfer import export_checkpoints, import_checkpoints, iter_store

from helpers import Fresh, Saver, comparable, run_example, write

CHAIN = ["sqlite", "postgres", "redis", "mongodb", "custom", "memory", "sqlite"]


def export(saver: Saver, type_: str) -> bytes:
    out = io.BytesIO()
    export_checkpoints(iter_store(saver), out, source={"type": type_})
    return out.getvalue()


def test_checkpoints_survive_a_chain_of_backends(fresh: Fresh, tmp_path: Path) -> None:
    assert set(CHAIN) == set(catalog.BACKENDS)  # every backend is a link
    with open_checkpointer(fresh(CHAIN[0])) as saver:
        paused = run_example(saver)["paused"]
        first = export(saver, CHAIN[0])
    assert len(comparable(first)[1]) > 10
    path = write(tmp_path, first, "0.jsonl")
    for hop, type_ in enumerate(CHAIN[1:], 1):
        route = " -> ".join(CHAIN[: hop + 1])
        with open_checkpointer(fresh(type_)) as saver:
            # As `lg-memory import` writes: through the backend's bulk loader where it has one.
            import_checkpoints(saver, path, loader=backends.load(type_).loader(saver))
            again = export(saver, type_)
            assert comparable(again) == comparable(first), f"the export after {route} changed"
            path = write(tmp_path, again, f"{hop}.jsonl")

            app = compile_graph(saver)
            assert app.get_state(paused).next == ("human_review",), route
            app.update_state(paused, {"approved": True})
            last = app.invoke(None, paused)["messages"][-1]
            assert last.startswith("finalize: Request paused"), route
            assert app.get_state(paused).next == (), route
