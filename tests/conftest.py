"""Fixtures of every test: the real servers, started once per worker when first asked for."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from services import Servers


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    servers = Servers(tmp_path_factory.mktemp("servers"))
    yield servers
    servers.stop()


@pytest.fixture(scope="session", autouse=True)
def _uv() -> None:
    if shutil.which("uv") is None:
        pytest.exit("uv is required: pip install uv", returncode=2)
