"""Redis with RediSearch and RedisJSON. A namespace is a key prefix (and its own indexes)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from langgraph.checkpoint.redis import AsyncRedisSaver, RedisSaver
from redis.exceptions import ConnectionError, ResponseError

from ..settings import DEFAULT_NAMESPACE, CheckpointError, Settings


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
    if isinstance(exc, ResponseError):
        return CheckpointError(
            f"Redis at {settings.redacted} lacks RediSearch/RedisJSON ({exc}): "
            "use Redis Stack or Redis 8 with its modules"
        )
    return CheckpointError(
        f"connection failed: no Redis answered at {settings.redacted} "
        "(is the server running? is REDIS_URL right?)"
    )


@contextmanager
def open_saver(settings: Settings) -> Iterator[RedisSaver]:
    with RedisSaver.from_conn_string(settings.connection_string, **saver_kwargs(settings)) as saver:
        try:
            saver.setup()
        except (ConnectionError, ResponseError) as exc:
            raise _setup_failed(settings, exc) from None
        yield saver


@asynccontextmanager
async def aopen_saver(settings: Settings) -> AsyncIterator[AsyncRedisSaver]:
    async with AsyncRedisSaver.from_conn_string(
        settings.connection_string, **saver_kwargs(settings)
    ) as saver:
        try:
            await saver.asetup()
        except (ConnectionError, ResponseError) as exc:
            raise _setup_failed(settings, exc) from None
        yield saver
