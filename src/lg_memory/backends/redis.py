"""Redis with RediSearch and RedisJSON. A namespace is a key prefix (and its own indexes)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import urlsplit

from langgraph.checkpoint.base import CheckpointTuple, PendingWrite
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

    def keep_last(self, saver: Saver, thread_id: str, keep: int) -> None:
        """Not the saver's `prune`: its thread query may find other threads' checkpoints (see
        `_thread_query`), which then take the place of this thread's newest ones."""
        assert isinstance(saver, RedisSaver)
        fields = ("@checkpoint_ns", "@checkpoint_id", "@parent_checkpoint_id", "@__key")
        chains: dict[str, list[dict[str, str]]] = {}
        for row in _rows(saver, thread_id, *fields):
            chains.setdefault(row["checkpoint_ns"], []).append(row)
        doomed: dict[tuple[str, str], str] = {}
        kept: list[dict[str, str]] = []
        for chain in chains.values():
            chain.sort(key=lambda row: row["checkpoint_id"], reverse=True)
            kept += chain[:keep]
            doomed.update(
                ((r["checkpoint_ns"], r["checkpoint_id"]), r["__key"]) for r in chain[keep:]
            )
        client: Any = saver._redis
        for row in kept:  # the oldest kept ones are roots now
            if (row["checkpoint_ns"], row["parent_checkpoint_id"]) in doomed:
                client.json().set(row["__key"], "$.parent_checkpoint_id", "")
        _delete(saver, thread_id, doomed)

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
