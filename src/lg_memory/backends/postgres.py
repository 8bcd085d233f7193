"""PostgreSQL through a psycopg connection pool. A namespace is a schema."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import orjson
import ormsgpack
import psycopg
from langgraph.checkpoint.base import (
    CheckpointTuple,
    get_serializable_checkpoint_metadata,
    writes_sort_key,
)
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.postgres.base import PRUNE_DELTA_THREADS_SQL
from langgraph.checkpoint.serde.jsonplus import EXT_DELTA_SNAPSHOT as SNAPSHOT
from psycopg import Cursor, sql
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import set_json_dumps, set_json_loads
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout

from .. import chains, transfer
from ..chains import Plan
from ..settings import DEFAULT_NAMESPACE, CheckpointError, Settings
from ..store import Stats, Thread, parent_id, saved_record
from ..threadops import AsyncThreadOps
from .base import Backend, BackendThreadOps, Saver, server_error

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
    """Why no connection came: one direct attempt tells a refused login from a dead server."""
    try:
        psycopg.connect(
            settings.connection_string, connect_timeout=max(1, int(settings.connect_timeout))
        ).close()
    except psycopg.OperationalError as exc:
        if found := re.search(r'authentication failed for user "([^"]*)"', str(exc)):
            return CheckpointError(
                f"authentication failed for user {found[1]} at {settings.redacted}: "
                "check the user and password in POSTGRES_URL"
            )
    return CheckpointError(
        f"connection failed: no PostgreSQL answered at {settings.redacted} "
        f"within {settings.connect_timeout:g} s (is the server running? is POSTGRES_URL right?)"
    )


# Export and import without decoding a single value (see ../transfer/values.py). The export
# streams the namespace in export order through the saver's own query; the import COPYs the rows
# `put` and `put_writes` would write, in one transaction.
_EXPORT_ORDER = (
    ' ORDER BY thread_id COLLATE "C", checkpoint_ns COLLATE "C", checkpoint_id COLLATE "C"'
)


def _record(saver: PostgresSaver, row: DictRow) -> dict[str, Any]:
    checkpoint = row["checkpoint"]
    key = (row["thread_id"], row["checkpoint_ns"], row["checkpoint_id"])
    if checkpoint.get("v", 4) < 4 and row["parent_checkpoint_id"]:
        # The saver rebuilds the pending sends of checkpoints older than format 4.
        return saved_record(saver, key)
    where = f"checkpoint {key[2]} of thread {key[0]!r}"
    # As the saver reads them: the values kept inline, then those of the blobs table.
    values = {
        ch: transfer.raw_typed(v) for ch, v in (checkpoint.get("channel_values") or {}).items()
    }
    for channel, kind, blob in row["channel_values"] or ():
        if kind != b"empty":
            values[channel.decode()] = transfer.stored(saver.serde, kind.decode(), blob, where)
    writes = [
        (task_id.decode(), channel.decode(), kind.decode(), blob, path.decode(), int(idx))
        for task_id, channel, kind, blob, path, idx in row["pending_writes"] or ()
    ]
    if len(writes) > 1:
        writes.sort(key=lambda w: writes_sort_key(w[4], w[0], w[5]))
    return transfer.make_record(
        key,
        row["parent_checkpoint_id"],
        checkpoint,
        values,
        lambda _, value: transfer.raw_typed(value),
        row["metadata"],
        # The saver does not return task paths: exported as "", as through its `list()`.
        ((w[0], w[1], transfer.stored(saver.serde, w[2], w[3], where), "") for w in writes),
    )


_TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")
_COLUMNS = {  # the columns `put` and `put_writes` fill, with their types
    "checkpoints": {
        "thread_id": "text", "checkpoint_ns": "text", "checkpoint_id": "text",
        "parent_checkpoint_id": "text", "checkpoint": "jsonb", "metadata": "jsonb",
    },
    "checkpoint_blobs": {
        "thread_id": "text", "checkpoint_ns": "text", "channel": "text", "version": "text",
        "type": "text", "blob": "bytea",
    },
    "checkpoint_writes": {
        "thread_id": "text", "checkpoint_ns": "text", "checkpoint_id": "text", "task_id": "text",
        "task_path": "text", "idx": "int4", "channel": "text", "type": "text", "blob": "bytea",
    },
}  # fmt: skip
_KEYS = {
    "checkpoints": "thread_id, checkpoint_ns, checkpoint_id",
    "checkpoint_blobs": "thread_id, checkpoint_ns, channel, version",
    "checkpoint_writes": "thread_id, checkpoint_ns, checkpoint_id, task_id, idx",
}
# Into a store that holds rows already, rows are staged, then merged as `put` and `put_writes`
# merge them: checkpoints replaced, blobs kept, regular writes kept, special ones (idx < 0)
# replaced.
_MERGE = {
    "checkpoints": [
        ("", "DO UPDATE SET checkpoint = EXCLUDED.checkpoint, metadata = EXCLUDED.metadata")
    ],
    "checkpoint_blobs": [("", "DO NOTHING")],
    "checkpoint_writes": [
        ("WHERE idx >= 0", "DO NOTHING"),
        ("WHERE idx < 0", "DO UPDATE SET channel = EXCLUDED.channel, type = EXCLUDED.type, "
         "blob = EXCLUDED.blob"),
    ],
}  # fmt: skip
BATCH = 2000  # checkpoints per round of COPY


# msgpack's first byte of a nil, bool, int, float or str: the values savers keep as plain JSON.
_PRIMITIVE_HEADS = frozenset(
    [*range(0x00, 0x80), *range(0xA0, 0xC1), 0xC2, 0xC3, *range(0xCA, 0xD4), *range(0xD9, 0xDC),
     *range(0xE0, 0x100)]
)  # fmt: skip
_EXT_CODE_AT = {0xD4: 1, 0xD5: 1, 0xD6: 1, 0xD7: 1, 0xD8: 1, 0xC7: 2, 0xC8: 3, 0xC9: 5}


def _split(
    values: dict[str, transfer.Typed],
) -> tuple[dict[str, Any], list[tuple[str, str, bytes]]]:
    """A checkpoint's channel values as `put` stores them: None, bools, ints, floats and strs
    inline in the checkpoint's jsonb, the others as (channel, type, bytes) for
    `checkpoint_blobs`. A DeltaChannel's snapshot also leaves the saver's marker inline."""
    inline: dict[str, Any] = {}
    blobs: list[tuple[str, str, bytes]] = []
    for channel, value in values.items():
        kind, data = transfer.value_bytes(value)
        if kind == "null":
            inline[channel] = None
            continue
        if kind == "msgpack" and data:
            if data[0] in _PRIMITIVE_HEADS:
                inline[channel] = ormsgpack.unpackb(data)
                continue
            # One object of some class: its extension code tells a snapshot.
            at = _EXT_CODE_AT.get(data[0])
            if at is not None and int.from_bytes(data[at : at + 1], signed=True) == SNAPSHOT:
                inline[channel] = True
        blobs.append((channel, kind, data))
    return inline, blobs


class _Rows:
    """The rows of a batch of records, per staging table."""

    def __init__(self) -> None:
        self.tables: dict[str, list[tuple[Any, ...]]] = {name: [] for name in _TABLES}
        self._thread: str | None = None
        self._stored: set[tuple[str, str, str]] = set()  # (ns, channel, version) of the thread

    def add(self, record: dict[str, Any]) -> None:
        thread_id, ns, checkpoint_id = (
            record["thread_id"], record["checkpoint_ns"], record["checkpoint_id"]
        )  # fmt: skip
        if thread_id != self._thread:
            self._thread = thread_id
            self._stored.clear()
        checkpoint = transfer.align_versions(record["checkpoint"], str)
        inline, blobs = _split(checkpoint["channel_values"])
        document = {
            k: v if k in transfer.JSON_FIELDS else _decoded(v)
            for k, v in checkpoint.items()
            if k != "channel_values"
        }
        document["channel_values"] = inline
        # As `put` with the versions the thread did not store yet: a blob per new version.
        versions, stored = checkpoint["channel_versions"], self._stored
        rows = self.tables["checkpoint_blobs"]
        for channel, kind, data in blobs:
            if (version := versions.get(channel)) is None or (ns, channel, version) in stored:
                continue
            stored.add((ns, channel, version))
            rows.append((thread_id, ns, channel, version, kind, data))
        metadata = get_serializable_checkpoint_metadata({}, record["metadata"])
        self.tables["checkpoints"].append(
            (thread_id, ns, checkpoint_id, record["parent_checkpoint_id"],
             _jsonb(document, record), _jsonb(metadata, record))
        )  # fmt: skip
        rows = self.tables["checkpoint_writes"]
        special: dict[tuple[str, int], tuple[Any, ...]] = {}
        for task_id, task_path, idx, channel, value in transfer.indexed_writes(record["writes"]):
            row = (thread_id, ns, checkpoint_id, task_id, task_path, idx, channel,
                   *transfer.value_bytes(value))  # fmt: skip
            if idx < 0:
                special[(task_id, idx)] = row  # replaced, as by `put_writes`: the last one wins
            else:
                rows.append(row)
        rows.extend(special.values())

    def batches(self, records: Iterable[dict[str, Any]]) -> Iterator[dict[str, list[Any]]]:
        """The rows of every `BATCH` records, then of the rest."""
        for n, record in enumerate(records, 1):
            self.add(record)
            if n % BATCH == 0:
                yield self.tables
                self.tables = {name: [] for name in _TABLES}
        yield self.tables


def _copy(cur: Cursor[Any], tables: dict[str, list[Any]], staged: bool) -> None:
    set_json_dumps(_as_is, cur)  # the rows hold JSON already written
    for table, columns in _COLUMNS.items():
        into = f"staged_{table}" if staged else table
        statement = f"COPY {into} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
        with cur.copy(statement) as copy:
            copy.set_types(list(columns.values()))
            for row in tables[table]:
                copy.write_row(row)
        if staged:
            names = ", ".join(columns)
            for where, action in _MERGE[table]:
                cur.execute(
                    f"INSERT INTO {table} ({names}) SELECT {names} FROM {into} {where} "
                    f"ON CONFLICT ({_KEYS[table]}) {action}"
                )
            cur.execute(f"TRUNCATE {into}")


def _decoded(value: list[str]) -> Any:
    """A checkpoint field outside the JSON ones (old `pending_sends`), as `put` would get it."""
    return PostgresSaver.serde.loads_typed(transfer.value_bytes(value))


def _jsonb(obj: Any, record: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(obj)
    except TypeError:
        try:
            return json.dumps(obj).encode()
        except (TypeError, ValueError) as exc:
            where = f"checkpoint {record['checkpoint_id']} of thread {record['thread_id']!r}"
            raise CheckpointError(f"{where}: cannot be stored as JSON ({exc})") from None


def _as_is(text: bytes) -> bytes:
    return text


def _plan_statements(plan: Plan) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """The statements (each with its rows) that delete what a plan says, in one transaction."""
    where = "thread_id = %s AND checkpoint_ns = %s"
    by_ns: dict[str, list[str]] = {}
    for ns, checkpoint_id in plan.keys:
        by_ns.setdefault(ns, []).append(checkpoint_id)
    doomed: list[tuple[Any, ...]] = [(plan.thread_id, ns, ids) for ns, ids in by_ns.items()]
    statements: list[tuple[str, list[tuple[Any, ...]]]] = [
        (f"UPDATE checkpoints SET parent_checkpoint_id = %s WHERE {where} AND checkpoint_id = %s",
         [(parent, plan.thread_id, *key) for key, parent in plan.parents.items()]),
        (f"DELETE FROM checkpoints WHERE {where} AND checkpoint_id = ANY(%s)", doomed),
        (f"DELETE FROM checkpoint_writes WHERE {where} AND checkpoint_id = ANY(%s)", doomed),
        # Channel values are shared between checkpoints: drop only those no one references.
        (f"DELETE FROM checkpoint_blobs b WHERE {where} AND NOT EXISTS ("
         "SELECT 1 FROM checkpoints c WHERE c.thread_id = b.thread_id "
         "AND c.checkpoint_ns = b.checkpoint_ns "
         "AND c.checkpoint -> 'channel_versions' ->> b.channel = b.version)",
         [(plan.thread_id, ns) for ns in by_ns]),
    ]  # fmt: skip
    return [(statement, rows) for statement, rows in statements if rows]


class LgPostgresSaver(BackendThreadOps, PostgresSaver):
    """PostgresSaver with copy_thread, DeltaChannel-safe prune, and delete_for_runs (see
    ../threadops.py)."""

    @classmethod
    def _lg_backend(cls) -> Backend:
        return BACKEND


class LgAsyncPostgresSaver(AsyncThreadOps[str], AsyncPostgresSaver):
    """AsyncPostgresSaver with the same, async (see ../threadops.py)."""

    async def _lg_adelete(self, plan: Plan) -> None:
        async with self._cursor() as cur, cur.connection.transaction():
            for statement, rows in _plan_statements(plan):
                await cur.executemany(statement, rows)


class PostgresBackend(Backend):
    name = "postgres"
    bulk_loads = True

    def describe_error(self, exc: BaseException) -> str | None:
        return server_error(exc, "psycopg", "psycopg_pool")

    @contextmanager
    def open_saver(self, settings: Settings) -> Iterator[PostgresSaver]:
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
            saver = LgPostgresSaver(pool)  # type: ignore[arg-type]  # pool of dict_row connections
            saver.setup()
            yield saver

    @asynccontextmanager
    async def aopen_saver(self, settings: Settings) -> AsyncIterator[AsyncPostgresSaver]:
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
            saver = LgAsyncPostgresSaver(pool)  # type: ignore[arg-type]
            await saver.setup()
            yield saver

    def threads(self, saver: Saver, limit: int | None) -> list[Thread]:
        assert isinstance(saver, PostgresSaver)
        with saver._cursor() as cur:
            cur.execute(
                "SELECT thread_id, count(*) AS n, max(checkpoint_id) AS latest FROM checkpoints "
                "GROUP BY thread_id ORDER BY latest DESC LIMIT %s",
                (limit,),
            )
            return [Thread(r["thread_id"], r["n"], r["latest"]) for r in cur.fetchall()]

    def write_counts(self, saver: Saver) -> dict[str, int] | None:
        """Only writes of a checkpoint that exists: an export holds no others."""
        assert isinstance(saver, PostgresSaver)
        with saver._cursor() as cur:
            cur.execute(
                "SELECT w.thread_id, count(*) AS n FROM checkpoint_writes w JOIN checkpoints c "
                "USING (thread_id, checkpoint_ns, checkpoint_id) GROUP BY w.thread_id"
            )
            return {r["thread_id"]: r["n"] for r in cur.fetchall()}

    def delete_checkpoint(self, saver: Saver, target: CheckpointTuple) -> None:
        assert isinstance(saver, PostgresSaver)
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

    def chain(self, saver: Saver, thread_id: str) -> chains.Chain:
        """Read from the checkpoints' ids alone (no value decoded) unless the thread uses a
        DeltaChannel, as the saver's own `prune` tells."""
        assert isinstance(saver, PostgresSaver)
        with saver._cursor() as cur:
            cur.execute(PRUNE_DELTA_THREADS_SQL, ([thread_id], [thread_id]))
            if not cur.fetchall():
                cur.execute(
                    "SELECT checkpoint_ns, checkpoint_id, parent_checkpoint_id FROM checkpoints "
                    "WHERE thread_id = %s",
                    (thread_id,),
                )
                return chains.Chain(
                    thread_id,
                    (chains.Node(r["checkpoint_ns"], r["checkpoint_id"],
                                 r["parent_checkpoint_id"]) for r in cur.fetchall()),
                )  # fmt: skip
        return super().chain(saver, thread_id)

    def delete_checkpoints(self, saver: Saver, plan: Plan) -> None:
        """In one transaction."""
        assert isinstance(saver, PostgresSaver)
        with saver._cursor() as cur, cur.connection.transaction():
            for statement, rows in _plan_statements(plan):
                cur.executemany(statement, rows)

    def records(self, saver: Saver, thread_id: str | None) -> Generator[dict[str, Any]]:
        """The export records of the namespace (or of one thread), in export order."""
        assert isinstance(saver, PostgresSaver)
        where, args = ("WHERE thread_id = %s", (thread_id,)) if thread_id is not None else ("", ())
        pool = saver.conn
        assert isinstance(pool, ConnectionPool)
        with pool.connection() as conn, conn.cursor(binary=True) as cur:
            set_json_loads(orjson.loads, cur)
            for row in cur.stream(saver.SELECT_SQL + where + _EXPORT_ORDER, args, size=500):
                yield _record(saver, row)

    def load_records(self, saver: Saver, records: Iterable[dict[str, Any]]) -> None:
        """Write export records as `put` and `put_writes` would, in one transaction."""
        assert isinstance(saver, PostgresSaver)
        pool = saver.conn
        assert isinstance(pool, ConnectionPool)
        with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            # Writers wait until the import commits; readers don't.
            cur.execute(f"LOCK TABLE {', '.join(_TABLES)} IN SHARE ROW EXCLUSIVE MODE")
            cur.execute(
                "SELECT " + " OR ".join(f"EXISTS (SELECT FROM {t})" for t in _TABLES) + " AS used"
            )
            staged = bool((cur.fetchone() or {}).get("used"))
            if staged:
                for table in _TABLES:
                    columns = ", ".join(f"{c} {t}" for c, t in _COLUMNS[table].items())
                    cur.execute(f"CREATE TEMP TABLE staged_{table} ({columns}) ON COMMIT DROP")
            # The server stores one batch while the next one is prepared.
            with ThreadPoolExecutor(max_workers=1) as copier:
                stored: Future[None] | None = None
                for batch in _Rows().batches(records):
                    if stored is not None:
                        stored.result()
                    stored = copier.submit(_copy, cur, batch, staged)
                if stored is not None:
                    stored.result()

    def stats(self, saver: Saver, settings: Settings) -> Stats:
        assert isinstance(saver, PostgresSaver)
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


BACKEND = PostgresBackend()
