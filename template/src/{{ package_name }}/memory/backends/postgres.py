"""PostgreSQL through a psycopg connection pool. A namespace is a schema."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from langgraph.checkpoint.base import CheckpointTuple
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg import Connection, Cursor, Pipeline, sql
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout

from ..settings import DEFAULT_NAMESPACE, CheckpointError, Settings
from ..store import Stats, Thread, parent_id

MAX_CONNECTIONS = 10


def connection_kwargs(settings: Settings) -> dict[str, Any]:
    """What PostgresSaver requires of every connection, plus the namespace's schema."""
    kwargs: dict[str, Any] = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    if settings.namespace != DEFAULT_NAMESPACE:
        kwargs["options"] = f"-c search_path={settings.namespace}"
    return kwargs


def _create_schema(settings: Settings) -> sql.Composed | None:
    if settings.namespace == DEFAULT_NAMESPACE:
        return None
    return sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(settings.namespace))


def _unreachable(settings: Settings) -> CheckpointError:
    return CheckpointError(
        f"connection failed: no PostgreSQL answered at {settings.redacted} "
        f"within {settings.connect_timeout:g} s (is the server running? is POSTGRES_URL right?)"
    )


@contextmanager
def open_saver(settings: Settings) -> Iterator[PostgresSaver]:
    pool = ConnectionPool(
        settings.connection_string,
        max_size=MAX_CONNECTIONS,
        kwargs=connection_kwargs(settings),
        open=False,
    )
    try:
        pool.open(wait=True, timeout=settings.connect_timeout)
    except PoolTimeout:
        pool.close()
        raise _unreachable(settings) from None
    with pool:
        if (create := _create_schema(settings)) is not None:
            with pool.connection() as conn:
                conn.execute(create)
        saver = PostgresSaver(pool)  # type: ignore[arg-type]  # pool of dict_row connections
        saver.setup()
        yield saver


@asynccontextmanager
async def aopen_saver(settings: Settings) -> AsyncIterator[AsyncPostgresSaver]:
    pool = AsyncConnectionPool(
        settings.connection_string,
        max_size=MAX_CONNECTIONS,
        kwargs=connection_kwargs(settings),
        open=False,
    )
    try:
        await pool.open(wait=True, timeout=settings.connect_timeout)
    except PoolTimeout:
        await pool.close()
        raise _unreachable(settings) from None
    async with pool:
        if (create := _create_schema(settings)) is not None:
            async with pool.connection() as conn:
                await conn.execute(create)
        saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
        await saver.setup()
        yield saver


class _PipelinedSaver(PostgresSaver):
    """For imports: queues statements in the pipeline instead of waiting for each result.

    Only writes go through it (`put`, `put_writes`); a failure surfaces at the next sync and
    aborts the import's transaction.
    """

    SYNC_EVERY = 500

    def __init__(self, conn: Connection[DictRow], pipe: Pipeline, serde: Any) -> None:
        super().__init__(conn, pipe, serde=serde)
        self._queued = 0

    @contextmanager
    def _cursor(self, *, pipeline: bool = False) -> Iterator[Cursor[DictRow]]:
        assert self.pipe is not None
        with self.conn.cursor(binary=True, row_factory=dict_row) as cur:  # type: ignore[union-attr]
            yield cur
        self._queued += 1
        if self._queued % self.SYNC_EVERY == 0:
            self.pipe.sync()


@contextmanager
def bulk_writer(saver: PostgresSaver) -> Iterator[PostgresSaver]:
    """For imports: one connection, pipelined, in one transaction (all or nothing)."""
    pool = saver.conn
    assert isinstance(pool, ConnectionPool)
    with pool.connection() as conn, conn.transaction(), conn.pipeline() as pipe:
        yield _PipelinedSaver(conn, pipe, saver.serde)


# Native queries for `lg-memory` (see ../store.py): counts without loading checkpoints.
def stats(saver: PostgresSaver, settings: Settings) -> Stats:
    with saver._cursor() as cur:
        cur.execute(
            "SELECT count(DISTINCT thread_id) AS threads, count(*) AS checkpoints, "
            "(SELECT sum(pg_total_relation_size(to_regclass(t))) FROM unnest("
            "ARRAY['checkpoints', 'checkpoint_blobs', 'checkpoint_writes']) AS t) AS size "
            "FROM checkpoints"
        )
        row = cur.fetchone()
    assert row is not None
    return Stats(row["threads"], row["checkpoints"], int(row["size"] or 0))


def threads(saver: PostgresSaver, limit: int | None) -> list[Thread]:
    with saver._cursor() as cur:
        cur.execute(
            "SELECT thread_id, count(*) AS n, max(checkpoint_id) AS latest FROM checkpoints "
            "GROUP BY thread_id ORDER BY latest DESC LIMIT %s",
            (limit,),
        )
        return [Thread(r["thread_id"], r["n"], r["latest"]) for r in cur.fetchall()]


def delete_checkpoint(saver: PostgresSaver, target: CheckpointTuple) -> None:
    c = target.config["configurable"]
    key = (c["thread_id"], c["checkpoint_ns"], c["checkpoint_id"])
    parent = parent_id(target)
    where = "thread_id = %s AND checkpoint_ns = %s"
    with saver._cursor(pipeline=True) as cur:
        cur.execute(
            f"UPDATE checkpoints SET parent_checkpoint_id = %s "
            f"WHERE {where} AND parent_checkpoint_id = %s",
            (parent, *key),
        )
        cur.execute(f"DELETE FROM checkpoints WHERE {where} AND checkpoint_id = %s", key)
        cur.execute(f"DELETE FROM checkpoint_writes WHERE {where} AND checkpoint_id = %s", key)
        # Channel values are shared between checkpoints: drop only those no one references.
        cur.execute(
            f"DELETE FROM checkpoint_blobs b WHERE {where} AND NOT EXISTS ("
            "SELECT 1 FROM checkpoints c WHERE c.thread_id = b.thread_id "
            "AND c.checkpoint_ns = b.checkpoint_ns "
            "AND c.checkpoint -> 'channel_versions' ->> b.channel = b.version)",
            key[:2],
        )


def keep_last(saver: PostgresSaver, thread_id: str, keep: int) -> None:
    """Keep the newest `keep` checkpoints of each namespace of the thread, in one transaction."""
    if keep == 1:
        saver.prune([thread_id], strategy="keep_latest")  # the saver's own
        return
    with saver._cursor() as cur, cur.connection.transaction():
        cur.execute(
            "DELETE FROM checkpoints c USING ("
            "  SELECT checkpoint_ns, checkpoint_id, row_number() OVER ("
            "    PARTITION BY checkpoint_ns ORDER BY checkpoint_id DESC) AS n"
            "  FROM checkpoints WHERE thread_id = %(t)s) old "
            "WHERE old.n > %(keep)s AND c.thread_id = %(t)s "
            "AND c.checkpoint_ns = old.checkpoint_ns AND c.checkpoint_id = old.checkpoint_id",
            {"t": thread_id, "keep": keep},
        )
        gone = (
            "NOT EXISTS (SELECT 1 FROM checkpoints k WHERE k.thread_id = %(t)s "
            "AND k.checkpoint_ns = {0}.checkpoint_ns AND k.checkpoint_id = {0}.{1})"
        )
        cur.execute(
            "UPDATE checkpoints c SET parent_checkpoint_id = NULL WHERE c.thread_id = %(t)s "
            "AND c.parent_checkpoint_id IS NOT NULL AND "
            + gone.format("c", "parent_checkpoint_id"),
            {"t": thread_id},
        )
        cur.execute(
            "DELETE FROM checkpoint_writes w WHERE w.thread_id = %(t)s AND "
            + gone.format("w", "checkpoint_id"),
            {"t": thread_id},
        )
        cur.execute(
            "DELETE FROM checkpoint_blobs b WHERE b.thread_id = %(t)s AND NOT EXISTS ("
            "SELECT 1 FROM checkpoints c WHERE c.thread_id = b.thread_id "
            "AND c.checkpoint_ns = b.checkpoint_ns "
            "AND c.checkpoint -> 'channel_versions' ->> b.channel = b.version)",
            {"t": thread_id},
        )
