"""Fixtures of the engine's tests: lg_memory in this process, on every backend, real servers.

The example agent of the template (its graph, and the file saver of `type=custom`) is loaded
from the template's plain Python files as the package `example_agent`, so that it is "the
project's package": `Settings.package`, trusted by an import, and home of the custom saver.

Each test gets a namespace of its own (`settings`, and more with `fresh()`), and what it stored
on a server is deleted at teardown. Each test runs in its own temporary directory, the project
directory of `lg-memory` (`--project`), where backups and migration markers land.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import types
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lg_memory import Answers, Settings, backends, load_settings, open_checkpointer
from lg_memory.cli import main as lg_memory

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "template" / "{{ package_dir }}"
PACKAGE = "example_agent"
MODULES = {"graph": "graph.py", "saver": "{% if type == 'custom' %}saver.py{% endif %}"}

VIA = ("saver API", "bulk loader")


def _load_example() -> None:
    """`example_agent.graph` and `example_agent.saver`, from the template's files."""
    if PACKAGE in sys.modules:
        return
    package = types.ModuleType(PACKAGE)
    package.__path__ = []
    sys.modules[PACKAGE] = package
    for name, file in MODULES.items():
        # The saver's file name does not end in `.py`: its loader is named.
        loader = importlib.machinery.SourceFileLoader(f"{PACKAGE}.{name}", str(EXAMPLE / file))
        spec = importlib.util.spec_from_file_location(loader.name, loader.path, loader=loader)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        loader.exec_module(module)
        setattr(package, name, module)


_load_example()
# The test modules import their shared helpers (helpers.py) by name.
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from helpers import BULK_TYPES, SERVER_TYPES, TYPES  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "backends(*types): run the test on these backend types only (default: all)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses a store runs once per backend type (those of its `backends`
    mark); one that takes `via` runs through each way an import writes that the type has."""
    if "backend_type" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("backends")
    chosen = tuple(marker.args) if marker else TYPES
    assert set(chosen) <= set(TYPES), chosen
    if "via" in metafunc.fixturenames:
        pairs = [(t, v) for t in chosen for v in VIA if v == "saver API" or t in BULK_TYPES]
        ids = [f"{t}-{'api' if v == 'saver API' else 'bulk'}" for t, v in pairs]
        metafunc.parametrize(("backend_type", "via"), pairs, ids=ids)
    else:
        metafunc.parametrize("backend_type", chosen)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Backups, migration markers and `.env` are those of the test's own directory; nothing
    of the developer's environment chooses a store or a namespace."""
    monkeypatch.chdir(tmp_path)
    for variable in ("CHECKPOINT_NAMESPACE", "CHECKPOINT_TTL", "REDIS_TTL", "CUSTOM_SAVER",
                     "MONGODB_DB", "CHECKPOINT_CONNECT_TIMEOUT", "LG_MEMORY_DEBUG"):  # fmt: skip
        monkeypatch.delenv(variable, raising=False)


def connection_string(type_: str, servers: Any, tmp_path: Path) -> str:
    if type_ in SERVER_TYPES:
        return str(servers.url(type_))
    return {"memory": "", "sqlite": str(tmp_path / "checkpoints.db")}.get(
        type_, str(tmp_path / "store")
    )


@pytest.fixture
def fresh(servers: Any, tmp_path: Path) -> Iterator[Callable[[str], Settings]]:
    """`fresh(type)`: settings of a new, empty namespace of that backend, in the project
    `tmp_path`; what the test stores there is removed at teardown."""
    made: list[Settings] = []

    def make(type_: str) -> Settings:
        namespace = f"t_{uuid.uuid4().hex[:12]}"
        made.append(
            load_settings(
                type_,
                connection_string(type_, servers, tmp_path),
                namespace,
                answers=Answers(type=type_, namespace=namespace, package=PACKAGE),
                project=tmp_path,
            )
        )
        return made[-1]

    yield make
    for settings in made:
        drop(settings)


@pytest.fixture
def backend_type(request: pytest.FixtureRequest) -> str:
    """The backend under test (see `pytest_generate_tests`)."""
    return str(request.param)


@pytest.fixture
def settings(backend_type: str, fresh: Callable[[str], Settings], tmp_path: Path) -> Settings:
    """The test's store: a new namespace of the backend under test, in the project
    `tmp_path`, whose answers file names it (as `lg-memory setup` would have)."""
    settings = fresh(backend_type)
    (tmp_path / ".copier-answers.yml").write_text(
        f"preset: none\ntype: {settings.type}\nnamespace: {settings.namespace}\n"
        f"package_name: {PACKAGE}\n"
    )
    return settings


@pytest.fixture
def cli(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """`lg-memory ARGS...` on the test's store: (exit code, stdout, stderr). Flags given in
    ARGS win over the store's (`--connection-string`, say)."""

    def run(*args: str) -> tuple[int, str, str]:
        common = {
            "--project": str(tmp_path),
            "--type": settings.type,
            "--connection-string": settings.connection_string,
            "--namespace": settings.namespace,
        }
        argv = list(args)
        for flag, value in common.items():
            if flag not in args:
                argv += [flag, value]
        capsys.readouterr()
        code = lg_memory(argv)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def drop(settings: Settings) -> None:
    """Remove everything a test stored in the namespace of `settings`."""
    if settings.type in ("sqlite", "custom"):
        return  # files under tmp_path
    if settings.type == "memory":
        from lg_memory.backends import memory

        memory._SAVERS.pop(settings.namespace, None)
        return
    with open_checkpointer(settings) as opened:
        saver: Any = opened  # the backend's own saver class
        backend = backends.load(settings.type)
        for thread in backend.threads(saver, None):
            backend.delete_thread(saver, thread.thread_id)
        if settings.type == "postgres":
            with saver.conn.connection() as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{settings.namespace}" CASCADE')
        elif settings.type == "redis":
            for index in (saver.checkpoints_index, saver.checkpoint_writes_index):
                index.delete(drop=True)
        elif settings.type == "mongodb":
            for collection in (saver.checkpoint_collection, saver.writes_collection):
                collection.drop()
