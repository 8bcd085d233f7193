"""The package's own facts agree with each other: one extra per backend holding exactly the
catalogue's packages, and one backend module per catalogue entry."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from lg_memory import backends, catalog

PYPROJECT = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())


@pytest.mark.parametrize("type_", list(catalog.BACKENDS))
def test_each_backend_has_its_extra_and_its_module(type_: str) -> None:
    packages = catalog.BACKENDS[type_]["packages"]
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert extras.get(type_, []) == packages
    backend = backends.load(type_)
    assert isinstance(backend, backends.Backend) and backend.name == type_


def test_a_production_install_needs_no_copier() -> None:
    assert not any("copier" in d for d in PYPROJECT["project"]["dependencies"])
    assert any("copier" in d for d in PYPROJECT["project"]["optional-dependencies"]["setup"])
