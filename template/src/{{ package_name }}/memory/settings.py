"""Where the checkpointer lives: the template's answers, overridden by the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from dotenv import load_dotenv

from . import catalog

DEFAULT_NAMESPACE = "default"


class CheckpointError(Exception):
    """A problem the user can fix; the CLI prints it as one line."""


@dataclass(frozen=True)
class Settings:
    type: str
    connection_string: str
    async_: bool = catalog.ASYNC
    namespace: str = catalog.NAMESPACE
    ttl: int = catalog.TTL  # seconds, 0 = keep forever
    mongodb_db: str = "langgraph"
    connect_timeout: float = 10.0  # seconds to wait for a server before giving up

    @property
    def label(self) -> str:
        return catalog.BACKENDS[self.type]["label"]

    @property
    def redacted(self) -> str:
        """The connection string without its password: safe to print or log."""
        return redact(self.connection_string)


def load_settings(
    type: str | None = None,
    connection_string: str | None = None,
    namespace: str | None = None,
    *,
    env_file: str | os.PathLike[str] = ".env",
) -> Settings:
    """Settings from the arguments, else the environment (and `.env`), else the answers."""
    load_dotenv(env_file, override=False)
    type = type or catalog.TYPE
    if type not in catalog.BACKENDS:
        choices = ", ".join(catalog.BACKENDS)
        raise CheckpointError(f"unknown memory type {type!r}: choose one of {choices}")
    backend = catalog.BACKENDS[type]
    env = backend["env"]
    if connection_string is None:
        connection_string = (os.environ.get(env) if env else None) or backend["default"]
    ttl_text = os.environ.get("REDIS_TTL" if type == "redis" else "CHECKPOINT_TTL")
    try:
        ttl = int(ttl_text) if ttl_text else catalog.TTL
    except ValueError:
        raise CheckpointError(f"TTL must be whole seconds, got {ttl_text!r}") from None
    return Settings(
        type=type,
        connection_string=connection_string,
        namespace=namespace or os.environ.get("CHECKPOINT_NAMESPACE") or catalog.NAMESPACE,
        ttl=ttl,
        mongodb_db=os.environ.get("MONGODB_DB", "langgraph"),
        connect_timeout=float(os.environ.get("CHECKPOINT_CONNECT_TIMEOUT", "10")),
    )


def redact(url: str) -> str:
    """`postgresql://me:secret@host/db` -> `postgresql://me:***@host/db`."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))
