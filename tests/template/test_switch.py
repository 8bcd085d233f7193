"""`copier update --data type=B` on a project rendered with A: the files switch, every
checkpoint moves, verified, and nothing is lost when it cannot finish."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from copier import run_copy

from rendering import TEMPLATE, git, install, run
from services import URL_ENV, Servers

# Every backend is switched from and to once, through `copier update` and the project's own
# environment; the data move between every ordered pair is tested in-process
# (tests/engine/test_switch_pairs.py).
CYCLE = ["sqlite", "postgres", "redis", "mongodb", "custom", "sqlite"]
PAIRS = list(zip(CYCLE, CYCLE[1:], strict=False))

# Runs the example graph in the project: two finished threads and one paused at human_review.
FILL = """
from agent.graph import compile_graph
from agent.memory import open_checkpointer
with open_checkpointer() as cp:
    app = compile_graph(cp)
    for name in ("done-1", "done-2", "paused"):
        config = {"configurable": {"thread_id": name}}
        app.invoke({"messages": [f"request of {name}"]}, config)
        if name != "paused":
            app.update_state(config, {"approved": True})
            app.invoke(None, config)
"""
# Resumes the paused thread on the backend given as argv[1] and prints its final state.
RESUME = """
import json, sys
from lg_memory import load_settings
from agent.graph import compile_graph
from agent.memory import ANSWERS, open_checkpointer
with open_checkpointer(load_settings(sys.argv[1], answers=ANSWERS)) as cp:
    app = compile_graph(cp)
    config = {"configurable": {"thread_id": "paused"}}
    assert app.get_state(config).next == ("human_review",), app.get_state(config).next
    app.update_state(config, {"approved": True})
    final = app.invoke(None, config)
    assert app.get_state(config).next == ()
    print(json.dumps(final, sort_keys=True))
"""


@pytest.fixture
def template() -> Path:
    return TEMPLATE


def url(type_: str, servers: Servers) -> str:
    return (
        servers.url(type_)
        if type_ in URL_ENV
        else {"sqlite": "checkpoints.db", "custom": "checkpoint-store"}[type_]
    )


def clean_env() -> dict[str, str]:
    """No connection string from the test's own environment: the project's .env decides."""
    return {k: v for k, v in os.environ.items() if k not in URL_ENV.values()}


def project(template: Path, dst: Path, servers: Servers, type_: str, **data: str) -> Path:
    run_copy(
        str(template), dst, vcs_ref="v0.1.0", defaults=True, unsafe=True, quiet=True,
        data={"project_name": "agent", "type": type_, "connection_string": url(type_, servers),
              **data},
    )  # fmt: skip
    git(dst, "init", "-q")
    git(dst, "add", "-A")
    git(dst, "commit", "-qm", "rendered")
    return dst


def lg_memory(
    dst: Path, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(dst / ".venv/bin/lg-memory"), *args], cwd=dst, env={**clean_env(), **(env or {})},
        capture_output=True, text=True,
    )  # fmt: skip
    if check:
        assert result.returncode == 0, result.stderr
    return result


def body(path: Path) -> list[str]:
    return path.read_text().splitlines()[1:-1]


def update(dst: Path, *data: str) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "copier", "update", "--trust", "--defaults", "--skip-answered"]
    for item in data:
        args += ["--data", item]
    return subprocess.run(args, cwd=dst, env=clean_env(), capture_output=True, text=True)


def counts(dst: Path, *args: str) -> dict[str, int]:
    listing = json.loads(lg_memory(dst, "list", "--json", "--limit", "1000", *args).stdout)
    return {t["thread_id"]: t["checkpoints"] for t in listing}


@pytest.mark.parametrize(("a", "b"), PAIRS, ids=[f"{a}-to-{b}" for a, b in PAIRS])
def test_switching_moves_every_checkpoint(
    a: str, b: str, template: Path, tmp_path: Path, servers: Servers
) -> None:
    namespace = f"sw_{uuid.uuid4().hex[:10]}"  # the servers are shared by many tests
    dst = project(template, tmp_path / "agent", servers, a, namespace=namespace)
    python = install(dst)
    run([python, "-c", FILL], cwd=dst, env=clean_env())
    before = counts(dst)
    lg_memory(dst, "export", "-o", str(tmp_path / "a-before.jsonl"))
    assert not git(dst, "status", "--porcelain")  # what the agent stored is gitignored

    done = update(dst, f"type={b}", f"connection_string={url(b, servers)}")

    assert done.returncode == 0, done.stderr
    assert "migrated 3 threads" in done.stderr + done.stdout
    assert f'type="{b}"' in (dst / "src/agent/memory.py").read_text()
    assert counts(dst) == before  # the new backend lists the same threads and counts
    # The old store is read with the old code: a custom saver gone from the project is kept.
    old = (
        {"CUSTOM_SAVER": ".lg-memory/custom_saver.py:FileCheckpointSaver"} if a == "custom" else {}
    )
    lg_memory(dst, "export", "--type", a, "-o", str(tmp_path / "a-after.jsonl"), env=old)
    assert body(tmp_path / "a-after.jsonl") == body(tmp_path / "a-before.jsonl")  # A untouched
    [backup] = (dst / "lg-memory-backups").glob(f"{a}-{namespace}-*.jsonl")
    assert body(backup) == body(tmp_path / "a-before.jsonl")
    assert (
        "would import 18 checkpoints" in lg_memory(dst, "import", str(backup), "--dry-run").stdout
    )
    assert not (dst / ".lg-memory/pending-migration.json").exists()
    assert not list((dst / ".lg-memory").glob("connection*"))  # the secret's copy is gone

    resumed_on_b = run([python, "-c", RESUME, b], cwd=dst, env=clean_env()).stdout
    control_on_a = run([python, "-c", RESUME, a], cwd=dst, env={**clean_env(), **old}).stdout
    assert json.loads(resumed_on_b) == json.loads(control_on_a)


def test_unreachable_server_leaves_the_move_pending_then_resume_finishes_it(
    template: Path, tmp_path: Path, servers: Servers
) -> None:
    dst = project(template, tmp_path / "agent", servers, "sqlite")
    python = install(dst)
    run([python, "-c", FILL], cwd=dst, env=clean_env())
    assert not git(dst, "status", "--porcelain")  # what the agent stored is gitignored
    real = servers.url("postgres")
    namespace = f"sw_{uuid.uuid4().hex[:10]}"

    down = update(dst, "type=postgres", "connection_string=postgresql://u:pw@127.0.0.1:9/x",
                  f"namespace={namespace}")  # fmt: skip

    assert down.returncode != 0
    assert "lg-memory migrate --resume" in down.stderr
    assert "Traceback" not in down.stderr.split("lg-memory: error")[-1]
    assert 'type="postgres"' in (dst / "src/agent/memory.py").read_text()
    reminder = lg_memory(dst, "info", "--type", "sqlite", "--namespace", "default")
    assert "is not finished: run `lg-memory migrate --resume`" in reminder.stderr
    assert "Total Checkpoints: 18" in reminder.stdout  # the old store is intact

    # The server comes back; half of the move happens (as if killed half-way) ...
    env = dst / ".env"
    env.write_text(env.read_text().replace("postgresql://u:pw@127.0.0.1:9/x", real))
    [backup] = (dst / "lg-memory-backups").glob("sqlite-default-*.jsonl")
    lg_memory(dst, "import", str(backup), "--thread-id", "done-1", "--namespace", namespace)
    # ... and resume finishes it, without duplicates.
    finished = lg_memory(dst, "migrate", "--resume")
    assert "migrated 3 threads, 18 checkpoints" in finished.stdout
    assert counts(dst) == counts(dst, "--type", "sqlite", "--namespace", "default")
    assert "is not finished" not in lg_memory(dst, "info").stderr


def test_user_edits_survive_and_conflicts_stop_the_update(
    template: Path, tmp_path: Path, servers: Servers
) -> None:
    dst = project(template, tmp_path / "agent", servers, "sqlite")
    install(dst)
    missing = lg_memory(dst, "info", "--type", "postgres", check=False)
    assert missing.returncode == 1
    assert "lg-memory: error: postgres support is not installed" in missing.stderr
    assert "pip install 'lg-memory[postgres]'" in missing.stderr
    graph = dst / "src/agent/graph.py"
    graph.write_text(graph.read_text() + "\n# my own note\n")
    git(dst, "commit", "-qam", "my edit")

    assert update(dst, "type=custom").returncode == 0
    assert graph.read_text().endswith("# my own note\n")
    git(dst, "add", "-A")
    git(dst, "commit", "-qm", "switched to custom")

    wiring = dst / "src/agent/memory.py"
    wiring.write_text(wiring.read_text().replace('type="custom"', 'type="x"'))
    git(dst, "commit", "-qam", "an edit the next update collides with")
    clash = update(dst, "type=sqlite")
    assert clash.returncode != 0
    assert "merge conflicts in: src/agent/memory.py" in clash.stderr


def test_update_from_the_previous_release(tmp_path: Path, servers: Servers) -> None:
    template = tmp_path / "template"  # a clone of its own: this test releases a new version
    subprocess.run(["git", "clone", "-q", str(TEMPLATE), str(template)], check=True)
    dst = project(template, tmp_path / "agent", servers, "sqlite")
    readme = template / "template/README.md.jinja"
    readme.write_text(readme.read_text() + "\nRendered by lg-memory.\n")
    git(template, "commit", "-qam", "release 0.2.0")
    git(template, "tag", "v0.2.0")
    done = update(dst)
    assert done.returncode == 0, done.stderr
    assert "_commit: v0.2.0" in (dst / ".copier-answers.yml").read_text()
    assert "Rendered by lg-memory." in (dst / "README.md").read_text()


def test_switching_by_preset(template: Path, tmp_path: Path, servers: Servers) -> None:
    namespace = f"sw_{uuid.uuid4().hex[:10]}"
    dst = project(template, tmp_path / "agent", servers, "sqlite", namespace=namespace)
    python = install(dst)
    run([python, "-c", FILL], cwd=dst, env=clean_env())
    before = counts(dst)

    done = update(
        dst, "preset=postgres-production", f"connection_string={url('postgres', servers)}"
    )

    assert done.returncode == 0, done.stderr
    wiring = (dst / "src/agent/memory.py").read_text()
    assert 'type="postgres"' in wiring and "async_=True" in wiring
    assert counts(dst) == before
