"""Every backend, sync and async, and every preset: render with Copier, install the project
into a fresh virtual environment, lint and type-check it (ruff, mypy --strict), and run its
own checkpoint tests against a real server of that backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rendering import catalogue, install, render, run
from services import URL_ENV, Servers

TYPES = ["memory", "sqlite", "postgres", "redis", "mongodb", "custom"]
PRESETS = ["sqlite-persistent", "postgres-production", "redis-distributed", "mongodb-cloud"]

CASES = [
    pytest.param({"type": t, "async": a}, id=f"{t}-{'async' if a else 'sync'}")
    for t in TYPES
    for a in (False, True)
] + [pytest.param({"preset": p}, id=p) for p in PRESETS]


def chosen_type(data: dict[str, object]) -> str:
    return str(data.get("type") or catalogue.preset_value(str(data["preset"]), "type"))


def backend_env(data: dict[str, object], servers: Servers) -> dict[str, str]:
    """Points the project at this suite's server for its backend."""
    type_ = chosen_type(data)
    return {URL_ENV[type_]: servers.url(type_)} if type_ in URL_ENV else {}


@pytest.mark.parametrize("data", CASES)
def test_generated_project_passes_its_own_tests(
    data: dict[str, object], tmp_path: Path, servers: Servers
) -> None:
    project = render(tmp_path / "agent", project_name="agent", **data)
    python = install(project)  # its own declared dependencies only
    bin_ = python.parent
    if "preset" not in data:  # a preset renders the code of a type and async pair above
        run([bin_ / "ruff", "check", "."], cwd=project)
        run([bin_ / "ruff", "format", "--check", "."], cwd=project)
        run([bin_ / "mypy"], cwd=project)  # --strict, from the project's pyproject.toml
    env = backend_env(data, servers)
    before = files(project)
    result = run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project, env=env)
    assert " passed" in result.stdout and "failed" not in result.stdout
    assert "skipped" not in result.stdout
    assert files(project) == before  # the tests leave nothing behind
    run([python, "-m", "agent"], cwd=project, env=env)
    info = run([bin_ / "lg-memory", "info", "--json"], cwd=project, env=env).stdout
    assert json.loads(info)["memory_system"] == catalogue.BACKENDS[chosen_type(data)]["label"]


def files(project: Path) -> set[str]:
    """The project's files, less the caches and the virtual environment."""
    ignored = {".venv", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
    return {
        str(p.relative_to(project))
        for p in project.rglob("*")
        if not ignored & set(p.relative_to(project).parts)
    }
