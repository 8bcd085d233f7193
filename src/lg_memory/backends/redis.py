"""Redis with RediSearch and RedisJSON. A namespace is a key prefix (and its own indexes)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager, contextmanager
from typing import Any

from langgraph.checkpoint.base import CheckpointTuple, PendingWrite
from langgraph.checkpoint.redis import AsyncRedisSaver, RedisSaver
from langgraph.checkpoint.redis.base import BaseRedisSaver
from langgraph.checkpoint.redis.util import (
    from_storage_safe_id,
    from_storage_safe_str,
    to_storage_safe_id,
    to_storage_safe_str,
)
from redis.exceptions import ConnectionError, ResponseError
from redisvl.exceptions import RedisSearchError
from redisvl.utils.token_escaper import TokenEscaper

from ..settings import DEFAULT_NAMESPACE, CheckpointError, Settings
from ..store import Stats, Thread, checkpoint_config, parent_id
from .base import Backend, Saver, server_error

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
    if isinstance(exc, ResponseError) or "unknown command" in str(exc).lower():
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


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


_LIST_LIMIT = 10_000  # what RedisSaver.list() returns at most


def _writes(saver: RedisSaver, query: str) -> dict[tuple[str, str], list[PendingWrite]]:
    """The pending writes of a thread, by (checkpoint_ns, checkpoint_id), decoded as the saver
    decodes them."""
    rows = _aggregate(
        saver, query,
        "LOAD", 9, "@checkpoint_ns", "@checkpoint_id", "@task_id", "@idx", "@channel", "@type",
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


class RedisBackend(Backend):
    name = "redis"

    def describe_error(self, exc: BaseException) -> str | None:
        return server_error(exc, "redis", "redisvl")

    @contextmanager
    def open_saver(self, settings: Settings) -> Iterator[RedisSaver]:
        with ExitStack() as stack:
            try:
                saver = stack.enter_context(
                    RedisSaver.from_conn_string(
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
                    AsyncRedisSaver.from_conn_string(
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
            query = f"@thread_id:{{{_escape(to_storage_safe_id(tid))}}}"
            keys = sorted(
                (
                    from_storage_safe_str(r["checkpoint_ns"]),
                    from_storage_safe_id(r["checkpoint_id"]),
                )
                for r in _aggregate(saver, query, "LOAD", 2, "@checkpoint_ns", "@checkpoint_id")
            )
            if len(keys) < _LIST_LIMIT:
                listed = {
                    (t.config["configurable"]["checkpoint_ns"], t.checkpoint["id"]): t
                    for t in saver.list({"configurable": {"thread_id": tid}}, limit=_LIST_LIMIT)
                }
                found = [listed.get(key) for key in keys]
            else:
                found = [saver.get_tuple(checkpoint_config(tid, *key)) for key in keys]
            writes = _writes(saver, query)
            for key, tup in zip(keys, found, strict=True):
                if tup is not None:
                    yield tup._replace(pending_writes=writes.get(key, []))

    def keep_last(self, saver: Saver, thread_id: str, keep: int) -> None:
        assert isinstance(saver, RedisSaver)
        saver.prune([thread_id], keep_last=keep, max_results=1_000_000)

    def delete_checkpoint(self, saver: Saver, target: CheckpointTuple) -> None:
        assert isinstance(saver, RedisSaver)
        c = target.config["configurable"]
        tid, ns = to_storage_safe_id(c["thread_id"]), to_storage_safe_str(c["checkpoint_ns"])
        checkpoint_id = to_storage_safe_id(c["checkpoint_id"])
        parent = parent_id(target)
        client = saver._redis
        key = f"{saver._checkpoint_prefix}:{tid}:{ns}:{checkpoint_id}"
        children = _aggregate(
            saver,
            f"@thread_id:{{{_escape(tid)}}} @parent_checkpoint_id:{{{_escape(checkpoint_id)}}}",
            "LOAD", 1, "@__key",
        )  # fmt: skip
        for child in children:
            client.json().set(child["__key"], "$.parent_checkpoint_id", parent or "")
        latest = f"{saver._checkpoint_prefix}_latest:{tid}:{ns}"
        if _text(client.get(latest) or b"") == key:
            if parent:
                client.set(latest, f"{saver._checkpoint_prefix}:{tid}:{ns}:{parent}")
            else:
                client.delete(latest)
        registry = f"write_keys_zset:{tid}:{ns}:{checkpoint_id}"
        writes = list(
            client.scan_iter(
                match=f"{saver._checkpoint_write_prefix}:{tid}:{ns}:{checkpoint_id}:*", count=1000
            )
        )
        client.delete(key, registry, *writes)


BACKEND = RedisBackend()
