"""SQLite: a local file. A namespace other than `default` gets its own file beside it."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import aiosqlite
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from ..settings import DEFAULT_NAMESPACE, Settings


def database_path(settings: Settings) -> str:
    """`checkpoints.db`, or `checkpoints.<namespace>.db` for another namespace."""
    path = settings.connection_string
    if path == ":memory:":
        return path
    file = Path(path).expanduser()
    if settings.namespace != DEFAULT_NAMESPACE:
        file = file.with_name(f"{file.stem}.{settings.namespace}{file.suffix}")
    file.parent.mkdir(parents=True, exist_ok=True)
    return str(file)


@contextmanager
def open_saver(settings: Settings) -> Iterator[SqliteSaver]:
    # The saver serialises its own access with a lock, so the connection may be
    # shared by the threads LangGraph runs nodes in.
    conn = sqlite3.connect(database_path(settings), check_same_thread=False)
    try:
        saver = SqliteSaver(conn)
        saver.setup()
        yield saver
    finally:
        conn.close()


@asynccontextmanager
async def aopen_saver(settings: Settings) -> AsyncIterator[AsyncSqliteSaver]:
    async with aiosqlite.connect(database_path(settings)) as conn:
        saver = AsyncSqliteSaver(conn)
        await saver.setup()
        yield saver
