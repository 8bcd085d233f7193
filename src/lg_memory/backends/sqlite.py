"""SQLite: a local file. A namespace other than `default` gets its own file beside it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Generator, Iterable, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

import aiosqlite
from langgraph.checkpoint.base import CheckpointTuple, get_checkpoint_metadata, writes_sort_key
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from .. import transfer
from ..chains import Plan
from ..settings import DEFAULT_NAMESPACE, Settings
from ..store import Stats, Thread, parent_id, saved_record
from ..threadops import AsyncThreadOps
from .base import Backend, BackendThreadOps, Saver


class LgSqliteSaver(BackendThreadOps, SqliteSaver):
    """SqliteSaver with copy_thread, prune and delete_for_runs (see ../threadops.py)."""

    @classmethod
    def _lg_backend(cls) -> Backend:
        return BACKEND


class LgAsyncSqliteSaver(AsyncThreadOps[str], AsyncSqliteSaver):
    """AsyncSqliteSaver with the same, async (see ../threadops.py)."""

    async def _lg_adelete(self, plan: Plan) -> None:
        async with self.lock:
            try:
                for statement, rows in _plan_statements(plan):
                    await self.conn.executemany(statement, rows)
            except BaseException:
                await self.conn.rollback()
                raise
            await self.conn.commit()


def _plan_statements(plan: Plan) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """The statements (each with its rows) that delete what a plan says, in one transaction."""
    where = "WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id = ?"
    doomed = [(plan.thread_id, *key) for key in plan.keys]
    return [
        (f"UPDATE checkpoints SET parent_checkpoint_id = ? {where}",
         [(parent, plan.thread_id, *key) for key, parent in plan.parents.items()]),
        (f"DELETE FROM checkpoints {where}", doomed),
        (f"DELETE FROM writes {where}", doomed),
    ]  # fmt: skip


def database_path(settings: Settings) -> str:
    """`checkpoints.db`, or `checkpoints.<namespace>.db` for another namespace."""
    path = settings.connection_string
    if path == ":memory:":
        return path
    file = Path(path).expanduser()
    if settings.namespace != DEFAULT_NAMESPACE:
        file = file.with_name(f"{file.stem}.{settings.namespace}{file.suffix}")
    return str(file)


def _created(settings: Settings) -> str:
    path = database_path(settings)
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    return path


def _insert(cur: sqlite3.Cursor, record: dict[str, Any]) -> None:
    key = (record["thread_id"], record["checkpoint_ns"], record["checkpoint_id"])
    checkpoint = transfer.align_versions(record["checkpoint"], str)
    document = {
        k: v if k in transfer.JSON_FIELDS else transfer.raw_value(v)
        for k, v in checkpoint.items()
        if k != "channel_values"
    }
    document["channel_values"] = {
        ch: transfer.raw_value(v) for ch, v in checkpoint["channel_values"].items()
    }
    metadata = get_checkpoint_metadata({}, record["metadata"])
    cur.execute(
        "INSERT OR REPLACE INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, "
        "parent_checkpoint_id, type, checkpoint, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (*key, record["parent_checkpoint_id"], "msgpack", transfer.pack_raw(document),
         json.dumps(metadata, ensure_ascii=False).encode("utf-8", "ignore")),
    )  # fmt: skip
    regular: list[tuple[Any, ...]] = []
    special: list[tuple[Any, ...]] = []
    for task_id, task_path, idx, channel, value in transfer.indexed_writes(record["writes"]):
        row = (*key, task_id, task_path, idx, channel, *transfer.value_bytes(value))
        (special if idx < 0 else regular).append(row)
    # As `put_writes`: regular writes are kept if present, special ones (idx < 0) replaced.
    for verb, rows in (("INSERT OR IGNORE", regular), ("INSERT OR REPLACE", special)):
        cur.executemany(
            f"{verb} INTO writes (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, "
            "idx, channel, type, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def _record(
    saver: SqliteSaver, key: tuple[str, str, str], row: Any, writes: list[Any]
) -> dict[str, Any]:
    if row[4] != "msgpack":  # written by another serializer: read through the saver
        return saved_record(saver, key)
    where = f"checkpoint {key[2]} of thread {key[0]!r}"
    checkpoint = transfer.unpack_raw(row[5])
    if len(writes) > 1:
        writes.sort(key=lambda w: writes_sort_key(w[7], w[3], w[8]))
    return transfer.make_record(
        key,
        row[3],
        checkpoint,
        {ch: transfer.raw_typed(v) for ch, v in checkpoint["channel_values"].items()},
        lambda _, value: transfer.raw_typed(value),
        transfer.parse_json(row[6]) if row[6] is not None else {},
        # The saver does not return task paths: exported as "", as through its `list()`.
        ((w[3], w[4], transfer.stored(saver.serde, w[5], w[6], where), "") for w in writes),
    )


class SqliteBackend(Backend):
    name = "sqlite"
    bulk_loads = True

    def exists(self, settings: Settings) -> bool:
        path = database_path(settings)
        return path == ":memory:" or Path(path).is_file()

    def describe_error(self, exc: BaseException) -> str | None:
        if not isinstance(exc, sqlite3.DatabaseError):
            return None
        text = str(exc)
        if "full" in text:
            return f"storage full: {text}; free disk space, or prune old checkpoints"
        if "not a database" in text or "malformed" in text:
            return f"corrupted data: {text}; restore the file from a backup"
        return f"database error: {text}"

    @contextmanager
    def open_saver(self, settings: Settings) -> Iterator[SqliteSaver]:
        # The saver serialises its own access with a lock, so the connection may be
        # shared by the threads LangGraph runs nodes in.
        conn = sqlite3.connect(_created(settings), check_same_thread=False)
        try:
            saver = LgSqliteSaver(conn)
            saver.setup()
            yield saver
        finally:
            conn.close()

    @asynccontextmanager
    async def aopen_saver(self, settings: Settings) -> AsyncIterator[AsyncSqliteSaver]:
        async with aiosqlite.connect(_created(settings)) as conn:
            saver = LgAsyncSqliteSaver(conn)
            await saver.setup()
            yield saver

    def records(self, saver: Saver, thread_id: str | None) -> Generator[dict[str, Any]]:
        """The export records of the store (or of one thread), in export order, read straight
        from the tables: each checkpoint is one msgpack document, whose channel values are cut
        out of it without building the objects they stand for (see ../transfer.py)."""
        assert isinstance(saver, SqliteSaver)
        where, args = ("WHERE thread_id = ?", (thread_id,)) if thread_id is not None else ("", ())
        order = "ORDER BY thread_id, checkpoint_ns, checkpoint_id"
        conn = saver.conn
        with closing(conn.cursor()) as cur, closing(conn.cursor()) as wcur:
            cur.execute("BEGIN")  # one snapshot for both queries
            try:
                cur.execute(
                    "SELECT thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, "
                    f"checkpoint, metadata FROM checkpoints {where} {order}",
                    args,
                )
                wcur.execute(
                    "SELECT thread_id, checkpoint_ns, checkpoint_id, task_id, channel, type, "
                    f"value, task_path, idx FROM writes {where} {order}",
                    args,
                )
                writes = groupby(wcur, key=itemgetter(0, 1, 2))
                pending = next(writes, None)
                for row in cur:
                    key = (row[0], row[1], row[2])
                    while pending is not None and pending[0] < key:  # writes of no checkpoint
                        pending = next(writes, None)
                    found: list[Any] = []
                    if pending is not None and pending[0] == key:
                        found = list(pending[1])
                        pending = next(writes, None)
                    yield _record(saver, key, row, found)
            finally:
                conn.rollback()

    def load_records(self, saver: Saver, records: Iterable[dict[str, Any]]) -> None:
        """Write export records as `put` and `put_writes` would, in one transaction. A checkpoint's
        msgpack document is put together from its values' bytes: no object is rebuilt."""
        assert isinstance(saver, SqliteSaver)
        conn = saver.conn
        with saver.lock, closing(conn.cursor()) as cur:
            cur.execute("BEGIN IMMEDIATE")
            try:
                for record in records:
                    _insert(cur, record)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def stats(self, saver: Saver, settings: Settings) -> Stats:
        assert isinstance(saver, SqliteSaver)
        with saver.cursor(transaction=False) as cur:
            threads, checkpoints = cur.execute(
                "SELECT count(DISTINCT thread_id), count(*) FROM checkpoints"
            ).fetchone()
            (pages,) = cur.execute("PRAGMA page_count").fetchone()
            (page_size,) = cur.execute("PRAGMA page_size").fetchone()
        return Stats(threads, checkpoints, pages * page_size)

    def threads(self, saver: Saver, limit: int | None) -> list[Thread]:
        assert isinstance(saver, SqliteSaver)
        with saver.cursor(transaction=False) as cur:
            rows = cur.execute(
                "SELECT thread_id, count(*), max(checkpoint_id) FROM checkpoints "
                "GROUP BY thread_id ORDER BY 3 DESC LIMIT ?",
                (-1 if limit is None else limit,),
            ).fetchall()
        return [Thread(*row) for row in rows]

    def write_counts(self, saver: Saver) -> dict[str, int] | None:
        """Only writes of a checkpoint that exists: an export holds no others."""
        assert isinstance(saver, SqliteSaver)
        with saver.cursor(transaction=False) as cur:
            rows = cur.execute(
                "SELECT w.thread_id, count(*) FROM writes w JOIN checkpoints c USING "
                "(thread_id, checkpoint_ns, checkpoint_id) GROUP BY w.thread_id"
            ).fetchall()
        return dict(rows)

    def delete_checkpoint(self, saver: Saver, target: CheckpointTuple) -> None:
        assert isinstance(saver, SqliteSaver)
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

    def delete_checkpoints(self, saver: Saver, plan: Plan) -> None:
        assert isinstance(saver, SqliteSaver)
        with saver.cursor() as cur:  # one transaction, committed on exit
            try:
                for statement, rows in _plan_statements(plan):
                    cur.executemany(statement, rows)
            except BaseException:
                saver.conn.rollback()
                raise

    def vacuum(self, saver: Saver) -> None:
        """Give the space of deleted rows back to the file system."""
        assert isinstance(saver, SqliteSaver)
        saver.conn.execute("VACUUM")


BACKEND = SqliteBackend()
