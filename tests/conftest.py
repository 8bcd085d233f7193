"""Fixtures of every test: the real servers, started once per worker when first asked for."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import services

REPO = Path(__file__).resolve().parents[1]

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


@pytest.fixture(scope="session", autouse=True)
def _uv() -> None:
    if shutil.which("uv") is None:
        pytest.exit("uv is required: pip install uv", returncode=2)
