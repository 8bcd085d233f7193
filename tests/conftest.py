"""Fixtures for the template's own tests: real servers, real copier, real venvs."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from copier import run_copy

import services

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "extensions"))
catalogue = importlib.import_module("backends")  # the template's own backend catalogue

# The environment variable a generated project reads its connection string from.
URL_ENV = {"postgres": "POSTGRES_URL", "redis": "REDIS_URL", "mongodb": "MONGODB_URL"}
_STARTERS = {
    "postgres": services.start_postgres,
    "redis": services.start_redis,
    "mongodb": services.start_mongodb,
}


class Servers:
    """Starts each server the first time a test asks for it; one of each per worker."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: dict[str, services.Server] = {}

    def url(self, type_: str) -> str:
        if type_ not in self.started:
            workdir = self.workdir / type_
            workdir.mkdir(parents=True, exist_ok=True)
            self.started[type_] = _STARTERS[type_](workdir)
        return self.started[type_].url

    def stop(self) -> None:
        for server in self.started.values():
            server.stop()


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    servers = Servers(tmp_path_factory.mktemp("servers"))
    yield servers
    servers.stop()


def render(dst: Path, **data: Any) -> Path:
    """`copier copy --trust --defaults --data ...` of this template, through Copier's API."""
    run_copy(
        str(REPO),
        dst,
        data=data,
        defaults=True,
        unsafe=True,
        quiet=True,
        vcs_ref="HEAD",
    )
    return dst


def install(project: Path, *extras: str) -> Path:
    """A fresh virtual environment with the project installed; returns its python."""
    venv = project / ".venv"
    subprocess.run(["uv", "venv", "-q", "-p", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    spec = f"{project}[{','.join(('dev', *extras))}]"
    subprocess.run(
        ["uv", "pip", "install", "-q", "-p", str(python), "-e", spec], check=True, cwd=project
    )
    return python


def run(
    args: list[str | Path], cwd: Path, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, args))} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}"
        )
    return result


@pytest.fixture(scope="session", autouse=True)
def _uv() -> None:
    if shutil.which("uv") is None:
        pytest.exit("uv is required: pip install uv", returncode=2)
