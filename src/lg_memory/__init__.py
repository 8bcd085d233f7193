"""Durable memory for LangGraph agents.

    from lg_memory import Answers, load_settings, open_checkpointer

    settings = load_settings(answers=Answers(type="postgres", async_=True))
    with open_checkpointer(settings) as checkpointer:          # sync code
        app = graph.compile(checkpointer=checkpointer)
    async with aopen_checkpointer(settings) as checkpointer:   # async code (ainvoke, astream)
        app = graph.compile(checkpointer=checkpointer)

Connection strings come from the environment (and `.env`): `CHECKPOINT_DB_PATH`,
`POSTGRES_URL`, `REDIS_URL`, `MONGODB_URL`; see `lg_memory.catalog`.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, AbstractContextManager

from . import backends
from .backends import Saver
from .settings import Answers, CheckpointError, Settings, load_settings
from .threadops import AsyncThreadOps, ThreadOps

__all__ = [
    "Answers",
    "AsyncThreadOps",
    "Saver",
    "CheckpointError",
    "Settings",
    "ThreadOps",
    "aopen_checkpointer",
    "load_settings",
    "open_checkpointer",
]


def open_checkpointer(settings: Settings | None = None) -> AbstractContextManager[Saver]:
    """A ready checkpointer (storage initialised); closes its connections on exit."""
    settings = settings or load_settings()
    return backends.load(settings.type).open_saver(settings)


def aopen_checkpointer(settings: Settings | None = None) -> AbstractAsyncContextManager[Saver]:
    """The async counterpart of `open_checkpointer`, for `ainvoke` / `astream`."""
    settings = settings or load_settings()
    return backends.load(settings.type).aopen_saver(settings)
