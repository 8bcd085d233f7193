"""A saver of the user's own: any `BaseCheckpointSaver` subclass, named `module:Class`.

The project's `CUSTOM_SAVER` (default: `<package>.saver:FileCheckpointSaver`, which
`lg-memory setup --type custom` renders for the user to adapt) is built as
`Class(connection_string, namespace=namespace)`; its `setup()` is called when it has one.
lg-memory reads and writes it through LangGraph's saver API, and uses two optional methods
when the class has them: `list_threads()` -> (thread_id, checkpoints, latest_id) of each thread and
`delete_checkpoint(config)` (the child of the deleted checkpoint then hangs from its parent).
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import sys
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple

from ..settings import CheckpointError, Settings
from ..store import Stats, Thread, parent_id
from .base import Backend, Saver


@runtime_checkable
class ListsThreads(Protocol):
    def list_threads(self) -> Iterable[tuple[str, int, str]]: ...


@runtime_checkable
class DeletesCheckpoints(Protocol):
    def delete_checkpoint(self, config: RunnableConfig, parent_id: str | None) -> None: ...


def saver_class(settings: Settings) -> type[Saver]:
    """The class `module:Class` (or `path/to/file.py:Class`, relative to the project)."""
    if not settings.custom_saver or ":" not in settings.custom_saver:
        raise CheckpointError(
            "a custom store needs its saver: set CUSTOM_SAVER=module:Class "
            "(or run lg-memory on the project that defines it, with --project)"
        )
    where, _, name = settings.custom_saver.rpartition(":")
    try:
        module = _module(where, settings)
        found: type[Saver] = getattr(module, name)
    except (ImportError, AttributeError, OSError) as exc:
        problem = f"cannot load the custom saver {settings.custom_saver}: {exc}"
        raise CheckpointError(problem) from None
    return found


def _module(where: str, settings: Settings) -> ModuleType:
    if where.endswith(".py"):  # a saver kept outside any package (a switch's copy of it)
        path = settings.home / where
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"no such file: {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    if settings.project is not None:  # the project's own package, installed or not
        for folder in (settings.project / "src", settings.project):
            if (folder / where.split(".")[0]).is_dir() and str(folder) not in sys.path:
                sys.path.append(str(folder))
    return importlib.import_module(where)


def _build(settings: Settings) -> Saver:
    factory: Any = saver_class(settings)  # the contract is in this module's docstring
    saver: Saver = factory(settings.connection_string, namespace=settings.namespace)
    setup: Any = getattr(saver, "setup", None)
    if callable(setup):
        setup()
    return saver


class CustomBackend(Backend):
    name = "custom"

    def exists(self, settings: Settings) -> bool:
        return Path(settings.connection_string).expanduser().exists()

    @contextmanager
    def open_saver(self, settings: Settings) -> Iterator[Saver]:
        yield _build(settings)

    @asynccontextmanager
    async def aopen_saver(self, settings: Settings) -> AsyncIterator[Saver]:
        yield await asyncio.to_thread(_build, settings)

    def stats(self, saver: Saver, settings: Settings) -> Stats:
        if not isinstance(saver, ListsThreads):
            return super().stats(saver, settings)
        found = list(saver.list_threads())
        return Stats(len(found), sum(row[1] for row in found), None)

    def threads(self, saver: Saver, limit: int | None) -> list[Thread]:
        if not isinstance(saver, ListsThreads):
            return super().threads(saver, limit)
        found = [Thread(*row) for row in saver.list_threads()]
        found.sort(key=lambda t: t.latest_id, reverse=True)
        return found[:limit] if limit is not None else found

    def delete_checkpoint(self, saver: Saver, target: CheckpointTuple) -> None:
        if not isinstance(saver, DeletesCheckpoints):
            super().delete_checkpoint(saver, target)
            return
        saver.delete_checkpoint(target.config, parent_id(target))


BACKEND = CustomBackend()
