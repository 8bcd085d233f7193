"""The backend catalogue: every per-backend fact, in one place.

Read by the `lg-memory` package and, through `extensions/backends.py`, by the Copier template
(which loads this file by its path: it imports nothing but the standard library).
"""

from __future__ import annotations

import re
from typing import Any

LANGGRAPH = "langgraph>=1.2.22,<1.3"
CHECKPOINT = "langgraph-checkpoint>=4.3.2,<5"  # 4.3.2 carries the serializer CVE fixes

# label, env var holding the connection string, its default, accepted URL schemes
# (None: a filesystem path), the packages, the seed's pros and cons, the compose image.
BACKENDS: dict[str, dict[str, Any]] = {
    "memory": {
        "label": "In-memory",
        "env": None,
        "default": "",
        "schemes": None,
        "packages": [],
        "pros": ["Fast", "No setup required", "Good for testing"],
        "cons": ["Lost on restart", "Not suitable for production", "Limited to single process"],
    },
    "sqlite": {
        "label": "SQLite",
        "env": "CHECKPOINT_DB_PATH",
        "default": "checkpoints.db",
        "schemes": None,
        "packages": ["langgraph-checkpoint-sqlite>=3.1.2,<4", "aiosqlite>=0.21"],
        "drivers": ["langgraph.checkpoint.sqlite", "aiosqlite"],
        "pros": [
            "Persistent across restarts",
            "No external dependencies",
            "Good for single-server deployments",
        ],
        "cons": [
            "Not suitable for distributed systems",
            "File locking issues with high concurrency (one writer at a time)",
            "Limited scalability",
        ],
    },
    "postgres": {
        "label": "PostgreSQL",
        "env": "POSTGRES_URL",
        "default": "postgresql://postgres:postgres@localhost:5432/langgraph",
        "schemes": ["postgresql", "postgres"],
        "packages": ["langgraph-checkpoint-postgres>=3.2.0,<4", "psycopg[binary,pool]>=3.2"],
        "drivers": ["langgraph.checkpoint.postgres", "psycopg", "psycopg_pool"],
        "image": "postgres:17",
        "pros": [
            "Production-ready",
            "ACID guarantees",
            "Good for distributed systems",
            "Rich querying capabilities",
        ],
        "cons": ["External dependency", "More setup required", "Higher resource usage"],
    },
    "redis": {
        "label": "Redis",
        "env": "REDIS_URL",
        "default": "redis://localhost:6379",
        "schemes": ["redis", "rediss"],
        "packages": ["langgraph-checkpoint-redis>=0.5.2,<0.6", "redis>=5.2"],
        "drivers": ["langgraph.checkpoint.redis", "redis", "redisvl"],
        "ttl_env": "REDIS_TTL",
        "image": "redis/redis-stack-server:7.4.0-v3",
        "pros": [
            "Very fast",
            "Good for distributed systems",
            "Built-in TTL support",
            "Pub/sub capabilities",
        ],
        "cons": [
            "Higher cost",
            "Data loss risk without persistence",
            "Memory constraints",
            "Needs the RediSearch and RedisJSON modules (Redis Stack or Redis 8)",
        ],
    },
    "mongodb": {
        "label": "MongoDB",
        "env": "MONGODB_URL",
        "default": "mongodb://localhost:27017",
        "schemes": ["mongodb", "mongodb+srv"],
        "packages": ["langgraph-checkpoint-mongodb>=0.5.1,<0.6", "pymongo>=4.10"],
        "drivers": ["langgraph.checkpoint.mongodb", "pymongo"],
        "image": "mongo:8",
        "pros": [
            "Flexible schema",
            "Good for complex state",
            "Cloud-native (Atlas)",
            "Good scalability",
        ],
        "cons": [
            "External dependency",
            "Learning curve",
            "Eventual consistency",
            "TTL is per document: a thread can be partly expired",
        ],
    },
    "custom": {
        "label": "Custom (file store)",
        "env": "CUSTOM_STORE_PATH",
        "default": "checkpoint-store",
        "schemes": None,
        "packages": [],
        "pros": [
            "A complete saver you own and adapt to any store",
            "No external dependencies in its file-based form",
        ],
        "cons": [
            "You maintain it",
            "The file-based form suits a single machine",
        ],
    },
}

# The seed's presets: a preset fixes these answers; the questions are then not asked.
PRESETS: dict[str, dict[str, Any]] = {
    "sqlite-persistent": {"type": "sqlite", "connection_string": "checkpoints.db"},
    "postgres-production": {"type": "postgres", "async": True},
    "redis-distributed": {"type": "redis", "ttl": 86400},
    "mongodb-cloud": {"type": "mongodb", "async": True},
}
PRESET_DEFAULTS: dict[str, Any] = {"type": "sqlite", "async": False, "ttl": 0}

NAMESPACE_RE = re.compile(r"[a-z][a-z0-9_]{0,47}")


def preset_value(preset: str, key: str) -> Any:
    """The answer a preset implies for ``key`` (``none``: the flag's own default)."""
    value = PRESETS.get(preset, {}).get(key, PRESET_DEFAULTS.get(key))
    if key == "connection_string" and value is None:
        return BACKENDS[preset_value(preset, "type")]["default"]
    return value


def package_name(project_name: str) -> str:
    """``My Agent-2`` -> ``my_agent_2``: a valid Python package name."""
    name = re.sub(r"[^0-9a-zA-Z]+", "_", project_name).strip("_").lower()
    return f"agent_{name}" if name[:1].isdigit() else name


def dist_name(project_name: str) -> str:
    """`My Agent` -> `my-agent`: a valid distribution name for pyproject.toml."""
    return package_name(project_name).replace("_", "-")


def connection_error(type_: str, value: str) -> str:
    """Copier validator text for a connection string, or ``""`` when it is fine."""
    backend = BACKENDS[type_]
    value = value.strip()
    if type_ == "memory":
        return ""
    if not value:
        return f"{backend['label']} needs a connection string, e.g. {backend['default']}"
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    schemes = backend["schemes"]
    if schemes is None:
        if scheme:
            return (
                f"{backend['label']} takes a file path (e.g. {backend['default']}), "
                f"not a {scheme}:// URL"
            )
        return ""
    if scheme not in schemes:
        expected = " or ".join(f"{s}://" for s in schemes)
        # Never the value itself: it may hold a password.
        got = f"{scheme}://" if scheme else "a string without a scheme"
        return f"{backend['label']} needs a {expected} URL (e.g. {backend['default']}), got {got}"
    return ""


def namespace_error(value: str) -> str:
    if NAMESPACE_RE.fullmatch(value) and not value.startswith("pg_") and value != "public":
        return ""
    return (
        f"namespace {value!r} cannot name a schema, key prefix or collection: use 1-48 "
        "lowercase letters, digits or _, starting with a letter (not public or pg_*)"
    )


def ttl_error(value: Any) -> str:
    text = str(value).strip()
    if not re.fullmatch(r"\d+", text):
        return f"ttl must be a whole number of seconds, 0 or more (0 = no expiry), got {text!r}"
    return ""


def env_values(type_: str, connection_string: str, ttl: Any) -> dict[str, str]:
    """The `.env` variables of a project on `type_` (the connection string among them)."""
    values: dict[str, str] = {}
    if env := BACKENDS[type_]["env"]:
        values[env] = connection_string
    if type_ == "redis":
        values["REDIS_TTL"] = str(int(ttl or 0))
    elif type_ == "mongodb":
        values["MONGODB_DB"] = "langgraph"
    return values


def env_example(type_: str, ttl: Any, namespace: str) -> list[str]:
    """The `.env.example` lines of a project on `type_` (defaults; commented: optional)."""
    if type_ == "memory":
        lines = ["# In-memory checkpointer: nothing to configure."]
    else:
        lines = [f"{k}={v}" for k, v in env_values(type_, BACKENDS[type_]["default"], ttl).items()]
    if type_ not in ("redis", "memory"):
        lines.append(f"# CHECKPOINT_TTL={int(ttl or 0)}")
    return [*lines, f"# CHECKPOINT_NAMESPACE={namespace}"]


def server_checkpointer(module: str, type_: str, ttl: Any) -> dict[str, Any] | None:
    """`checkpointer` of langgraph.json: the Agent Server opens the project's own (None for
    the in-memory type: the server keeps threads itself)."""
    if type_ == "memory":
        return None
    block: dict[str, Any] = {"path": f"{module}.aopen_checkpointer"}
    if int(ttl or 0):  # the server's sweep deletes threads idle longer (minutes)
        minutes = -(-int(ttl) // 60)
        block["ttl"] = {"strategy": "delete", "sweep_interval_minutes": 60, "default_ttl": minutes}
    return block
