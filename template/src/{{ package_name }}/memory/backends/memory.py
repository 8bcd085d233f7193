"""In-memory: InMemorySaver, one per namespace, shared by everything in this process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from langgraph.checkpoint.memory import InMemorySaver

from ..settings import Settings

_SAVERS: dict[str, InMemorySaver] = {}


def _saver(settings: Settings) -> InMemorySaver:
    return _SAVERS.setdefault(settings.namespace, InMemorySaver())


@contextmanager
def open_saver(settings: Settings) -> Iterator[InMemorySaver]:
    yield _saver(settings)


@asynccontextmanager
async def aopen_saver(settings: Settings) -> AsyncIterator[InMemorySaver]:
    yield _saver(settings)
