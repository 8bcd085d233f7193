"""What `copier copy` renders, without installing anything: answers, presets, validators,
secrets. Fast; the generated projects are exercised in test_generated.py."""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml
from copier import run_copy

from rendering import REPO, catalogue, render

SECRET = "s3cr3t-Pa55"


def answers(project: Path) -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load((project / ".copier-answers.yml").read_text())
    return loaded


def wiring(project: Path, package: str = "agent") -> str:
    return (project / "src" / package / "memory.py").read_text()


@pytest.mark.parametrize(
    ("preset", "type_", "async_", "ttl", "env_line"),
    [
        ("sqlite-persistent", "sqlite", False, 0, "CHECKPOINT_DB_PATH=checkpoints.db"),
        ("postgres-production", "postgres", True, 0, "POSTGRES_URL=postgresql://"),
        ("redis-distributed", "redis", False, 86400, "REDIS_TTL=86400"),
        ("mongodb-cloud", "mongodb", True, 0, "MONGODB_URL=mongodb://"),
    ],
)
def test_presets_render_what_they_promise(
    tmp_path: Path, preset: str, type_: str, async_: bool, ttl: int, env_line: str
) -> None:
    project = render(tmp_path / "p", project_name="agent", preset=preset)
    text = wiring(project)
    assert f'type="{type_}"' in text
    assert f"async_={async_}" in text
    assert f"ttl={ttl}," in text
    assert env_line in (project / ".env").read_text()
    dependencies = (project / "pyproject.toml").read_text().split("[project.optional")[0]
    assert f'"lg-memory[{type_}] @ git+file://' in dependencies
    # The preset is the answer; the values it implies are derived, so that
    # `copier update --data preset=...` can change them later.
    assert answers(project)["preset"] == preset
    assert "type" not in answers(project)


def test_default_is_sqlite_with_the_seed_environment(tmp_path: Path) -> None:
    project = render(tmp_path / "p", project_name="My Agent")
    assert 'type="sqlite"' in wiring(project, "my_agent")
    assert (project / ".env").read_text().count("CHECKPOINT_DB_PATH=checkpoints.db") == 1
    assert ".env" in (project / ".gitignore").read_text().splitlines()
    assert (project / "tests" / "test_checkpoints.py").is_file()
    assert not (project / "tests" / "test_custom_saver.py").exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"type": "postgres", "connection_string": "redis://localhost:6379"},
            "PostgreSQL needs a postgresql:// or postgres:// URL",
        ),
        ({"type": "redis", "connection_string": "localhost:6379"}, "Redis needs a redis://"),
        (
            {"type": "mongodb", "connection_string": "postgresql://x/y"},
            "MongoDB needs a mongodb://",
        ),
        ({"type": "sqlite", "connection_string": "postgresql://x/y"}, "SQLite takes a file path"),
        ({"type": "postgres", "connection_string": ""}, "PostgreSQL needs a connection string"),
        ({"ttl": "-5"}, "ttl must be a whole number of seconds"),
        ({"ttl": "1.5"}, "ttl must be a whole number of seconds"),
        ({"ttl": "soon"}, "ttl must be a whole number of seconds"),
        ({"namespace": "my namespace"}, "cannot name a schema, key prefix or collection"),
        ({"namespace": "Prod"}, "cannot name a schema, key prefix or collection"),
        ({"namespace": "a;drop table x"}, "cannot name a schema, key prefix or collection"),
        ({"namespace": "pg_catalog"}, "cannot name a schema"),
        ({"project_name": "---"}, "project_name must contain a letter or a digit"),
    ],
    ids=lambda v: str(v)[:40] if isinstance(v, str) else None,
)
def test_validators_reject_bad_answers(tmp_path: Path, data: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match="Validation error") as error:
        render(tmp_path / "p", **{"project_name": "agent", **data})
    assert message in str(error.value)
    assert not (tmp_path / "p" / "pyproject.toml").exists()


def test_async_help_says_what_happens_on_mongodb(tmp_path: Path) -> None:
    # MongoDB has no native async saver; async is accepted and documented, not refused.
    project = render(tmp_path / "p", project_name="agent", type="mongodb", **{"async": True})
    assert "worker" in (project / "docs" / "memory.md").read_text()


@pytest.mark.parametrize("type_", ["postgres", "redis", "mongodb"])
def test_no_committed_file_holds_the_password(tmp_path: Path, type_: str) -> None:
    url = {
        "postgres": f"postgresql://agent:{SECRET}@db.internal:5432/langgraph",
        "redis": f"redis://default:{SECRET}@cache.internal:6379/0",
        "mongodb": f"mongodb://agent:{SECRET}@mongo.internal:27017",
    }[type_]
    project = render(tmp_path / "p", project_name="agent", type=type_, connection_string=url)
    assert SECRET in (project / ".env").read_text()  # the one place it belongs
    assert not (project / ".lg-memory").exists()  # no second copy (updates render one, briefly)
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    subprocess.run(["git", "add", "-A"], cwd=project, check=True)
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=project, check=True, capture_output=True, text=True
    ).stdout.split()
    assert ".env" not in tracked
    assert ".copier-answers.yml" in tracked
    for name in tracked:
        assert SECRET not in (project / name).read_text(errors="replace"), name


@pytest.mark.parametrize("type_", list(catalogue.BACKENDS))
def test_every_type_renders_its_docs_and_env(tmp_path: Path, type_: str) -> None:
    project = render(tmp_path / "p", project_name="agent", type=type_)
    docs = (project / "docs" / "memory.md").read_text()
    label = catalogue.BACKENDS[type_]["label"]
    assert f"# Memory: {label} checkpointer" in docs
    for heading in (
        "## Settings",
        "### Threads",
        "### Human-in-the-loop",
        "### Time travel",
        "## Switching backends",
        "Pros:",
        "Cons:",
    ):
        assert heading in docs
    env = catalogue.BACKENDS[type_]["env"]
    if env:
        assert f"{env}=" in (project / ".env.example").read_text()


@pytest.mark.parametrize("type_", list(catalogue.BACKENDS))
def test_a_project_holds_only_what_its_owner_edits(tmp_path: Path, type_: str) -> None:
    """No copy of the engine: the wiring module is all of lg-memory a project carries (the
    custom saver, meant to be adapted, aside)."""
    project = render(tmp_path / "p", project_name="agent", type=type_)
    package = project / "src" / "agent"
    mine = {"graph.py", "demo.py", "saver.py"}
    lines = sum(
        len(f.read_text().splitlines()) for f in package.rglob("*.py") if f.name not in mine
    )
    assert lines < 120, lines
    assert not (package / "memory").exists()
    assert (package / "saver.py").exists() == (type_ == "custom")


def test_the_template_inside_the_wheel_renders(tmp_path: Path) -> None:
    """An installed lg-memory outside git renders the copy of the template its wheel carries
    (the extensions find catalog.py and adopt.py around it), pinned to its own version."""
    subprocess.run(["uv", "build", "--wheel", "-q", "-o", str(tmp_path / "dist"), str(REPO)],
                   check=True)  # fmt: skip
    [wheel] = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp_path / "site")
    bundled = tmp_path / "site" / "lg_memory" / "template"
    project = tmp_path / "agent"
    run_copy(str(bundled), project, data={"project_name": "agent", "type": "postgres"},
             defaults=True, unsafe=True, quiet=True)  # fmt: skip
    pyproject = (project / "pyproject.toml").read_text()
    assert re.search(r'"lg-memory\[postgres\](==[0-9.]+)?",', pyproject), pyproject
    assert 'type="postgres"' in (project / "src/agent/memory.py").read_text()
