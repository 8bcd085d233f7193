"""SQLite: a local file. A namespace other than `default` gets its own file beside it."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import aiosqlite
from langgraph.checkpoint.base import CheckpointTuple
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from ..settings import DEFAULT_NAMESPACE, Settings
from ..store import Stats, Thread, parent_id


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


@contextmanager
def bulk_writer(saver: SqliteSaver) -> Iterator[SqliteSaver]:
    """For imports: commits without waiting for the disk (WAL keeps the file consistent)."""
    saver.conn.execute("PRAGMA synchronous=NORMAL")
    try:
        yield saver
    finally:
        saver.conn.execute("PRAGMA synchronous=FULL")


# Native queries for `lg-memory` (see ../store.py): counts without loading checkpoints.
def stats(saver: SqliteSaver, settings: Settings) -> Stats:
    with saver.cursor(transaction=False) as cur:
        threads, checkpoints = cur.execute(
            "SELECT count(DISTINCT thread_id), count(*) FROM checkpoints"
        ).fetchone()
        (pages,) = cur.execute("PRAGMA page_count").fetchone()
        (page_size,) = cur.execute("PRAGMA page_size").fetchone()
    return Stats(threads, checkpoints, pages * page_size)


def threads(saver: SqliteSaver, limit: int | None) -> list[Thread]:
    with saver.cursor(transaction=False) as cur:
        rows = cur.execute(
            "SELECT thread_id, count(*), max(checkpoint_id) FROM checkpoints "
            "GROUP BY thread_id ORDER BY 3 DESC LIMIT ?",
            (-1 if limit is None else limit,),
        ).fetchall()
    return [Thread(*row) for row in rows]


def delete_checkpoint(saver: SqliteSaver, target: CheckpointTuple) -> None:
    c = target.config["configurable"]
    key = (c["thread_id"], c["checkpoint_ns"], c["checkpoint_id"])
    parent = parent_id(target)
    with saver.cursor() as cur:
        cur.execute(
            "UPDATE checkpoints SET parent_checkpoint_id = ? "
            "WHERE thread_id = ? AND checkpoint_ns = ? AND parent_checkpoint_id = ?",
            (parent, *key),
        )
        for table in ("checkpoints", "writes"):
            cur.execute(
                f"DELETE FROM {table} "
                "WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?",
                key,
            )


def vacuum(saver: SqliteSaver) -> None:
    """Give the space of deleted rows back to the file system."""
    saver.conn.execute("VACUUM")
