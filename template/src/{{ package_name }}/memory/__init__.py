"""The project's checkpointer, for the backend chosen when the project was rendered.

with open_checkpointer() as checkpointer:          # sync code
    app = compile_graph(checkpointer)

async with aopen_checkpointer() as checkpointer:   # async code (ainvoke, astream)
    app = compile_graph(checkpointer)
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, AbstractContextManager

from langgraph.checkpoint.base import BaseCheckpointSaver

from . import backends
from .settings import CheckpointError, Settings, load_settings

__all__ = [
    "CheckpointError",
    "Settings",
    "aopen_checkpointer",
    "load_settings",
    "open_checkpointer",
]


def open_checkpointer(
    settings: Settings | None = None,
) -> AbstractContextManager[BaseCheckpointSaver[str]]:
    """A ready checkpointer (storage initialised); closes its connections on exit."""
    settings = settings or load_settings()
    saver: AbstractContextManager[BaseCheckpointSaver[str]] = backends.load(
        settings.type
    ).open_saver(settings)
    return saver


def aopen_checkpointer(
    settings: Settings | None = None,
) -> AbstractAsyncContextManager[BaseCheckpointSaver[str]]:
    """The async counterpart of `open_checkpointer`, for `ainvoke` / `astream`."""
    settings = settings or load_settings()
    saver: AbstractAsyncContextManager[BaseCheckpointSaver[str]] = backends.load(
        settings.type
    ).aopen_saver(settings)
    return saver
