"""What a rendered project brings besides its code, and the template's own docs and CI:
docker-compose.yml against the Compose specification, the GitHub workflows against actionlint
and zizmor, langgraph.json against the files it names, and the docs through mkdocs --strict.
Every tool comes from the dev dependencies; a missing tool fails the test, never skips it."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from rendering import REPO, catalogue, render

TYPES = ["memory", "sqlite", "postgres", "redis", "mongodb", "custom"]
SERVERS = ["postgres", "redis", "mongodb"]  # the types with a server to start
PORT_IN_CONTAINER = {"postgres": 5432, "redis": 6379, "mongodb": 27017}
PINNED = re.compile(r"[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}")


def tool(name: str) -> str:
    """The dev environment's executable `name` (beside this Python, else on PATH)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: it is a dev dependency (uv sync --group dev)")
    return found


def check(*args: str | Path, cwd: Path = REPO) -> str:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} exited {result.returncode}\n{output}"
    )
    return output


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One project per type, rendered with the defaults (project_name=agent)."""
    root = tmp_path_factory.mktemp("ecosystem")
    return {t: render(root / t, project_name="agent", type=t) for t in TYPES}


def default_url(type_: str) -> str:
    return str(catalogue.BACKENDS[type_]["default"])


# ---- docker-compose.yml ---------------------------------------------------------------------


@pytest.mark.parametrize("type_", SERVERS)
def test_compose_file_follows_the_spec(projects: dict[str, Path], type_: str) -> None:
    compose = projects[type_] / "docker-compose.yml"
    check(tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", compose)


@pytest.mark.parametrize("type_", SERVERS)
def test_compose_starts_the_server_env_example_expects(
    projects: dict[str, Path], type_: str
) -> None:
    project = projects[type_]
    compose = yaml.safe_load((project / "docker-compose.yml").read_text())
    assert list(compose["services"]) == [type_]  # exactly the server the backend needs
    service = compose["services"][type_]
    assert service["image"] == catalogue.BACKENDS[type_]["image"]
    assert service["healthcheck"]["test"]

    url = urlsplit(default_url(type_))
    env_line = f"{catalogue.BACKENDS[type_]['env']}={default_url(type_)}"
    assert env_line in (project / ".env.example").read_text().splitlines()
    assert service["ports"] == [f"127.0.0.1:{url.port}:{PORT_IN_CONTAINER[type_]}"]

    (volume,) = compose["volumes"]
    assert [v.split(":")[0] for v in service["volumes"]] == [volume]
    if type_ == "postgres":
        assert service["environment"] == {
            "POSTGRES_USER": url.username,
            "POSTGRES_PASSWORD": url.password,
            "POSTGRES_DB": url.path.lstrip("/"),
        }


@pytest.mark.parametrize("type_", ["memory", "sqlite", "custom"])
def test_no_compose_file_without_a_server(projects: dict[str, Path], type_: str) -> None:
    assert not (projects[type_] / "docker-compose.yml").exists()


# ---- GitHub workflows -----------------------------------------------------------------------


def lint_workflow(workflow: Path, cwd: Path) -> dict[str, object]:
    check(tool("actionlint"), "-no-color", workflow, cwd=cwd)
    # zizmor exits non-zero on any finding; offline: no GitHub API calls, no token needed.
    check(tool("zizmor"), "--offline", "--no-progress", workflow, cwd=cwd)
    check(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", workflow)
    text = workflow.read_text()
    for uses in re.findall(r"uses:\s*(\S+)", text):
        assert PINNED.fullmatch(uses), f"{uses} is not pinned to a commit SHA"
    assert "persist-credentials: false" in text
    loaded: dict[str, object] = yaml.safe_load(text)
    assert loaded["permissions"] == {"contents": "read"}
    return loaded


@pytest.mark.parametrize("type_", TYPES)
def test_generated_workflow_lints_and_tests_against_the_backend(
    projects: dict[str, Path], type_: str
) -> None:
    project = projects[type_]
    workflow = lint_workflow(project / ".github" / "workflows" / "ci.yml", project)
    (job,) = workflow["jobs"].values()  # type: ignore[attr-defined]
    runs = [step["run"] for step in job["steps"] if "run" in step]
    assert any("ruff check" in r and "ruff format --check" in r for r in runs)
    assert "uv run pytest" in runs
    backend = catalogue.BACKENDS[type_]
    if type_ in SERVERS:
        (service,) = job["services"].values()
        assert service["image"] == backend["image"]  # the same server as docker-compose.yml
        assert "--health-cmd" in service["options"]
        assert job["env"] == {backend["env"]: default_url(type_)}
    else:
        assert "services" not in job


def test_template_workflow_runs_the_readme_test_command() -> None:
    workflow = lint_workflow(REPO / ".github" / "workflows" / "ci.yml", REPO)
    (job,) = workflow["jobs"].values()  # type: ignore[attr-defined]
    assert job["runs-on"] == "ubuntu-latest"
    assert [s["run"] for s in job["steps"] if "run" in s] == ["scripts/test"]
    assert "scripts/test" in (REPO / "README.md").read_text()
    python = [
        s["with"]["python-version"] for s in job["steps"] if "setup-python" in s.get("uses", "")
    ]
    assert python == ["3.11"]


# ---- langgraph.json -------------------------------------------------------------------------


@pytest.mark.parametrize("type_", TYPES)
def test_langgraph_json_points_at_the_studio_graph(projects: dict[str, Path], type_: str) -> None:
    project = projects[type_]
    config = json.loads((project / "langgraph.json").read_text())
    assert config["dependencies"] == ["."]
    module, variable = config["graphs"]["agent"].split(":")
    graph_file = project / "src" / (module.replace(".", "/") + ".py")
    assert graph_file.is_file(), f"langgraph.json names {module}, which was not rendered"

    # The server imports the module from the installed package and refuses a graph compiled
    # with a checkpointer (it brings its own): import it the same way here.
    probe = (
        "import importlib, sys\n"
        "sys.path.insert(0, 'src')\n"
        f"graph = getattr(importlib.import_module({module!r}), {variable!r})\n"
        "assert graph.checkpointer is None, graph.checkpointer\n"
        "print(graph.interrupt_before_nodes)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=project, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "human_review" in result.stdout

    # `checkpointer.path` (module.function) makes the server keep checkpoints in this
    # project's backend; the in-memory type leaves the server its own persistence.
    if type_ == "memory":
        assert "checkpointer" not in config
        return
    module, function = config["checkpointer"]["path"].rsplit(".", 1)
    source = project / "src" / (module.replace(".", "/") + ".py")
    tree = ast.parse(source.read_text())
    defined = {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    assert function in defined, f"{module} has no function {function}"
    args = defined[function].args
    assert len(args.defaults) == len(args.args), f"{function} must be callable without arguments"


# ---- docs -----------------------------------------------------------------------------------


def test_docs_build_strict(tmp_path: Path) -> None:
    check(tool("mkdocs"), "build", "--strict", "--site-dir", tmp_path / "site")
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    pages = {p.relative_to(REPO / "docs").as_posix() for p in (REPO / "docs").rglob("*.md")}
    in_nav = {
        next(iter(entry.values())) if isinstance(entry, dict) else entry for entry in config["nav"]
    }
    assert pages == in_nav, "every page of docs/ is in the nav, and only those"
