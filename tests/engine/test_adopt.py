"""The edits setup makes to an existing project's own files (lg_memory.adopt), in process:
each keeps every key, comment and value, and adds exactly what it must."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

import pytest

from lg_memory import adopt, catalog

REQUIREMENT = "lg-memory[sqlite] @ git+https://example.com/lg-memory.git@abc123"
WANTED = adopt.Wanted(
    requirement=REQUIREMENT,
    checkpointer={"path": "agent.memory.aopen_checkpointer"},
    env={"CHECKPOINT_DB_PATH": "data/threads.db"},
    env_default={"CHECKPOINT_DB_PATH": "checkpoints.db"},
    env_example=["CHECKPOINT_DB_PATH=checkpoints.db", "# CHECKPOINT_NAMESPACE=default"],
    ignore=[".env", ".lg-memory/", "/data/threads.db"],
)
GRAPH = "from langgraph.graph import StateGraph\n\ngraph = StateGraph(dict).compile()\n"


def project(tmp_path: Path, pyproject: str | None, **files: str) -> Path:
    root = tmp_path / "agent-project"
    (root / "src/agent").mkdir(parents=True)
    (root / "src/agent/__init__.py").write_text("")
    (root / "src/agent/graph.py").write_text(GRAPH)
    if pyproject is not None:
        (root / "pyproject.toml").write_text(pyproject)
    for name, text in files.items():
        (root / name.replace("__", "/")).write_text(text)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def edited(root: Path, wanted: adopt.Wanted = WANTED) -> dict[str, str]:
    return adopt.edits(adopt.inspect(root, git=False), wanted)


@pytest.mark.parametrize(
    "dependencies",
    [
        'dependencies = ["langgraph>=1.0"]',
        'dependencies = ["langgraph>=1.0",]',
        "dependencies = []",
        'dependencies = [\n    "langgraph>=1.0",  # the framework\n    # a comment\n]',
        'dependencies = [\n    "langgraph>=1.0",\n    "httpx"  # no trailing comma\n]',
        "dependencies = [\n  'langgraph>=1.0', 'x[y]>=1 ; python_version > \"3\"'\n]",
    ],
)
def test_the_dependency_joins_the_array_in_its_own_layout(
    tmp_path: Path, dependencies: str
) -> None:
    text = f'# top\n[project]\nname = "agent"  # kept\n{dependencies}\n\n[tool.x]\nkey = 1\n'
    root = project(tmp_path, text)
    new = edited(root)["pyproject.toml"]
    before, after = tomllib.loads(text), tomllib.loads(new)
    assert after["project"]["dependencies"] == [*before["project"]["dependencies"], REQUIREMENT]
    after["project"]["dependencies"].pop()
    assert after == before
    kept = {line.replace(",", "") for line in new.splitlines()}  # a comma may be added
    old = [line for line in text.splitlines() if "dependencies" not in line]
    assert all(line.replace(",", "") in kept for line in old)


def test_a_project_without_dependencies_gets_the_key(tmp_path: Path) -> None:
    root = project(tmp_path, '[project]\nname = "agent"\n\n[tool.other]\ndependencies = 1\n')
    after = tomllib.loads(edited(root)["pyproject.toml"])
    assert after["project"]["dependencies"] == [REQUIREMENT]
    assert after["tool"]["other"] == {"dependencies": 1}


def test_hatchling_is_allowed_a_git_requirement(tmp_path: Path) -> None:
    text = (
        '[project]\nname = "agent"\ndependencies = []\n\n[build-system]\n'
        'requires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
    )
    after = tomllib.loads(edited(project(tmp_path, text))["pyproject.toml"])
    assert after["tool"]["hatch"]["metadata"] == {"allow-direct-references": True}


def test_setup_again_replaces_its_own_requirement(tmp_path: Path) -> None:
    root = project(tmp_path, f'[project]\nname = "a"\ndependencies = ["x", "{REQUIREMENT}"]\n')
    switched = adopt.Wanted(**{**WANTED.__dict__, "requirement": "lg-memory[postgres] @ git+h@d"})
    after = tomllib.loads(edited(root, switched)["pyproject.toml"])
    assert after["project"]["dependencies"] == ["x", "lg-memory[postgres] @ git+h@d"]


def test_requirements_txt_gets_its_line(tmp_path: Path) -> None:
    root = project(tmp_path, None, **{"requirements.txt": "langgraph>=1.0\n"})
    assert edited(root)["requirements.txt"].splitlines()[-1] == REQUIREMENT
    dynamic = project(
        tmp_path / "d",
        '[project]\nname = "a"\ndynamic = ["dependencies"]\n',
        **{"requirements.txt": "langgraph\n"},
    )
    assert "requirements.txt" in edited(dynamic) and "pyproject.toml" not in edited(dynamic)


def test_langgraph_json_gains_the_checkpointer_and_keeps_every_key(tmp_path: Path) -> None:
    config = {
        "$schema": "https://langgra.ph/schema.json",
        "dependencies": ["."],
        "graphs": {"agent": "./src/agent/graph.py:graph"},
        "store": {"index": {"embed": "openai:text-embedding-3-small", "dims": 1536}},
        "env": ".env",
    }
    text = json.dumps(config, indent=4)
    root = project(
        tmp_path, '[project]\nname = "a"\ndependencies = []\n', **{"langgraph.json": text}
    )
    new = edited(root)["langgraph.json"]
    assert json.loads(new) == {**config, "checkpointer": WANTED.checkpointer}
    assert new.startswith(text.rsplit("\n", 1)[0])  # the file's own lines, then the new key
    assert '\n    "checkpointer": {\n        "path"' in new


def test_env_files_and_gitignore(tmp_path: Path) -> None:
    root = project(
        tmp_path,
        '[project]\nname = "a"\ndependencies = ["langgraph"]\n',
        **{
            ".gitignore": ".env*\n",
            ".env": "OPENAI_API_KEY=sk-1\nCHECKPOINT_DB_PATH=mine.db\n",
            ".env.example": "OPENAI_API_KEY=\n# CHECKPOINT_NAMESPACE=x\n",
        },
    )
    changed = edited(root)
    assert changed[".gitignore"] == ".env*\n\n# lg-memory: secrets, local checkpoints, backups\n" \
        ".lg-memory/\n/data/threads.db\n"  # fmt: skip
    assert changed[".env"] == "OPENAI_API_KEY=sk-1\nCHECKPOINT_DB_PATH=data/threads.db\n"
    assert changed[".env.example"].endswith("CHECKPOINT_DB_PATH=checkpoints.db\n")
    assert changed[".env.example"].count("CHECKPOINT_NAMESPACE") == 1
    # a default never replaces a value the project set
    default = adopt.Wanted(**{**WANTED.__dict__, "env": {"CHECKPOINT_DB_PATH": "checkpoints.db"}})
    assert ".env" not in edited(root, default)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("pyproject.toml", "[project\n", "cannot parse pyproject.toml"),
        ("langgraph.json", "{graphs: 1", "cannot parse langgraph.json"),
        ("pyproject.toml", '[tool.poetry]\nname = "a"\n', "no [project] table"),
        ("requirements.txt", "langgraph\n\xff\n", "cannot parse requirements.txt"),
    ],
)
def test_what_cannot_be_parsed_is_refused(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    pyproject = None if name == "requirements.txt" else '[project]\nname = "a"\ndependencies = []\n'
    root = project(tmp_path, pyproject)
    (root / name).write_bytes(text.encode("latin-1"))
    with pytest.raises(adopt.Refusal, match=message.replace("[", r"\[")):
        adopt.inspect(root, git=False)


def test_the_package_is_found_from_each_layout(tmp_path: Path) -> None:
    mapped = project(
        tmp_path / "a",
        '[project]\nname = "x"\ndependencies = []\n[tool.setuptools.package-dir]\n'
        '"langgraph.templates.agent" = "src/agent"\n"agent" = "src/agent"\n',
    )
    assert (adopt.inspect(mapped, git=False).package_name, "src/agent") == ("agent", "src/agent")
    served = tmp_path / "b"
    (served / "bot").mkdir(parents=True)
    (served / "bot/__init__.py").write_text("")
    (served / "bot/graph.py").write_text(GRAPH)
    (served / "requirements.txt").write_text("langgraph\n")
    (served / "langgraph.json").write_text('{"graphs": {"g": "./bot/graph.py:graph"}}')
    found = adopt.inspect(served, git=False)
    assert (found.package_name, found.package_dir, found.requirements) == ("bot", "bot", True)


def test_wire_changes_only_the_compile_call(tmp_path: Path) -> None:
    app = (
        '"""A script."""\n\nimport os\n\nfrom langgraph.graph import StateGraph\n\n'
        "builder = StateGraph(dict)\n"
        'graph = builder.compile(\n    name="bot",\n)\n\n\ndef main():\n    return graph\n'
        "agent = create_agent(model, tools=[])\nwired = builder.compile(checkpointer=None)\n"
    )
    root = project(tmp_path, '[project]\nname = "a"\ndependencies = ["langgraph"]\n',
                   **{"src__agent__app.py": app})  # fmt: skip
    info = adopt.inspect(root, git=False)
    sites = {s.spec(root) for s in adopt.compile_sites(root)}
    assert sites == {"src/agent/app.py:graph", "src/agent/app.py:agent", "src/agent/graph.py:graph"}
    path, new, diff = adopt.wire(root, info, "src/agent/app.py:graph", ["review"])
    assert new == app.replace(
        "from langgraph.graph import StateGraph\n",
        "from langgraph.graph import StateGraph\n\nfrom agent.memory import checkpointer\n",
    ).replace(
        '    name="bot",\n)',
        "    name=\"bot\",\n    checkpointer=checkpointer(),\n    interrupt_before=['review'],\n)",
    )
    assert diff.startswith("--- a/src/agent/app.py\n+++ b/src/agent/app.py\n")
    one_line = adopt.wire(root, info, "src/agent/graph.py:graph", [])[1]
    assert "graph = StateGraph(dict).compile(checkpointer=checkpointer())\n" in one_line
    made = adopt.wire(root, info, "src/agent/app.py:agent", [])[1]
    assert "agent = create_agent(model, tools=[], checkpointer=checkpointer())\n" in made
    with pytest.raises(adopt.Refusal, match="no module-level"):
        adopt.wire(root, info, "src/agent/app.py:nothing", [])


def test_the_servers_checkpointer_block() -> None:
    assert catalog.server_checkpointer("agent.memory", "memory", 0) is None
    assert catalog.server_checkpointer("agent.memory", "sqlite", 0) == {
        "path": "agent.memory.aopen_checkpointer"
    }
    ttl = catalog.server_checkpointer("agent.memory", "postgres", 3601)["ttl"]  # type: ignore[index]
    assert ttl == {"strategy": "delete", "sweep_interval_minutes": 60, "default_ttl": 61}


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (  # among the package's own imports, in order
            "import os\n\nfrom agent.a import x\nfrom agent.z import y\n",
            "import os\n\nfrom agent.a import x\nfrom agent.memory import checkpointer\n"
            "from agent.z import y\n",
        ),
        (  # a group of its own, before the relative imports
            "import os\n\nfrom .tools import t\n",
            "import os\n\nfrom agent.memory import checkpointer\n\nfrom .tools import t\n",
        ),
    ],
)
def test_wire_puts_the_import_where_isort_would(tmp_path: Path, head: str, expected: str) -> None:
    app = head + "\ngraph = builder.compile()\n"
    root = project(tmp_path, '[project]\nname = "a"\ndependencies = ["langgraph"]\n',
                   **{"src__agent__app.py": app})  # fmt: skip
    new = adopt.wire(root, adopt.inspect(root, git=False), "src/agent/app.py:graph", [])[1]
    assert new == expected + "\ngraph = builder.compile(checkpointer=checkpointer())\n"
