"""MongoDB. A namespace is a pair of collections; TTL is native, per document.

There is no async MongoDB saver: MongoDBSaver's async methods run pymongo in a thread.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import urlsplit

from langgraph.checkpoint.base import CheckpointTuple
from langgraph.checkpoint.mongodb import MongoDBSaver
from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

from ..chains import Key
from ..settings import DEFAULT_NAMESPACE, CheckpointError, Settings
from ..store import Stats, Thread, parent_id
from .base import Backend, BackendThreadOps, Saver, server_error


class StringVersionMongoDBSaver(BackendThreadOps, MongoDBSaver):
    """MongoDBSaver with the string channel versions every other saver writes, and with
    copy_thread, prune and delete_for_runs (see ../threadops.py).

    MongoDBSaver counts versions with plain integers; a thread moved here from another
    backend (or from here to another) would then mix the two kinds, which LangGraph's
    version comparisons cannot order.
    """

    @classmethod
    def _lg_backend(cls) -> Backend:
        return BACKEND

    def _lg_runs(self, run_ids: Sequence[str]) -> dict[str, set[Key]]:
        """Each checkpoint's run id, read alone and compared here: the saver's metadata filter
        matches the stored (type, bytes) pair, which MongoDB-compatible servers may not."""
        wanted = set(map(str, run_ids))
        found: dict[str, set[Key]] = {}
        fields = {"thread_id": 1, "checkpoint_ns": 1, "checkpoint_id": 1, "metadata": 1}
        for doc in self.checkpoint_collection.find({"metadata.run_id": {"$exists": True}}, fields):
            stored = (doc.get("metadata") or {}).get("run_id")
            if not stored:
                continue
            if str(self.serde.loads_typed((stored[0], bytes(stored[1])))) in wanted:
                key = (doc["checkpoint_ns"], doc["checkpoint_id"])
                found.setdefault(doc["thread_id"], set()).add(key)
        return found

    def get_next_version(self, current: str | int | None, channel: None) -> str:
        counter = 0 if current is None else int(str(current).split(".")[0])
        return f"{counter + 1:032}.{random.random():016}"


def collection_names(settings: Settings) -> tuple[str, str]:
    """(checkpoints, writes) collection names for the namespace."""
    if settings.namespace == DEFAULT_NAMESPACE:
        return "checkpoints", "checkpoint_writes"
    return f"checkpoints_{settings.namespace}", f"checkpoint_writes_{settings.namespace}"


class MongoDBBackend(Backend):
    name = "mongodb"

    def describe_error(self, exc: BaseException) -> str | None:
        return server_error(exc, "pymongo")

    @contextmanager
    def open_saver(self, settings: Settings) -> Iterator[MongoDBSaver]:
        client: MongoClient[dict[str, object]] = MongoClient(
            settings.connection_string,
            serverSelectionTimeoutMS=int(settings.connect_timeout * 1000),
        )
        try:
            checkpoints, writes = collection_names(settings)
            try:
                # Creates the indexes (and the TTL index) on first use.
                saver = StringVersionMongoDBSaver(
                    client,
                    db_name=settings.mongodb_db,
                    checkpoint_collection_name=checkpoints,
                    writes_collection_name=writes,
                    ttl=settings.ttl or None,
                )
            except OperationFailure as exc:
                if exc.code != 18:  # AuthenticationFailed
                    raise
                user = urlsplit(settings.connection_string).username or "?"
                raise CheckpointError(
                    f"authentication failed for user {user} at {settings.redacted}: "
                    "check the user and password in MONGODB_URL"
                ) from None
            except PyMongoError as exc:
                raise CheckpointError(
                    f"connection failed: MongoDB at {settings.redacted} did not answer "
                    f"({type(exc).__name__}); is the server running? is MONGODB_URL right?"
                ) from None
            yield saver
        finally:
            client.close()

    @asynccontextmanager
    async def aopen_saver(self, settings: Settings) -> AsyncIterator[MongoDBSaver]:
        with self.open_saver(settings) as saver:
            yield saver

    def threads(self, saver: Saver, limit: int | None) -> list[Thread]:
        assert isinstance(saver, MongoDBSaver)
        pipeline: list[dict[str, Any]] = [
            {
                "$group": {
                    "_id": "$thread_id",
                    "n": {"$sum": 1},
                    "latest": {"$max": "$checkpoint_id"},
                }
            },
            {"$sort": {"latest": -1}},
        ]
        if limit is not None:
            pipeline.append({"$limit": limit})
        return [
            Thread(d["_id"], d["n"], d["latest"])
            for d in saver.checkpoint_collection.aggregate(pipeline)
        ]

    def delete_checkpoint(self, saver: Saver, target: CheckpointTuple) -> None:
        assert isinstance(saver, MongoDBSaver)
        c = target.config["configurable"]
        key = {"thread_id": c["thread_id"], "checkpoint_ns": c["checkpoint_ns"]}
        parent = parent_id(target)
        saver.checkpoint_collection.update_many(
            {**key, "parent_checkpoint_id": c["checkpoint_id"]},
            {"$set": {"parent_checkpoint_id": parent}},
        )
        for collection in (saver.checkpoint_collection, saver.writes_collection):
            collection.delete_many({**key, "checkpoint_id": c["checkpoint_id"]})

    def stats(self, saver: Saver, settings: Settings) -> Stats:
        assert isinstance(saver, MongoDBSaver)
        checkpoints = saver.checkpoint_collection
        threads = len(checkpoints.distinct("thread_id"))
        size: int | None = 0
        for collection in (checkpoints, saver.writes_collection):
            try:
                size = (size or 0) + int(saver.db.command("collStats", collection.name)["size"])
            except (PyMongoError, KeyError):  # some MongoDB-compatible servers lack collStats
                size = None
                break
        return Stats(threads, checkpoints.count_documents({}), size)


BACKEND = MongoDBBackend()
