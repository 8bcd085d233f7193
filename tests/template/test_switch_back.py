"""A switch that fails has a way forward and a way back (issue 11, item 3): `copier update`
leaves the move pending and says both; `lg-memory migrate --abort` puts the project back on its
old backend (the files of the last commit, its data where it was, `git status` clean); a move
that can never finish offers only the way back. After going back, a switch that can finish
does."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

from test_switch import FILL, clean_env, counts, lg_memory, project, update

from rendering import TEMPLATE, git, install, run
from services import Servers

# A model of the user's own module (outside the project's package, and not importable by the
# project's `lg-memory`): a thread holding it, paused at an interrupt.
USER_MODULE = """
from typing import TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from pydantic import BaseModel


class Note(BaseModel):
    text: str


class State(TypedDict, total=False):
    note: Note
    verdict: str


def draft(state: State) -> State:
    return {"note": Note(text="first draft")}


def review(state: State) -> State:
    return {"verdict": f"{interrupt('approve?')}: {state['note'].model_dump()['text']}"}


def build(checkpointer):
    graph = StateGraph(State)
    graph.add_node("draft", draft)
    graph.add_node("review", review)
    graph.add_edge(START, "draft")
    graph.add_edge("draft", "review")
    graph.add_edge("review", END)
    return graph.compile(checkpointer=checkpointer)
"""
NOTED = """
from agent.memory import open_checkpointer
from {module} import build
with open_checkpointer() as cp:
    build(cp).invoke({{}}, {{"configurable": {{"thread_id": "noted"}}}})
"""


def clean(dst: Path) -> bool:
    return git(dst, "status", "--porcelain", "--untracked-files=all") == ""


def set_env(dst: Path, name: str, value: str) -> None:
    """The project's `.env` (gitignored) with `name` set, as a user sets it before a switch."""
    env = dst / ".env"
    lines = [line for line in env.read_text().splitlines() if not line.startswith(f"{name}=")]
    env.write_text("\n".join([*lines, f"{name}={value}"]) + "\n")


def test_a_failed_switch_goes_back_with_abort(tmp_path: Path, servers: Servers) -> None:
    dst = project(TEMPLATE, tmp_path / "agent", servers, "sqlite")
    python = install(dst)
    run([python, "-c", FILL], cwd=dst, env=clean_env())
    module = f"usermodels_{uuid.uuid4().hex[:8]}"
    (tmp_path / "user-code").mkdir()
    (tmp_path / "user-code" / f"{module}.py").write_text(USER_MODULE)
    user_env = {**clean_env(), "PYTHONPATH": str(tmp_path / "user-code")}
    run([python, "-c", NOTED.format(module=module)], cwd=dst, env=user_env)
    before = counts(dst)
    assert before["noted"] == 3 and clean(dst)
    committed = git(dst, "rev-parse", "HEAD")
    namespace = f"sw_{uuid.uuid4().hex[:10]}"

    # 1. The server is down: the update switches the files, the move stays pending.
    set_env(dst, "POSTGRES_URL", "postgresql://u:pw@127.0.0.1:9/x")
    down = update(dst, "type=postgres", f"namespace={namespace}")
    assert down.returncode != 0
    assert "run: lg-memory migrate --resume; or, to go back to sqlite" in down.stderr
    assert "lg-memory migrate --abort" in down.stderr
    assert 'type="postgres"' in (dst / "src/agent/memory.py").read_text()
    assert not clean(dst)
    reminder = lg_memory(dst, "info", "--type", "sqlite", "--namespace", "default").stderr
    assert "run `lg-memory migrate --resume` to finish it" in reminder
    assert "`lg-memory migrate --abort` switches the project back to sqlite" in reminder
    env_file = (dst / ".env").read_text()

    back = lg_memory(dst, "migrate", "--abort")

    assert back.stdout.startswith("gave up the migration sqlite (namespace default) -> postgres")
    assert "the project uses sqlite again" in back.stdout
    assert clean(dst), git(dst, "status", "--porcelain", "--untracked-files=all")
    assert git(dst, "rev-parse", "HEAD") == committed
    assert 'type="sqlite"' in (dst / "src/agent/memory.py").read_text()
    assert (dst / ".env").read_text() == env_file  # the user's .env is kept
    info = lg_memory(dst, "info")
    assert info.stderr == ""  # nothing pending
    assert "Memory System: SQLite" in info.stdout
    assert counts(dst) == before  # the data is where it was

    # 2. Redis keeps channel values as JSON: the user's model, which the project's lg-memory
    # cannot import, cannot move there. No --resume is offered, only the way back.
    set_env(dst, "REDIS_URL", servers.url("redis"))
    never = update(dst, "type=redis", f"namespace={namespace}")
    assert never.returncode != 0
    assert f"module {module} cannot be imported here" in never.stderr, never.stderr
    assert "cannot move there" in never.stderr
    said = [line for line in never.stderr.splitlines() if line.startswith("lg-memory: ")]
    assert not any("--resume" in line for line in said), said
    assert "switches the project back to sqlite" in said[-2], said
    assert said[-1].endswith("To go back to sqlite, run: lg-memory migrate --abort"), said
    reminder = lg_memory(dst, "info", "--type", "sqlite", "--namespace", "default").stderr
    assert "cannot finish" in reminder and "--resume" not in reminder
    assert lg_memory(dst, "list", "--json").stdout.strip() == "[]"  # nothing written to Redis
    lg_memory(dst, "migrate", "--abort")
    assert clean(dst) and counts(dst) == before

    # 3. The way forward: a switch that can finish does, the user's model intact.
    set_env(dst, "POSTGRES_URL", servers.url("postgres"))
    done = update(dst, "type=postgres", f"namespace={namespace}")
    assert done.returncode == 0, done.stderr
    assert "migrated 4 threads" in done.stderr + done.stdout
    assert counts(dst) == before
    resume = (
        "import json\nfrom langgraph.types import Command\n"
        "from agent.memory import open_checkpointer\n"
        f"from {module} import Note, build\n"
        "with open_checkpointer() as cp:\n"
        "    app = build(cp)\n"
        "    config = {'configurable': {'thread_id': 'noted'}}\n"
        "    assert isinstance(app.get_state(config).values['note'], Note)\n"
        "    print(json.dumps(app.invoke(Command(resume='ok'), config)['verdict']))\n"
    )
    out = subprocess.run(
        [str(python), "-c", resume], cwd=dst, env=user_env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout) == "ok: first draft"
