"""Durable memory for an agent that exists: `lg-memory setup` on six committed project shapes
(tests/fixtures/existing), then each project installed into a fresh venv with its own tests
run, the checkpointer `langgraph.json` names storing what `lg-memory info` counts, a switch
from SQLite to PostgreSQL with the data moved, `langgraph dev` on one, `--wire` on the
self-hosted script, and the refusals."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from rendering import REPO, TEMPLATE, catalogue, git, langgraph_dev, lg, run
from services import Servers

FIXTURES = REPO / "tests" / "fixtures" / "existing"

# shape: (package folder, tests folder, dependency file, served by langgraph.json, backend)
# Each shape is set up for another backend, on the real servers; store_block also with a TTL.
IT = "tests/integration_tests"
SHAPES: dict[str, tuple[str, str, str, bool, str]] = {
    "setuptools_filepath": ("src/agent", IT, "pyproject.toml", True, "sqlite"),
    "hatch_module": ("src/simple_agent", IT, "pyproject.toml", True, "postgres"),
    "factory_graph": ("src/deep_agent", IT, "pyproject.toml", True, "mongodb"),
    "store_block": ("src/memory_agent", IT, "pyproject.toml", True, "redis"),
    "requirements_only": ("agent", "tests", "requirements.txt", True, "custom"),
    "selfhosted_script": ("src/chatbot", "tests", "pyproject.toml", False, "memory"),
}  # fmt: skip
SAVERS = {"sqlite": "LgAsyncSqliteSaver", "postgres": "LgAsyncPostgresSaver",
          "mongodb": "StringVersionMongoDBSaver", "redis": "LgAsyncRedisSaver",
          "custom": "FileCheckpointSaver"}  # fmt: skip

# Opens the checkpointer langgraph.json names, as the Agent Server does, and runs a graph on it.
SERVE = """
import asyncio, importlib, json, operator, sys
from typing import Annotated, TypedDict
from langgraph.graph import START, StateGraph

class State(TypedDict):
    notes: Annotated[list[str], operator.add]

async def main() -> None:
    path = json.load(open("langgraph.json"))["checkpointer"]["path"]
    module, attr = path.rsplit(".", 1)
    opener = getattr(importlib.import_module(module), attr)
    async with opener() as saver:
        builder = StateGraph(State)
        builder.add_node("note", lambda s: {"notes": ["noted"]})
        builder.add_edge(START, "note")
        app = builder.compile(checkpointer=saver)
        for thread in sys.argv[1:]:
            await app.ainvoke({"notes": ["hi"]}, {"configurable": {"thread_id": thread}})
    print(type(saver).__name__)

asyncio.run(main())
"""


def committed(tmp_path: Path, shape: str) -> Path:
    project = tmp_path / shape
    shutil.copytree(FIXTURES / shape, project)
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "the agent as it was")
    return project


def setup(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return lg(project.parent, "setup", "--project", str(project), "--template", str(TEMPLATE),
              *args)  # fmt: skip


def install(project: Path) -> Path:
    """The project in a fresh venv, as its README would install it, with its dev tools."""
    venv = project / ".venv"
    subprocess.run(["uv", "venv", "-q", "-p", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    if (project / "pyproject.toml").is_file():
        data = tomllib.loads((project / "pyproject.toml").read_text())
        if "dev" in data.get("dependency-groups", {}):
            packages = ["-e", ".", "--group", "dev"]
        elif "dev" in data["project"].get("optional-dependencies", {}):
            packages = ["-e", ".[dev]"]
        else:
            packages = ["-e", ".", "pytest"]
    else:
        packages = ["-r", "requirements.txt"]
    run(["uv", "pip", "install", "-q", "-p", python, *packages], cwd=project)
    return python


def changes(project: Path) -> tuple[set[str], set[str]]:
    """(modified, added) files, as git sees them."""
    lines = git(project, "status", "--porcelain", "--untracked-files=all").splitlines()
    modified = {line[3:] for line in lines if line[:2] == " M"}
    added = {line[3:] for line in lines if line[:2] == "??"}
    assert {line[:2] for line in lines} <= {" M", "??"}, lines
    return modified, added


def left_behind(project: Path) -> set[str]:
    """Files git does not track (ignored ones included), caches and the venv aside."""
    lines = git(project, "status", "--porcelain", "--ignored", "--untracked-files=all")
    caches = (".venv/", "__pycache__/", ".pytest_cache/", ".egg-info/", ".ruff_cache/")
    return {line[3:] for line in lines.splitlines() if not any(c in line for c in caches)}


def committed_text(project: Path, name: str) -> str | None:
    try:
        return git(project, "show", f"HEAD:{name}")
    except subprocess.CalledProcessError:
        return None


@pytest.mark.parametrize("shape", SHAPES)
def test_setup_adds_memory_and_touches_nothing_else(
    shape: str, tmp_path: Path, servers: Servers
) -> None:
    package_dir, tests_dir, deps, served, type_ = SHAPES[shape]
    project = committed(tmp_path, shape)
    backend = catalogue.BACKENDS[type_]
    flags = ["--type", type_, "--namespace", f"ex_{shape}"]  # its own threads on a shared server
    if backend["schemes"]:
        flags += ["--connection-string", servers.url(type_)]
    ttl = 3600 if shape == "store_block" else 0
    done = setup(project, *flags, "--ttl", str(ttl))
    assert "connected:" in done.stdout or type_ == "memory", done.stdout
    served = served and type_ != "memory"

    modified, added = changes(project)
    allowed = {deps, ".gitignore", ".env.example"} | ({"langgraph.json"} if served else set())
    assert modified <= allowed and deps in modified and ".gitignore" in modified
    new = {f"{package_dir}/memory.py", f"{tests_dir}/test_checkpointer.py", "docs/memory.md",
           ".copier-answers.lg-memory.yml"}  # fmt: skip
    if type_ == "custom":
        new.add(f"{package_dir}/saver.py")
    if committed_text(project, ".env.example") is None:
        new.add(".env.example")
    assert added == new
    assert git(project, "check-ignore", ".env").strip() == ".env"
    if backend["env"]:
        value = servers.url(type_) if backend["schemes"] else backend["default"]
        assert f"{backend['env']}={value}" in (project / ".env").read_text()
        assert f"{backend['env']}={backend['default']}" in (project / ".env.example").read_text()

    extra = f"lg-memory[{type_}] @" if backend["packages"] else "lg-memory @"
    # Every key, value and comment stays: the parsed files differ by what setup adds only.
    if deps == "pyproject.toml":
        old_text = committed_text(project, deps) or ""
        old, now = tomllib.loads(old_text), tomllib.loads((project / deps).read_text())
        [ours] = [d for d in now["project"]["dependencies"] if d.startswith(extra)]
        now["project"]["dependencies"].remove(ours)
        if now.get("tool", {}).get("hatch", {}).get("metadata", {}) != old.get("tool", {}).get(
            "hatch", {}
        ).get("metadata", {}):
            assert old["build-system"]["build-backend"] == "hatchling.build"
            now["tool"]["hatch"]["metadata"].pop("allow-direct-references")
            if not now["tool"]["hatch"]["metadata"]:
                del now["tool"]["hatch"]["metadata"]
            if not now["tool"]["hatch"]:
                del now["tool"]["hatch"]
            if not now["tool"]:
                del now["tool"]
        assert now == old
        kept = [line for line in old_text.splitlines() if line.strip()]
        assert all(line in (project / deps).read_text().splitlines() for line in kept)
    else:
        old_lines = (committed_text(project, deps) or "").splitlines()
        now_lines = (project / deps).read_text().splitlines()
        assert now_lines[: len(old_lines)] == old_lines
        assert any(line.startswith(f"{extra} git+") for line in now_lines)
    if served:
        old = json.loads(committed_text(project, "langgraph.json") or "")
        now = json.loads((project / "langgraph.json").read_text())
        module = package_dir.rsplit("/", 1)[-1]
        expected: dict[str, object] = {"path": f"{module}.memory.aopen_checkpointer"}
        if ttl:
            expected["ttl"] = {
                "strategy": "delete",
                "sweep_interval_minutes": 60,
                "default_ttl": 60,
            }
        assert now.pop("checkpointer") == expected
        assert now == old  # `store`, `graphs`, `env` ... as they were

    # The project installs, its own tests (and the new ones) pass, and its checkpointer is
    # the one the server would open.
    python = install(project)
    ruff = python.parent / "ruff"  # the project's own lint, with its own settings, passes
    assert ruff.exists()
    run([ruff, "check", "."], cwd=project)
    run([ruff, "format", "--check", "."], cwd=project)
    before = left_behind(project)
    tests = run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project)
    assert left_behind(project) == before  # the tests' stores were temporary
    assert " passed" in tests.stdout and "skipped" not in tests.stdout
    assert (
        "test_checkpointer.py"
        in run(
            [python, "-m", "pytest", "-q", "--collect-only", "-p", "no:cacheprovider"], cwd=project
        ).stdout
    )
    if served:
        saver = run([python, "-c", SERVE, "t-1", "t-2"], cwd=project).stdout.strip()
        assert saver == SAVERS[type_]
        info = json.loads(run([python.parent / "lg-memory", "info", "--project", ".", "--json"],
                              cwd=project).stdout)  # fmt: skip
        assert info["threads"] == 2 and info["total_checkpoints"] >= 4


def test_switching_an_existing_project_moves_its_checkpoints(
    tmp_path: Path, servers: Servers
) -> None:
    project = committed(tmp_path, "setuptools_filepath")
    setup(project, "--type", "sqlite", "--namespace", "switched")  # its own on a shared server
    python = install(project)
    run([python, "-c", SERVE, "a", "b", "c"], cwd=project)
    before = json.loads(lg(project, "info", "--json").stdout)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "lg-memory: SQLite")

    url = servers.url("postgres")
    lg(project, "migrate", "--to-type", "postgres", "--connection-string", url,
       "--project", str(project))  # fmt: skip
    assert git(project, "show", "HEAD:pyproject.toml").count("lg-memory[sqlite]") == 1
    pyproject = (project / "pyproject.toml").read_text()
    assert "lg-memory[postgres] @ git+" in pyproject and "lg-memory[sqlite]" not in pyproject
    assert f"POSTGRES_URL={url}" in (project / ".env").read_text()
    assert 'type="postgres"' in (project / "src/agent/memory.py").read_text()
    modified, added = changes(project)
    assert modified <= {"pyproject.toml", ".env.example", "src/agent/memory.py", "docs/memory.md",
                        ".copier-answers.lg-memory.yml", "tests/integration_tests/"
                        "test_checkpointer.py", ".gitignore"}  # fmt: skip
    after = json.loads(lg(project, "info", "--json").stdout)
    assert after["memory_system"] == "PostgreSQL"
    assert (after["threads"], after["total_checkpoints"]) == (
        before["threads"],
        before["total_checkpoints"],
    )
    for thread in ("a", "b", "c"):
        listing = lg(project, "list", "--thread-id", thread).stdout
        assert listing.startswith(f"Thread: {thread} (")


@pytest.mark.parametrize(
    ("shape", "given"),
    [("setuptools_filepath", {"changeme": "hi"}), ("factory_graph", {"task": "tidy up"})],
)
def test_langgraph_dev_serves_an_existing_graph_with_its_checkpointer(
    shape: str, given: dict[str, str], tmp_path: Path, servers: Servers
) -> None:
    """A module-level graph, and one a factory builds per run: the server compiles both with
    the checkpointer langgraph.json names."""
    project = committed(tmp_path, shape)
    setup(project, "--type", "postgres", "--connection-string", servers.url("postgres"),
          "--namespace", f"dev_{shape}")  # fmt: skip
    python = install(project)
    if not (python.parent / "langgraph").exists():  # not among this project's dev tools
        run(["uv", "pip", "install", "-q", "-p", python, "langgraph-cli[inmem]>=0.4"], cwd=project)
    with langgraph_dev(python, project, tmp_path / "server.log") as url:
        created = run([python, "-c", CLIENT, url, json.dumps(given)], cwd=project).stdout
        thread_id = json.loads(created)["thread_id"]
    assert (
        "Using custom checkpointer: LgAsyncPostgresSaver" in (tmp_path / "server.log").read_text()
    )
    [thread] = json.loads(lg(project, "list", "--thread-id", thread_id, "--json").stdout)
    assert thread["checkpoints"] >= 2
    state = json.loads(lg(project, "export", "--thread-id", thread_id).stdout.splitlines()[-1])
    assert state["checkpoints"] == thread["checkpoints"]


CLIENT = """
import json, sys
from langgraph_sdk import get_sync_client

client = get_sync_client(url=sys.argv[1])
[assistant] = client.assistants.search(limit=1)
thread = client.threads.create()
client.runs.wait(thread["thread_id"], assistant["graph_id"],
                 input=json.loads(sys.argv[2]))
print(json.dumps({"thread_id": thread["thread_id"]}))
"""


def test_wire_gives_a_self_hosted_graph_the_checkpointer(tmp_path: Path) -> None:
    project = committed(tmp_path, "selfhosted_script")
    done = setup(project, "--type", "sqlite")
    assert "lg-memory setup --wire src/chatbot/app.py:graph" in done.stdout
    assert "+graph = " in done.stdout or "checkpointer=checkpointer()" in done.stdout
    assert git(project, "diff", "--", "src/chatbot/app.py") == ""  # shown, not applied
    git(project, "add", "-A")
    git(project, "commit", "-qm", "lg-memory")

    wired = setup(project, "--wire", "src/chatbot/app.py:graph")
    assert "checkpointer=checkpointer()" in wired.stdout
    assert changes(project) == ({"src/chatbot/app.py"}, set())
    assert "every call now needs a thread_id" in wired.stdout
    python = install(project)
    # the project's own lint (`make lint`) passes, and the import sits where isort puts it
    ruff = str(python.parent / "ruff")
    run([ruff, "check", "."], cwd=project)
    run([ruff, "format", "--check", "."], cwd=project)
    run([ruff, "check", "--select", "I", "src/chatbot/app.py"], cwd=project)
    # The script's conversation now outlives its process: the second run sees the first turn.
    assert "(turn 1)" in run([python, "-m", "chatbot.app", "hello"], cwd=project).stdout
    assert "(turn 2)" in run([python, "-m", "chatbot.app", "again"], cwd=project).stdout
    ours = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_checkpointer.py"]
    tests = run([python, *ours], cwd=project)
    assert "3 passed" in tests.stdout
    [thread] = json.loads(lg(project, "list", "--json").stdout)
    assert thread["thread_id"] == "cli"


def refused(project: Path, *args: str, flags: tuple[str, ...] = ("--type", "sqlite")) -> str:
    before = snapshot(project)
    done = lg(project.parent, "setup", *flags, "--project", str(project),
              "--template", str(TEMPLATE), *args, check=False)  # fmt: skip
    assert done.returncode != 0
    message = done.stderr.strip()
    assert len(message.splitlines()) == 1 and "Traceback" not in message, message
    assert snapshot(project) == before  # nothing written
    return message


def snapshot(project: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(project)): p.read_bytes()
        for p in sorted(project.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(project).parts
    }


def test_setup_refuses_what_it_cannot_set_up(tmp_path: Path) -> None:
    plain = tmp_path / "notes"
    plain.mkdir()
    (plain / "notes.txt").write_text("not a project\n")
    assert "no pyproject.toml or requirements.txt" in refused(plain)

    other = committed(tmp_path, "setuptools_filepath")
    for path in other.rglob("*.py"):
        path.write_text("print('no graph here')\n")
    (other / "langgraph.json").unlink()
    text = (other / "pyproject.toml").read_text().replace('"langgraph>=1.0.0",', "")
    (other / "pyproject.toml").write_text(text)
    git(other, "add", "-A")
    git(other, "commit", "-qm", "not langgraph")
    assert "does not look like a LangGraph project" in refused(other)

    dirty = committed(tmp_path / "d", "setuptools_filepath")
    (dirty / "src/agent/graph.py").write_text((dirty / "src/agent/graph.py").read_text() + "#\n")
    assert "uncommitted changes" in refused(dirty)

    loose = tmp_path / "loose"
    shutil.copytree(FIXTURES / "hatch_module", loose)
    assert "not under git" in refused(loose)

    for name, damage in (("pyproject.toml", "[project\n"), ("langgraph.json", "{'graphs': 1")):
        broken = committed(tmp_path / name, "store_block")
        (broken / name).write_text(damage)
        git(broken, "commit", "-qam", "broken")
        assert f"cannot parse {name}" in refused(broken)

    taken = committed(tmp_path / "taken", "factory_graph")
    config = json.loads((taken / "langgraph.json").read_text())
    config["checkpointer"] = {"path": "deep_agent.saver.make"}
    (taken / "langgraph.json").write_text(json.dumps(config))
    git(taken, "commit", "-qam", "own checkpointer")
    assert "already names a checkpointer" in refused(taken)

    # `copier copy` straight into a dirty project stops the same way, before writing.
    before = snapshot(dirty)
    done = subprocess.run(
        [Path(sys.executable).parent / "copier", "copy", "--trust", "--defaults",
         "--data", "type=sqlite", str(TEMPLATE), str(dirty)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode != 0 and "uncommitted changes" in done.stderr
    assert "Traceback" not in done.stderr
    assert snapshot(dirty) == before


def test_setup_again_with_the_same_answers_changes_nothing(tmp_path: Path) -> None:
    project = committed(tmp_path, "requirements_only")
    setup(project, "--type", "sqlite")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "lg-memory")
    before = snapshot(project)
    setup(project, "--type", "sqlite")
    assert snapshot(project) == before
    assert git(project, "status", "--porcelain") == ""


def test_copier_copy_does_what_setup_does_beside_another_templates_answers(
    tmp_path: Path,
) -> None:
    """A project made from another Copier template: `copier copy` of lg-memory into it keeps
    that template's `.copier-answers.yml`, and `copier update` still updates from it."""
    other = tmp_path / "other-template"
    other.mkdir()
    (other / "copier.yml").write_text("greeting:\n  type: str\n  default: hello\n")
    (other / "hello.txt.jinja").write_text("{{ greeting }}, v1\n")
    (other / "{{ _copier_conf.answers_file }}.jinja").write_text(
        "{{ _copier_answers | to_nice_yaml }}"
    )
    git(other, "init", "-q", "-b", "main")
    git(other, "add", "-A")
    git(other, "commit", "-qm", "v1")
    git(other, "tag", "v1")

    project = committed(tmp_path, "store_block")
    copier = str(Path(sys.executable).parent / "copier")
    run([copier, "copy", "--trust", "--defaults", str(other), "."], cwd=project)
    theirs = (project / ".copier-answers.yml").read_text()
    git(project, "add", "-A")
    git(project, "commit", "-qm", "from the other template")

    run([copier, "copy", "--trust", "--defaults", "--data", "type=sqlite", str(TEMPLATE), "."],
        cwd=project)  # fmt: skip
    assert (project / ".copier-answers.yml").read_text() == theirs
    modified, added = changes(project)
    assert modified == {"pyproject.toml", "langgraph.json", ".gitignore", ".env.example"}
    assert added == {"src/memory_agent/memory.py", "tests/integration_tests/test_checkpointer.py",
                     "docs/memory.md", ".copier-answers.lg-memory.yml"}  # fmt: skip
    assert "project_kind: existing" in (project / ".copier-answers.lg-memory.yml").read_text()
    git(project, "add", "-A")
    git(project, "commit", "-qm", "lg-memory")

    (other / "hello.txt.jinja").write_text("{{ greeting }}, v2\n")
    git(other, "commit", "-qam", "v2")
    git(other, "tag", "v2")
    run([copier, "update", "--trust", "--defaults"], cwd=project)  # the other template's
    assert (project / "hello.txt").read_text() == "hello, v2\n"
    assert changes(project) == ({"hello.txt", ".copier-answers.yml"}, set())


def test_wire_refuses_an_async_project(tmp_path: Path) -> None:
    project = committed(tmp_path, "selfhosted_script")
    done = setup(project, "--type", "sqlite", "--async")
    assert "async with aopen_checkpointer() as checkpointer:" in done.stdout
    git(project, "add", "-A")
    git(project, "commit", "-qm", "lg-memory")
    message = refused(project, "--wire", "src/chatbot/app.py:graph", flags=())
    assert "this project's is async" in message
