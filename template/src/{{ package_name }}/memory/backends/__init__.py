"""One module per backend, each with the same small interface:

- `open_saver(settings)`: a context manager yielding a ready sync saver (storage set up);
- `aopen_saver(settings)`: the same for async code.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ..settings import CheckpointError

# The Python distribution each backend needs, for the "not installed" message.
_EXTRAS = {"sqlite": "sqlite", "postgres": "postgres", "redis": "redis", "mongodb": "mongodb"}


def load(type: str) -> ModuleType:
    """The backend module for `type`, or a clear error when its packages are missing."""
    try:
        return importlib.import_module(f".{type}", __name__)
    except ModuleNotFoundError as exc:
        if type not in _EXTRAS or not (exc.name or "").startswith(
            ("langgraph", "psycopg", "redis", "pymongo", "aiosqlite")
        ):
            raise
        raise CheckpointError(
            f"{type} support is not installed ({exc.name} is missing): "
            f"pip install -e '.[{_EXTRAS[type]}]' (or uv sync --extra {_EXTRAS[type]})"
        ) from None
