"""MongoDB. A namespace is a pair of collections; TTL is native, per document.

There is no async MongoDB saver: MongoDBSaver's async methods run pymongo in a thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from langgraph.checkpoint.mongodb import MongoDBSaver
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from ..settings import DEFAULT_NAMESPACE, CheckpointError, Settings

CONNECT_TIMEOUT_MS = 10_000


def collection_names(settings: Settings) -> tuple[str, str]:
    """(checkpoints, writes) collection names for the namespace."""
    if settings.namespace == DEFAULT_NAMESPACE:
        return "checkpoints", "checkpoint_writes"
    return f"checkpoints_{settings.namespace}", f"checkpoint_writes_{settings.namespace}"


@contextmanager
def open_saver(settings: Settings) -> Iterator[MongoDBSaver]:
    client: MongoClient[dict[str, object]] = MongoClient(
        settings.connection_string, serverSelectionTimeoutMS=CONNECT_TIMEOUT_MS
    )
    try:
        checkpoints, writes = collection_names(settings)
        try:
            # Creates the indexes (and the TTL index) on first use.
            saver = MongoDBSaver(
                client,
                db_name=settings.mongodb_db,
                checkpoint_collection_name=checkpoints,
                writes_collection_name=writes,
                ttl=settings.ttl or None,
            )
        except PyMongoError as exc:
            raise CheckpointError(
                f"connection failed: MongoDB at {settings.redacted} did not answer "
                f"({type(exc).__name__}); is the server running? is MONGODB_URL right?"
            ) from None
        yield saver
    finally:
        client.close()


@asynccontextmanager
async def aopen_saver(settings: Settings) -> AsyncIterator[MongoDBSaver]:
    with open_saver(settings) as saver:
        yield saver
