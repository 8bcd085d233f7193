"""Redis with RediSearch and RedisJSON. A namespace is a key prefix (and its own indexes)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import urlsplit

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    PendingWrite,
)
from langgraph.checkpoint.redis import AsyncRedisSaver, RedisSaver
from langgraph.checkpoint.redis.base import BaseRedisSaver
from langgraph.checkpoint.redis.util import (
    from_storage_safe_id,
    from_storage_safe_str,
    to_storage_safe_id,
    to_storage_safe_str,
)
from redis.exceptions import AuthenticationError, ConnectionError, ResponseError
from redisvl.exceptions import RedisSearchError
from redisvl.utils.token_escaper import TokenEscaper

from .. import chains
from ..chains import Key, Plan
from ..settings import DEFAULT_NAMESPACE, CheckpointError, Settings
from ..store import Stats, Thread, checkpoint_config, parent_id
from ..threadops import AsyncThreadOps
from .base import Backend, BackendThreadOps, Saver, server_error

_escape = TokenEscaper().escape


def saver_kwargs(settings: Settings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if settings.ttl:
        # The saver counts TTL in minutes; refresh_on_read keeps threads in use alive,
        # so a thread expires `ttl` seconds after it was last touched.
        kwargs["ttl"] = {"default_ttl": settings.ttl / 60, "refresh_on_read": True}
    if settings.namespace != DEFAULT_NAMESPACE:
        kwargs["checkpoint_prefix"] = f"ns:{settings.namespace}:checkpoint"
        kwargs["checkpoint_write_prefix"] = f"ns:{settings.namespace}:checkpoint_write"
    return kwargs


def _setup_failed(settings: Settings, exc: Exception) -> CheckpointError:
    text = str(exc)
    if isinstance(exc, AuthenticationError) or "WRONGPASS" in text or "NOAUTH" in text:
        user = urlsplit(settings.connection_string).username or "default"
        return CheckpointError(
            f"authentication failed for user {user} at {settings.redacted}: "
            "check the user and password in REDIS_URL"
        )
    if isinstance(exc, ResponseError) or "unknown command" in text.lower():
        return CheckpointError(
            f"Redis at {settings.redacted} lacks RediSearch/RedisJSON ({exc}): "
            "use Redis Stack or Redis 8 with its modules"
        )
    return CheckpointError(
        f"connection failed: no Redis answered at {settings.redacted} "
        "(is the server running? is REDIS_URL right?)"
    )


_FAILURES = (ConnectionError, ResponseError, RedisSearchError)


# Native queries for `lg-memory` (see ../store.py). RedisSaver.list() stops at 10,000
# results and ignores `before`, so these walk the search index with a cursor instead.
def _aggregate(
    saver: RedisSaver, *args: str | int, index: str | None = None
) -> Iterator[dict[str, str]]:
    """FT.AGGREGATE over the checkpoints index (or `index`), every row, through a cursor."""
    client: Any = saver._redis  # redis-py's command methods are untyped
    index = index or saver._checkpoint_prefix
    reply = client.execute_command("FT.AGGREGATE", index, *args, "WITHCURSOR", "COUNT", 1000)
    while True:
        rows, cursor = reply
        for row in rows[1:]:
            yield {_text(row[i]): _text(row[i + 1]) for i in range(0, len(row), 2)}
        if not cursor:
            return
        reply = client.execute_command("FT.CURSOR", "READ", index, cursor)


async def _aaggregate(client: Any, index: str, *args: str | int) -> AsyncIterator[dict[str, str]]:
    """`_aggregate` on an async client."""
    reply = await client.execute_command("FT.AGGREGATE", index, *args, "WITHCURSOR", "COUNT", 1000)
    while True:
        rows, cursor = reply
        for row in rows[1:]:
            yield {_text(row[i]): _text(row[i + 1]) for i in range(0, len(row), 2)}
        if not cursor:
            return
        reply = await client.execute_command("FT.CURSOR", "READ", index, cursor)


_RUN_FIELDS = ("LOAD", 4, "@run_id", "@thread_id", "@checkpoint_ns", "@checkpoint_id")


def _run_query(run_id: str) -> str:
    return f"@run_id:{{{_escape(to_storage_safe_id(run_id))}}}"


def _runs_found(run_ids: Sequence[str], rows: Iterable[dict[str, str]]) -> dict[str, set[Key]]:
    """The checkpoints of those runs, by thread, from index rows (the saver keeps a
    checkpoint's run id beside its metadata, where it may not be)."""
    wanted = {to_storage_safe_id(str(r)) for r in run_ids}
    found: dict[str, set[Key]] = {}
    for row in rows:
        if row.get("run_id") in wanted:
            key = (from_storage_safe_str(row["checkpoint_ns"]),
                   from_storage_safe_id(row["checkpoint_id"]))  # fmt: skip
            found.setdefault(from_storage_safe_id(row["thread_id"]), set()).add(key)
    return found


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


_LIST_LIMIT = 10_000  # what RedisSaver.list() returns at most


def _thread_query(thread_id: str) -> str:
    """A query for the documents of a thread, and perhaps of others: the index matches a tag
    case-insensitively, trimmed, and splits it at commas (`Alice` finds `alice`, `a,b` is the
    tags `a` and `b`). The saver's own thread queries have these flaws: `_rows` has not."""
    pipe = "\\|"  # a tag query's OR, which the escaper leaves as it is
    parts = (part.strip() for part in to_storage_safe_id(thread_id).split(","))
    terms = [f"@thread_id:{{{_escape(part).replace('|', pipe)}}}" for part in parts if part]
    return " ".join(terms) or "*"


def _rows(
    saver: RedisSaver, thread_id: str, *fields: str, where: str = "", index: str | None = None
) -> Iterator[dict[str, str]]:
    """The documents of the thread `thread_id` (and none of another), matching the query
    `where`: their `fields` (LOAD arguments), and their storage-safe `thread_id`."""
    query = f"{_thread_query(thread_id)} {where}".strip()
    safe = to_storage_safe_id(thread_id)
    rows = _aggregate(saver, query, "LOAD", len(fields) + 1, "@thread_id", *fields, index=index)
    return (row for row in rows if row.get("thread_id") == safe)


def _keys(saver: RedisSaver, thread_id: str) -> list[tuple[str, str]]:
    """(checkpoint_ns, checkpoint_id) of every checkpoint of the thread, in export order."""
    rows = _rows(saver, thread_id, "@checkpoint_ns", "@checkpoint_id")
    return sorted(
        (from_storage_safe_str(r["checkpoint_ns"]), from_storage_safe_id(r["checkpoint_id"]))
        for r in rows
    )


def _delete(saver: RedisSaver, thread_id: str, doomed: dict[tuple[str, str], str]) -> None:
    """Delete checkpoints of a thread (storage-safe (checkpoint_ns, checkpoint_id) -> key),
    with their writes and the saver's registry of those."""
    tid = to_storage_safe_id(thread_id)
    keys = list(doomed.values())
    keys += [f"write_keys_zset:{tid}:{ns}:{checkpoint_id}" for ns, checkpoint_id in doomed]
    writes = _rows(saver, thread_id, "@checkpoint_ns", "@checkpoint_id", "@__key",
                   index=saver._checkpoint_write_prefix)  # fmt: skip
    keys += [w["__key"] for w in writes if (w["checkpoint_ns"], w["checkpoint_id"]) in doomed]
    client: Any = saver._redis
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])


def _writes(saver: RedisSaver, thread_id: str) -> dict[tuple[str, str], list[PendingWrite]]:
    """The pending writes of a thread, by (checkpoint_ns, checkpoint_id), decoded as the saver
    decodes them."""
    rows = _rows(
        saver, thread_id,
        "@checkpoint_ns", "@checkpoint_id", "@task_id", "@idx", "@channel", "@type",
        "$.blob", "AS", "blob",
        index=saver._checkpoint_write_prefix,
    )  # fmt: skip
    found: dict[tuple[str, str], dict[tuple[str, str], dict[str, Any]]] = {}
    for row in rows:
        key = (
            from_storage_safe_str(row["checkpoint_ns"]),
            from_storage_safe_id(row["checkpoint_id"]),
        )
        found.setdefault(key, {})[(row["task_id"], row["idx"])] = row
    return {
        key: BaseRedisSaver._load_writes(saver.serde, dict(sorted(by_task.items(), key=_by_idx)))
        for key, by_task in found.items()
    }


def _by_idx(item: tuple[tuple[str, str], Any]) -> tuple[str, int]:
    task_id, idx = item[0]
    return task_id, int(idx)


def _marks_delta(metadata: str) -> bool:
    return chains.COUNTERS in metadata or chains.JS_MARKER in metadata


def _node(row: dict[str, str]) -> chains.Node:
    return chains.Node(
        from_storage_safe_str(row["checkpoint_ns"]),
        from_storage_safe_id(row["checkpoint_id"]),
        from_storage_safe_id(row.get("parent_checkpoint_id") or "") or None,
    )


def _plan_keys(
    prefix: str, plan: Plan
) -> tuple[dict[tuple[str, str], str], dict[str, str], dict[str, str | None]]:
    """The keys a plan touches: its checkpoints' (storage-safe (ns, id) -> key), the children's
    (key -> new parent), and the latest pointers of the namespaces whose newest goes (pointer
    -> key of the newest remaining, or None)."""
    tid = to_storage_safe_id(plan.thread_id)

    def key(ns: str, checkpoint_id: str) -> str:
        return f"{prefix}:{tid}:{to_storage_safe_str(ns)}:{to_storage_safe_id(checkpoint_id)}"

    doomed = {
        (to_storage_safe_str(n.ns), to_storage_safe_id(n.id)): key(n.ns, n.id) for n in plan.doomed
    }
    parents = {
        key(*child): to_storage_safe_id(parent) if parent else ""
        for child, parent in plan.parents.items()
    }
    latest = {
        f"{prefix}_latest:{tid}:{to_storage_safe_str(ns)}": key(ns, newest) if newest else None
        for ns, newest in plan.latest.items()
    }
    return doomed, parents, latest


def _revived(saver: BaseRedisSaver[Any, Any], t: CheckpointTuple) -> CheckpointTuple:
    """The tuple with its DeltaChannel snapshots rebuilt: the saver's `list()` leaves them as
    the JSON it stores them as (`get_tuple` does not), so a graph's history read a dict there."""
    values = t.checkpoint["channel_values"]
    raw = {k: v for k, v in values.items() if isinstance(v, dict) and v.get(_SNAPSHOT) is True}
    if not raw:
        return t
    revived = {**values, **saver._deserialize_channel_values(raw)}
    return t._replace(checkpoint={**t.checkpoint, "channel_values": revived})


_SNAPSHOT = "__delta_snapshot__"  # the saver's JSON for a DeltaChannel snapshot


def _written_keys(prefix: str, stored: RunnableConfig) -> tuple[str, str]:
    """(key of a checkpoint, key of the saver's registry of its writes)."""
    c = stored["configurable"]
    tid = to_storage_safe_id(c["thread_id"])
    ns = to_storage_safe_str(c.get("checkpoint_ns", ""))
    checkpoint_id = to_storage_safe_id(c["checkpoint_id"])
    return f"{prefix}:{tid}:{ns}:{checkpoint_id}", f"write_keys_zset:{tid}:{ns}:{checkpoint_id}"


class LgRedisSaver(BackendThreadOps, RedisSaver):
    """RedisSaver with copy_thread, DeltaChannel-safe prune, and delete_for_runs (see
    ../threadops.py); `put` and `put_writes` that keep a checkpoint's pending writes visible;
    and a `list` that rebuilds DeltaChannel snapshots (see `_revived`).

    A run saves a step's writes in the background, where they can land before their
    checkpoint's own `put`, which then resets the checkpoint's `has_writes` flag (and the saver
    registers writes only after flagging their checkpoint). `get_tuple` then skips those
    writes, and a DeltaChannel replaying them rebuilds a shorter value (4 turns read back 7
    items of 8). Each of the two sets the flag again once both are stored.
    """

    @classmethod
    def _lg_backend(cls) -> Backend:
        return BACKEND

    def _lg_runs(self, run_ids: Sequence[str]) -> dict[str, set[Key]]:
        rows = (row for r in run_ids for row in _aggregate(self, _run_query(r), *_RUN_FIELDS))
        return _runs_found(run_ids, rows)

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        for t in super().list(config, filter=filter, before=before, limit=limit):
            yield _revived(self, t)

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        stored = super().put(config, checkpoint, metadata, new_versions)
        key, registry = _written_keys(self._checkpoint_prefix, stored)
        client: Any = self._redis
        if client.exists(registry):  # writes came first
            client.json().set(key, "$.has_writes", True)
        return stored

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        super().put_writes(config, writes, task_id, task_path)
        key, _ = _written_keys(self._checkpoint_prefix, config)
        client: Any = self._redis
        # The saver registers the writes after flagging the checkpoint: a `put` in between
        # reset the flag and did not see them yet.
        if writes and client.exists(key):
            client.json().set(key, "$.has_writes", True)

    def prune(
        self,
        thread_ids: Sequence[str],
        *,
        strategy: str = "keep_latest",
        keep_last: int | None = None,
        max_results: int = 10000,
    ) -> None:
        """DeltaChannel-safe (see ../threadops.py); `max_results` is not needed (every
        checkpoint of a thread is read) and ignored."""
        super().prune(thread_ids, strategy=strategy, keep_last=keep_last)


class LgAsyncRedisSaver(AsyncThreadOps[str], AsyncRedisSaver):
    """AsyncRedisSaver with the same, async."""

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
        stream_mode: str = "values",
    ) -> RunnableConfig:
        stored = await super().aput(config, checkpoint, metadata, new_versions, stream_mode)
        key, registry = _written_keys(self._checkpoint_prefix, stored)
        client: Any = self._redis
        if await client.exists(registry):  # writes came first
            await client.json().set(key, "$.has_writes", True)
        return stored

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await super().aput_writes(config, writes, task_id, task_path)
        key, _ = _written_keys(self._checkpoint_prefix, config)
        client: Any = self._redis
        if writes and await client.exists(key):  # see LgRedisSaver.put_writes
            await client.json().set(key, "$.has_writes", True)

    async def aprune(
        self,
        thread_ids: Sequence[str],
        *,
        strategy: str = "keep_latest",
        keep_last: int | None = None,
        max_results: int = 10000,
    ) -> None:
        """DeltaChannel-safe (see ../threadops.py); `max_results` is ignored."""
        await super().aprune(thread_ids, strategy=strategy, keep_last=keep_last)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        async for t in super().alist(config, filter=filter, before=before, limit=limit):
            yield _revived(self, t)

    async def _lg_aruns(self, run_ids: Sequence[str]) -> dict[str, set[Key]]:
        client: Any = self._redis
        index = self._checkpoint_prefix
        rows = [
            row
            for r in run_ids
            async for row in _aaggregate(client, index, _run_query(r), *_RUN_FIELDS)
        ]
        return _runs_found(run_ids, rows)

    async def _lg_adelete(self, plan: Plan) -> None:
        client: Any = self._redis
        doomed, parents, latest = _plan_keys(self._checkpoint_prefix, plan)
        for key, parent in parents.items():
            await client.json().set(key, "$.parent_checkpoint_id", parent)
        for pointer, newest in latest.items():
            if _text(await client.get(pointer) or b"") in doomed.values():
                await (client.set(pointer, newest) if newest else client.delete(pointer))
        tid = to_storage_safe_id(plan.thread_id)
        keys = list(doomed.values())
        keys += [f"write_keys_zset:{tid}:{ns}:{checkpoint_id}" for ns, checkpoint_id in doomed]
        fields = ("LOAD", 4, "@thread_id", "@checkpoint_ns", "@checkpoint_id", "@__key")
        index = self._checkpoint_write_prefix
        async for row in _aaggregate(client, index, _thread_query(plan.thread_id), *fields):
            if (
                row.get("thread_id") == tid
                and (row["checkpoint_ns"], row["checkpoint_id"]) in doomed
            ):
                keys.append(row["__key"])
        for start in range(0, len(keys), 1000):
            await client.delete(*keys[start : start + 1000])


class RedisBackend(Backend):
    name = "redis"

    def describe_error(self, exc: BaseException) -> str | None:
        return server_error(exc, "redis", "redisvl")

    @contextmanager
    def open_saver(self, settings: Settings) -> Iterator[RedisSaver]:
        with ExitStack() as stack:
            try:
                saver = stack.enter_context(
                    LgRedisSaver.from_conn_string(
                        settings.connection_string, **saver_kwargs(settings)
                    )
                )
                saver.setup()
            except _FAILURES as exc:
                raise _setup_failed(settings, exc) from None
            yield saver

    @asynccontextmanager
    async def aopen_saver(self, settings: Settings) -> AsyncIterator[AsyncRedisSaver]:
        async with AsyncExitStack() as stack:
            try:
                saver = await stack.enter_async_context(
                    LgAsyncRedisSaver.from_conn_string(
                        settings.connection_string, **saver_kwargs(settings)
                    )
                )
                await saver.asetup()
            except _FAILURES as exc:
                raise _setup_failed(settings, exc) from None
            yield saver

    def stats(self, saver: Saver, settings: Settings) -> Stats:
        assert isinstance(saver, RedisSaver)
        client: Any = saver._redis
        info = client.ft(saver._checkpoint_prefix).info()
        threads = sum(1 for _ in _aggregate(saver, "*", "GROUPBY", 1, "@thread_id"))
        size = 0
        pipe = client.pipeline(transaction=False)
        for prefix in (saver._checkpoint_prefix, saver._checkpoint_write_prefix):
            for n, key in enumerate(client.scan_iter(match=f"{prefix}:*", count=1000), 1):
                pipe.memory_usage(key)
                if n % 1000 == 0:  # a thousand at a time: memory stays flat
                    size += sum(used or 0 for used in pipe.execute())
            size += sum(used or 0 for used in pipe.execute())
        return Stats(threads, int(info["num_docs"]), size)

    def threads(self, saver: Saver, limit: int | None) -> list[Thread]:
        assert isinstance(saver, RedisSaver)
        # The newest checkpoint id, as the other backends date a thread (`checkpoint_ts`, the
        # time of the put, comes back rounded to 10 ms). Sorted here: FT.AGGREGATE's SORTBY
        # keeps only 10 rows unless told a MAX.
        rows = _aggregate(
            saver, "*", "GROUPBY", 1, "@thread_id", "REDUCE", "COUNT", 0, "AS", "n",
            "REDUCE", "FIRST_VALUE", 4, "@checkpoint_id", "BY", "@checkpoint_id", "DESC",
            "AS", "latest",
        )  # fmt: skip
        found = [
            Thread(from_storage_safe_id(r["thread_id"]), int(r["n"]),
                   from_storage_safe_id(r["latest"]))
            for r in rows
        ]  # fmt: skip
        found.sort(key=lambda t: t.latest_id, reverse=True)
        return found[:limit] if limit is not None else found

    def tuples(self, saver: Saver, thread_id: str | None = None) -> Iterator[CheckpointTuple]:
        """Every checkpoint, ordered by (thread_id, checkpoint_ns, checkpoint_id).

        A thread is read with one `list()` call, which loads its checkpoints in a few round
        trips, or checkpoint by checkpoint when it holds more than `list()` returns. Its pending
        writes are read apart, for the whole thread: the saver attaches a checkpoint's writes only
        if its `has_writes` flag is set, and the checkpoint's own `put` can unset it after the
        writes were saved (a subgraph's, say).
        """
        assert isinstance(saver, RedisSaver)
        ids = (
            [thread_id]
            if thread_id is not None
            else sorted(t.thread_id for t in self.threads(saver, None))
        )
        for tid in ids:
            keys = _keys(saver, tid)
            listed: dict[tuple[str, str], CheckpointTuple] = {}
            if len(keys) < _LIST_LIMIT:
                # It may list other threads too, or miss this one (see `_thread_query`).
                listed = {
                    (t.config["configurable"]["checkpoint_ns"], t.checkpoint["id"]): t
                    for t in saver.list({"configurable": {"thread_id": tid}}, limit=_LIST_LIMIT)
                    if t.config["configurable"]["thread_id"] == tid
                }
            writes = _writes(saver, tid)
            for key in keys:
                tup = listed.get(key) or saver.get_tuple(checkpoint_config(tid, *key))
                if tup is not None:
                    yield tup._replace(pending_writes=writes.get(key, []))

    def history(
        self, saver: Saver, thread_id: str, limit: int | None = None
    ) -> Iterator[CheckpointTuple]:
        """Read checkpoint by checkpoint: the saver's `list()` of a thread may hold other
        threads, or miss this one (see `_thread_query`), and stops at 10,000."""
        assert isinstance(saver, RedisSaver)
        newest = sorted(_keys(saver, thread_id), key=lambda key: key[1], reverse=True)
        for key in newest[:limit]:
            tup = saver.get_tuple(checkpoint_config(thread_id, *key))
            if tup is not None:
                yield tup

    def delete_thread(self, saver: Saver, thread_id: str) -> None:
        """Not the saver's: it deletes at most 10,000 checkpoints, and misses those of some
        thread ids (see `_thread_query`)."""
        assert isinstance(saver, RedisSaver)
        tid = to_storage_safe_id(thread_id)
        rows = list(_rows(saver, thread_id, "@checkpoint_ns", "@checkpoint_id", "@__key"))
        _delete(
            saver, thread_id, {(r["checkpoint_ns"], r["checkpoint_id"]): r["__key"] for r in rows}
        )
        latest = {f"{saver._checkpoint_prefix}_latest:{tid}:{r['checkpoint_ns']}" for r in rows}
        writes = _rows(saver, thread_id, "@__key", index=saver._checkpoint_write_prefix)
        leftovers = [*latest, *(w["__key"] for w in writes)]  # writes of no checkpoint
        client: Any = saver._redis
        for start in range(0, len(leftovers), 1000):
            client.delete(*leftovers[start : start + 1000])

    def chain(self, saver: Saver, thread_id: str) -> chains.Chain:
        """From the index alone (no checkpoint read) unless the thread uses a DeltaChannel: then
        its checkpoints' metadata says so (a checkpoint that replays one lists it in its
        `counters_since_delta_snapshot`)."""
        assert isinstance(saver, RedisSaver)
        fields = ("@checkpoint_ns", "@checkpoint_id", "@parent_checkpoint_id",
                  "$.metadata", "AS", "metadata")  # fmt: skip
        rows = list(_rows(saver, thread_id, *fields))
        if any(_marks_delta(row.get("metadata", "")) for row in rows):
            return super().chain(saver, thread_id)
        return chains.Chain(thread_id, map(_node, rows))

    def delete_checkpoints(self, saver: Saver, plan: Plan) -> None:
        """Not one by one: the children of a deleted checkpoint, and each namespace's pointer
        to its latest checkpoint, are set once."""
        assert isinstance(saver, RedisSaver)
        client: Any = saver._redis
        doomed, parents, latest = _plan_keys(saver._checkpoint_prefix, plan)
        for key, parent in parents.items():
            client.json().set(key, "$.parent_checkpoint_id", parent)
        for pointer, newest in latest.items():
            if _text(client.get(pointer) or b"") in doomed.values():
                client.set(pointer, newest) if newest else client.delete(pointer)
        _delete(saver, plan.thread_id, doomed)

    def delete_checkpoint(self, saver: Saver, target: CheckpointTuple) -> None:
        assert isinstance(saver, RedisSaver)
        c = target.config["configurable"]
        tid, ns = to_storage_safe_id(c["thread_id"]), to_storage_safe_str(c["checkpoint_ns"])
        checkpoint_id = to_storage_safe_id(c["checkpoint_id"])
        parent = parent_id(target)
        client = saver._redis
        key = f"{saver._checkpoint_prefix}:{tid}:{ns}:{checkpoint_id}"
        children = _rows(saver, c["thread_id"], "@checkpoint_ns", "@__key",
                         where=f"@parent_checkpoint_id:{{{_escape(checkpoint_id)}}}")  # fmt: skip
        for child in children:
            if child["checkpoint_ns"] == ns:
                client.json().set(child["__key"], "$.parent_checkpoint_id", parent or "")
        latest = f"{saver._checkpoint_prefix}_latest:{tid}:{ns}"
        if _text(client.get(latest) or b"") == key:
            if parent:
                client.set(latest, f"{saver._checkpoint_prefix}:{tid}:{ns}:{parent}")
            else:
                client.delete(latest)
        _delete(saver, c["thread_id"], {(ns, checkpoint_id): key})


BACKEND = RedisBackend()
