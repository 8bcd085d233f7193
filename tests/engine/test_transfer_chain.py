"""Checkpoints moved across every backend in a chain (export, then import into the next one) come
back unchanged, and the paused thread resumes on each backend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import URL_ENV, Servers, install, render, run

CHAIN = ["sqlite", "postgres", "redis", "mongodb", "sqlite"]

# Runs in the generated project's environment: seeds the first backend with the example graph,
# then imports each export into a fresh namespace of the next backend and exports it again.
DRIVER = """
import json, sys, uuid
from pathlib import Path

from agent.graph import compile_graph
from agent.memory import load_settings, open_checkpointer
from agent.memory.transfer import export_checkpoints, import_checkpoints, iter_store


def fresh(type_):
    return load_settings(type=type_, namespace=f"chain_{uuid.uuid4().hex[:12]}")


def export(saver, path, type_):
    with path.open("wb") as out:
        export_checkpoints(iter_store(saver), out, source={"type": type_})


def seed(saver):
    app = compile_graph(saver)
    threads = {name: {"configurable": {"thread_id": f"{name}-{uuid.uuid4().hex[:8]}"}}
               for name in ("paused", "done", "forked")}
    for name, config in threads.items():
        app.invoke({"messages": [f"Request {name}"]}, config)
        if name != "paused":
            app.update_state(config, {"approved": True})
            app.invoke(None, config)
    history = list(app.get_state_history(threads["forked"]))
    pause = next(s for s in reversed(history) if s.next == ("human_review",))
    app.invoke(None, app.update_state(pause.config, {"approved": False}))
    return threads["paused"]


def resume(saver, paused):
    app = compile_graph(saver)
    waiting = app.get_state(paused).next
    app.update_state(paused, {"approved": True})
    last = app.invoke(None, paused)["messages"][-1]
    return {"waiting": list(waiting), "last": last, "next": list(app.get_state(paused).next)}


def main(workdir, first, *rest):
    workdir = Path(workdir)
    with open_checkpointer(fresh(first)) as saver:
        paused = seed(saver)
        export(saver, workdir / "0.jsonl", first)
    report = []
    for hop, type_ in enumerate(rest, 1):
        with open_checkpointer(fresh(type_)) as saver:
            import_checkpoints(saver, workdir / f"{hop - 1}.jsonl")
            export(saver, workdir / f"{hop}.jsonl", type_)
            report.append({"type": type_, **resume(saver, paused)})
    print(json.dumps(report))


main(*sys.argv[1:])
"""


def comparable(data: bytes) -> tuple[Any, ...]:
    """An export without its creation time and source (and the checksum covering them)."""
    header, *records, trailer = data.splitlines()
    return (
        {**json.loads(header), "created_at": None, "source": None},
        records,
        {**json.loads(trailer), "sha256": None},
    )


def test_checkpoints_survive_a_chain_of_backends(tmp_path: Path, servers: Servers) -> None:
    project = render(tmp_path / "agent", project_name="agent", type=CHAIN[0])
    python = install(project, *(t for t in URL_ENV if t != CHAIN[0]))
    env = {URL_ENV[t]: servers.url(t) for t in CHAIN if t in URL_ENV}
    driver = tmp_path / "chain.py"
    driver.write_text(DRIVER)
    exports = tmp_path / "exports"
    exports.mkdir()

    result = run([python, driver, exports, *CHAIN], cwd=project, env=env)

    report = json.loads(result.stdout.splitlines()[-1])
    first = comparable((exports / "0.jsonl").read_bytes())
    assert len(first[1]) > 10
    for hop, step in enumerate(report, 1):
        again = comparable((exports / f"{hop}.jsonl").read_bytes())
        assert again == first, f"the export after {' -> '.join(CHAIN[: hop + 1])} changed"
        assert step["waiting"] == ["human_review"], step
        assert step["last"].startswith("finalize: Request paused"), step
        assert step["next"] == [], step
