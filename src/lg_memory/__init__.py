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

import atexit
from contextlib import AbstractAsyncContextManager, AbstractContextManager, ExitStack

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
    "checkpointer",
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


_OPEN: dict[Settings, Saver] = {}
_AT_EXIT = ExitStack()
atexit.register(_AT_EXIT.close)


def checkpointer(settings: Settings | None = None) -> Saver:
    """A checkpointer open until the process exits (one per settings): for a graph compiled
    at import time, `graph = builder.compile(checkpointer=checkpointer())`."""
    settings = settings or load_settings()
    if settings not in _OPEN:
        _OPEN[settings] = _AT_EXIT.enter_context(open_checkpointer(settings))
    return _OPEN[settings]
